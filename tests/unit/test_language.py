"""visit:language: the browser's preferred language, reduced to its primary subtag at the
collector, stored per event, never part of the visitor hash, and read as NULL from files
written before the column existed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from beaconlake import schema, wiring
from beaconlake.adapters.duckdb_engine import events_view_sql
from beaconlake.adapters.parquet_sink import events_to_table, write_parquet_atomically
from beaconlake.ingest.http import request_meta
from beaconlake.ingest.service import CollectPolicy, collect
from beaconlake.keys import create_key
from beaconlake.model import RequestMeta
from beaconlake.ports import Rollup
from beaconlake.stats.query import DateRange, StatsQuery
from beaconlake.stats.sql import build
from functions.collect.app import handler as collector
from functions.stats.app import handler as stats
from tests.apigw import Context, http_event
from tests.conftest import CHROME_UA


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("de-CH,de;q=0.9", "de"),
        ("en-US,en;q=0.9,fr;q=0.8", "en"),
        ("fr;q=0.5, es;q=0.8", "es"),
        ("ZH-Hant-TW", "zh"),
        ("*, pt-BR;q=0.3", "pt"),
        ("", None),
        ("*", None),
        ("de;q=0", None),
        ("x-klingon", None),
        ("123, !!", None),
        ("de;q=abc", None),
        ("de-" + "x" * 5000, "de"),
    ],
)
def test_the_header_is_reduced_to_the_primary_subtag(header: str, language: str | None) -> None:
    assert schema.header_columns({"accept-language": header}) == {"language": language}


def test_the_collector_keeps_only_the_primary_subtag_and_not_in_the_hash() -> None:
    policy = CollectPolicy(sites=frozenset({"example.com"}))
    beacon = {"n": "pageview", "u": "https://example.com/", "d": "example.com"}
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    rows = []
    for header in ("de-CH,de;q=0.9", "en-GB"):
        headers = {"user-agent": CHROME_UA, "accept-language": header, "cookie": "a=b"}
        meta = request_meta(headers, "192.0.2.7")
        assert meta.headers == {"accept-language": header}  # no other header is kept
        (row,) = collect(beacon, meta, policy, lambda day: b"salt", now).events
        rows.append(row)
        assert "de-CH" not in json.dumps(row.as_json_record(), default=str)
    assert [r.language for r in rows] == ["de", "en"]
    assert rows[0].visitor_id == rows[1].visitor_id  # the language is not in the hash
    plain = collect(beacon, RequestMeta("192.0.2.7", CHROME_UA), policy, lambda d: b"s", now)
    assert plain.events[0].language is None


def _send(language: str | None, path: str) -> None:
    headers = {"user-agent": CHROME_UA, "content-type": "text/plain"}
    if language is not None:
        headers["accept-language"] = language
    body = json.dumps({"n": "pageview", "u": f"https://example.com{path}", "d": "example.com"})
    source_ip = f"192.0.2.{len(path)}"
    event = http_event("POST", "/api/event", body=body, headers=headers, source_ip=source_ip)
    res = collector(event, Context())
    assert res["statusCode"] == 202, res


def _query(body: dict) -> dict:
    token, _ = create_key(wiring.ports().keys, ("example.com",))
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    request = {"site_id": "example.com", "date_range": "day", **body}
    event = http_event("POST", "/api/v2/query", body=json.dumps(request), headers=headers)
    res = stats(event, Context())
    assert res["statusCode"] == 200, res
    return {tuple(r["dimensions"]): r["metrics"] for r in json.loads(res["body"])["results"]}


def test_visitors_by_language_through_the_api(local_env) -> None:
    for language, path in (("de-CH,de", "/"), ("de-AT", "/a"), ("fr-FR", "/bb"), (None, "/ccc")):
        _send(language, path)
    wiring.ports().sink.flush()
    by_language = _query({"metrics": ["visitors", "pageviews"], "dimensions": ["visit:language"]})
    assert by_language == {("de",): [2, 2], ("fr",): [1, 1], (None,): [1, 1]}
    german = _query({"metrics": ["visitors"], "filters": [["is", "visit:language", ["de"]]]})
    assert german == {(): [2]}


def test_a_per_event_dimension_is_never_read_from_a_rollup() -> None:
    days = DateRange(date(2026, 1, 1), date(2026, 1, 31))
    q = StatsQuery("example.com", days, ("visitors",), dimensions=("visit:language",))
    sql = build(q, rollup=Rollup(days.first, days.last)).sql
    assert "session_rollup" not in sql and "page_rollup" not in sql


def _old_file(events_dir: Path, day: date) -> None:
    """A Parquet file written before the language column was added."""
    nothing = ("referrer_source", "referrer", "utm_source", "utm_medium", "utm_campaign")
    nothing += ("utm_content", "utm_term", "browser", "browser_version", "os", "os_version")
    event = schema.Event(
        ts=datetime(day.year, day.month, day.day, 0, 0, 1),
        name="pageview",
        hostname="example.com",
        pathname="/old",
        visitor_id=1,
        device="desktop",
        country=None,
        **dict.fromkeys(nothing),
    )
    table = events_to_table([event]).drop_columns(["language"])
    directory = events_dir / "site_id=example.com" / f"dt={day.isoformat()}"
    write_parquet_atomically(table, directory, "part-0-old.parquet")


def test_files_without_the_column_read_as_null(tmp_path: Path) -> None:
    events_dir = tmp_path / "events"
    _old_file(events_dir, date(2026, 1, 2))
    con = duckdb.connect()
    con.execute(events_view_sql(events_dir))
    assert con.execute("SELECT pathname, language FROM events").fetchall() == [("/old", None)]


def test_old_and_new_files_side_by_side_through_the_api(local_env) -> None:
    _old_file(local_env / "events", datetime.now(UTC).date())
    _send("de-CH", "/")
    wiring.ports().sink.flush()
    by_language = _query({"metrics": ["pageviews"], "dimensions": ["visit:language"]})
    assert by_language == {("de",): [1], (None,): [1]}
