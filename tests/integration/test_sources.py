"""Sources: one row per source whatever the case of its spelling, "Direct / None" for direct
visits in v1 and v2, and filterable. The source table (data/referrer_sources.json) names
them at ingest for new events and at query time for stored ones, from one record, and the
query-time SQL is Athena's."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from beaconlake import wiring
from beaconlake.ingest.referrer import DIRECT, canonical_source, referrer_source
from beaconlake.ingest.service import collect
from beaconlake.model import RequestMeta
from beaconlake.sqldialect import athena_to_duckdb
from beaconlake.stats import legacy, service
from beaconlake.stats.channels import channel_of, source_of, source_sql
from beaconlake.stats.query_parser import parse_query
from beaconlake.stats.query_runner import parse_include, run_query
from tests.conftest import CHROME_UA, IPHONE_UA
from tests.integration.conftest import day_salt
from tests.reference import Hit, metrics, sessions, visit_source
from tests.support.athena_rules import athena_violations

DAY0 = datetime(2026, 3, 9, 8, tzinfo=UTC)
ALL = ["2026-03-09", "2026-03-20"]
# (referrer, utm_source, stored as written before the collector named sources, the source)
VISITS = [
    (None, "google", False, "Google"),
    (None, "GOOGLE", False, "Google"),
    ("https://www.google.de/search?q=x", None, False, "Google"),
    (None, "google.com", False, "Google"),
    (None, "google", True, "Google"),  # an old row: "google" in storage
    (None, "fb", False, "Facebook"),
    ("https://l.facebook.com/", None, False, "Facebook"),
    (None, "FaceBook", True, "Facebook"),
    (None, "hackernews", False, "Hacker News"),
    (None, "Newsletter", False, "Newsletter"),  # not in the table: kept as written
    ("https://other.org/a", None, False, "other.org"),
    (None, None, False, None),
    (None, None, False, None),
    ("https://example.com/internal", None, False, None),
]
SPELLINGS = [None, "", "google", "GOOGLE", "Google", "google.co.uk", "fb", "Yahoo!", "yahoo"]
SPELLINGS += ["yahoomail", "mail.yahoo.com", "Newsletter", "other.org", "O'Brien", DIRECT]


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("google", "Google"),
        ("GOOGLE", "Google"),
        ("Google", "Google"),
        ("google.com", "Google"),
        ("hackernews", "Hacker News"),
        ("Hacker News", "Hacker News"),
        ("fb", "Facebook"),
        ("duckduckgo", "DuckDuckGo"),
        ("Newsletter", "Newsletter"),
        ("my-partner", "my-partner"),
    ],
)
def test_utm_source_is_folded_onto_the_table_s_names(value, name) -> None:
    assert canonical_source(value) == name
    assert referrer_source(None, "example.com", {"utm_source": value}) == name


def test_the_query_time_sql_agrees_with_python_and_is_athena_sql() -> None:
    sql = f"SELECT {source_sql('s')} AS source FROM (VALUES ('x')) AS t (s)"
    assert athena_violations([sql]) == []
    rows = ", ".join("(CAST(? AS varchar))" for _ in SPELLINGS)
    local = athena_to_duckdb(f"SELECT {source_sql('s')} AS source FROM (VALUES {rows}) AS t (s)")
    got = [r[0] for r in duckdb.connect().execute(local, SPELLINGS).fetchall()]
    assert got == [source_of(s) for s in SPELLINGS]
    assert got[:4] == [DIRECT, DIRECT, "Google", "Google"]


def test_direct_is_the_direct_channel() -> None:
    assert channel_of(DIRECT, None) == "Direct"
    assert channel_of(None, None) == "Direct"


@pytest.fixture
def sourced(engine_mode) -> list[Hit]:
    """Each visit of VISITS, twice (two devices), sent through the collector; the old rows
    are stored with their source as written."""
    p = wiring.ports()
    hits = []
    for i, (referrer, utm, old, source) in enumerate(VISITS * 2):
        at = DAY0 + timedelta(hours=i * 3)
        ua, device = (CHROME_UA, "desktop") if i < len(VISITS) else (IPHONE_UA, "mobile")
        meta = RequestMeta(ip=f"10.9.{i}.1", user_agent=ua)
        query = f"?utm_source={utm}" if utm else ""
        for n, path in enumerate(["/", "/pricing"]):
            data = {"n": "pageview", "u": f"https://example.com{path}{query if not n else ''}"}
            data["d"] = "example.com"
            if referrer and not n:
                data["r"] = referrer
            moment = at + timedelta(minutes=n)
            outcome = collect(data, meta, p.policy, day_salt, moment)
            assert outcome.dropped is None
            events = outcome.events
            if old and not n:
                events = [dataclasses.replace(e, referrer_source=utm) for e in events]
            p.sink.put(events)
            hits.append(Hit(i, moment, "pageview", path, source, device=device))
    p.sink.flush()
    return hits


def v2(body: dict) -> dict:
    q = parse_query({"site_id": "example.com", "date_range": ALL, **body}, {})
    return run_query(wiring.engine(), q, parse_include(None))


def test_one_row_per_source_and_direct_by_name_in_v2(sourced) -> None:
    wanted = ["visitors", "visits", "pageviews", "bounce_rate"]
    result = v2({"metrics": wanted, "dimensions": ["visit:source"]})
    got = {r["dimensions"][0]: r["metrics"] for r in result["results"]}
    names = {visit_source(s) for s in sessions(sourced)}
    expected = {
        n: [metrics(sourced, lambda h, s, n=n: visit_source(s) == n)[m] for m in wanted]
        for n in names
    }
    assert got == expected
    assert set(got) == {"Google", "Facebook", "Hacker News", "Newsletter", "other.org", DIRECT}
    assert got["Google"][0] == 10 and got[DIRECT][0] == 6


@pytest.mark.parametrize(
    ("flt", "keep"),
    [
        (["is", "visit:source", [DIRECT]], lambda n: n == DIRECT),
        (["is_not", "visit:source", [DIRECT]], lambda n: n != DIRECT),
        (["is", "visit:source", ["Google", DIRECT]], lambda n: n in ("Google", DIRECT)),
        (["contains", "visit:source", ["face"]], lambda n: n == "Facebook"),
    ],
)
def test_direct_and_named_sources_filter_in_v2(sourced, flt, keep) -> None:
    wanted = ["visitors", "pageviews"]
    result = v2({"metrics": wanted, "filters": [flt], "dimensions": ["visit:device"]})
    got = {r["dimensions"][0]: r["metrics"] for r in result["results"]}
    expected = {}
    for device in ("desktop", "mobile"):
        m = metrics(sourced, lambda h, s, d=device: h.device == d and keep(visit_source(s)))
        expected[device] = [m[w] for w in wanted]
    assert got == expected


def test_direct_is_named_and_filterable_in_v1(sourced) -> None:
    base = {"site_id": "example.com", "period": "custom", "start": ALL[0], "end": ALL[1]}
    r = legacy.V1Request(**base, metrics="visitors,visits", property="visit:source")
    rows = service.breakdown(wiring.engine(), legacy.translate(r, (), "breakdown"))
    by_source = {row["source"]: row["visitors"] for row in rows}
    assert by_source[DIRECT] == 6 and by_source["Google"] == 10 and None not in by_source
    r = legacy.V1Request(**base, metrics="visitors", filters=f"visit:source=={DIRECT}")
    got = service.aggregate(wiring.engine(), legacy.translate(r, (), "aggregate"))
    assert got["visitors"]["value"] == 6
    r = legacy.V1Request(**base, metrics="visitors", filters="visit:source==Google")
    got = service.aggregate(wiring.engine(), legacy.translate(r, (), "aggregate"))
    assert got["visitors"]["value"] == 10
