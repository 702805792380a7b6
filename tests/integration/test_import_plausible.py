"""`beaconlake import plausible`: an export in Plausible's published layout, imported, and
every merged number equal to the reference: native sums plus imported sums."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest

from beaconlake import cli, wiring
from beaconlake.stats.query_parser import parse_query
from beaconlake.stats.query_runner import parse_include, run_query
from tests.reference import (
    from_sums,
    imported_sums,
    in_days,
    raw_sums,
    sessions,
    visit_source,
)
from tests.support.plausible_export import csv_text, export_rows, write_export

FIRST, LAST = date(2026, 2, 20), date(2026, 3, 10)  # native days: 03-09 to 03-12
RANGE = ["2026-03-01", "2026-03-20"]
BASIC = ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration", "views_per_visit"]

pytestmark = pytest.mark.usefixtures("engine_mode")


@pytest.fixture
def imported(loaded, tmp_path: Path) -> tuple[list, dict[str, list[dict]]]:
    rows = export_rows(FIRST, LAST)
    export = write_export(tmp_path / "example_com_20260312.zip", rows, FIRST, LAST)
    assert cli.main(["import", "plausible", str(export), "--site", "example.com"]) == 0
    wiring.reset()
    return loaded, rows


def run(body: dict) -> dict:
    q = parse_query({"site_id": "example.com", "date_range": RANGE, **body}, {}, None)
    return run_query(wiring.engine(), q, parse_include(body.get("include")), None)


def answer(body: dict) -> dict[tuple, dict]:
    result = run(body)
    return {
        tuple(r["dimensions"]): dict(zip(body["metrics"], r["metrics"], strict=True))
        for r in result["results"]
    }


def in_range(rows: list[dict]) -> list[dict]:
    return [r for r in rows if RANGE[0] <= r["date"] <= RANGE[1]]


def by(rows: list[dict], column: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in in_range(rows):
        out[r[column] or "Direct / None"].append(r)
    return out


def native_hits(hits: list) -> list:
    return in_days(hits, "UTC", date.fromisoformat(RANGE[0]), date.fromisoformat(RANGE[1]))


def test_totals_add_imported_days(imported) -> None:
    hits, rows = imported
    result = run({"metrics": BASIC})
    assert result["meta"]["imported"] == {"included": True}
    (got,) = answer({"metrics": BASIC}).values()
    expected = from_sums(
        raw_sums(native_hits(hits)), imported_sums(in_range(rows["imported_visitors"]))
    )
    assert got == expected
    assert got["visitors"] > raw_sums(native_hits(hits))["visitors"]  # imported days count


def test_timeseries_per_day(imported) -> None:
    hits, rows = imported
    got = answer({"metrics": BASIC, "dimensions": ["time:day"]})
    native_by_day: dict[str, list] = defaultdict(list)
    for s_hit in native_hits(hits):
        native_by_day[s_hit.at.date().isoformat()].append(s_hit)
    days = {r["date"] for r in in_range(rows["imported_visitors"])} | set(native_by_day)
    expected = {
        (day,): from_sums(
            raw_sums(native_by_day.get(day, [])),
            imported_sums(r for r in rows["imported_visitors"] if r["date"] == day),
        )
        for day in days
    }
    assert got == expected
    native_only = [d for d in native_by_day if d > LAST.isoformat()]
    assert ("2026-03-01",) in got and native_only  # imported only, and native only
    assert all((d,) in got for d in native_only)


def test_sources(imported) -> None:
    hits, rows = imported
    got = answer({"metrics": BASIC, "dimensions": ["visit:source"]})
    native = native_hits(hits)
    sources = {visit_source(s) for s in sessions(native)}
    imported_by = by(rows["imported_sources"], "source")
    expected = {
        (src,): from_sums(
            raw_sums(native, lambda h, s, src=src: visit_source(s) == src),
            imported_sums(imported_by.get(src, [])),
        )
        for src in sources | set(imported_by)
    }
    assert got == expected


def test_pages(imported) -> None:
    hits, rows = imported
    metrics = ["visitors", "pageviews"]
    got = answer({"metrics": metrics, "dimensions": ["event:page"]})
    native = native_hits(hits)
    imported_by = by(rows["imported_pages"], "page")
    pages = {h.path for h in native} | set(imported_by)
    expected = {}
    for page in pages:
        sums = from_sums(
            raw_sums(native, lambda h, s, p=page: h.path == p),
            imported_sums(imported_by.get(page, [])),
        )
        expected[(page,)] = {m: sums[m] for m in metrics}
    got = {k: v for k, v in got.items() if k[0] in pages}
    assert got == expected


def test_countries_with_a_filter(imported) -> None:
    hits, rows = imported
    metrics = ["visitors", "visits", "bounce_rate", "visit_duration"]
    body = {
        "metrics": metrics,
        "dimensions": ["visit:country"],
        "filters": [["is_not", "visit:country", ["FR"]]],
    }
    got = answer(body)
    native = native_hits(hits)
    imported_by = by(rows["imported_locations"], "country")
    countries = ({h.country for h in native} | set(imported_by)) - {"FR"}
    expected = {}
    for country in countries:
        sums = from_sums(
            raw_sums(native, lambda h, s, c=country: h.country == c),
            imported_sums(imported_by.get(country, [])),
        )
        expected[(country,)] = {m: sums[m] for m in metrics}
    assert got == expected


def test_native_only_when_no_table_answers(imported) -> None:
    hits, _ = imported
    result = run({"metrics": ["visitors"], "dimensions": ["time:hour"]})
    assert result["meta"]["imported"]["included"] is False
    assert "time:hour" in result["meta"]["imported"]["reason"]
    total = sum(r["metrics"][0] for r in result["results"])
    native = native_hits(hits)
    by_hour = {(h.at.date(), h.at.hour) for h in native}
    assert total == sum(
        raw_sums([h for h in native if (h.at.date(), h.at.hour) == k])["visitors"] for k in by_hour
    )
    channel = run({"metrics": ["visitors"], "dimensions": ["visit:channel"]})
    assert channel["meta"]["imported"]["included"] is False
    assert "visit:channel" in channel["meta"]["imported"]["reason"]


def test_overlapping_import_is_refused(imported, tmp_path: Path, capsys) -> None:
    _, rows = imported
    again = write_export(tmp_path / "again.zip", rows, FIRST, LAST)
    assert cli.main(["import", "plausible", str(again), "--site", "example.com"]) == 2
    assert "overlap" in capsys.readouterr().out


def test_bad_exports_are_refused(local_env, tmp_path: Path, capsys) -> None:
    rows = export_rows(FIRST, FIRST)
    broken = tmp_path / "imported_visitors_20260220_20260220.csv"
    broken.write_text(
        csv_text("imported_visitors", rows["imported_visitors"]).replace("visits,", "v,")
    )
    assert cli.main(["import", "plausible", str(broken), "--site", "example.com"]) == 2
    assert "no column visits" in capsys.readouterr().out
    text = csv_text("imported_visitors", rows["imported_visitors"]).replace("2026-02-20", "20.2.26")
    broken.write_text(text)
    assert cli.main(["import", "plausible", str(broken), "--site", "example.com"]) == 2
    assert "line 2: date" in capsys.readouterr().out
    export = write_export(tmp_path / "x.zip", rows, FIRST, FIRST)
    assert cli.main(["import", "plausible", str(export), "--site", "nowhere.test"]) == 2
    assert not (local_env / "imported").exists()


MERGED_QUERIES = [
    {"metrics": BASIC},
    {"metrics": BASIC, "dimensions": ["time:week"]},
    {
        "metrics": ["visitors", "bounce_rate"],
        "dimensions": ["visit:source"],
        "order_by": [["visitors", "asc"]],
    },
    {
        "metrics": ["visitors", "pageviews"],
        "dimensions": ["event:page"],
        "filters": [["contains", "event:page", ["blog"]]],
    },
    {"metrics": ["visitors", "visits"], "dimensions": ["visit:country", "time:day"]},
    {"metrics": ["visitors", "events"], "dimensions": ["event:name"]},
]


def test_merged_statements_pass_athenas_rules(imported) -> None:
    """Each merged statement (native UNION ALL imported) parses with Trino's grammar, takes
    parameters only in WHERE, and answers with imported rows included."""
    from beaconlake.stats.query_runner import merged_statement
    from tests.support.athena_rules import athena_violations

    statements = []
    for body in MERGED_QUERIES:
        q = parse_query({"site_id": "example.com", "date_range": RANGE, **body}, {}, None)
        st, _, reason = merged_statement(wiring.engine(), q)
        assert reason is None
        assert "UNION ALL" in st.sql and st.sql.count("?") == len(st.params)
        statements.append(st.sql)
        assert run(body)["meta"]["imported"] == {"included": True}, body
    assert athena_violations(statements) == []


def test_erasure_removes_imported_days(imported, capsys) -> None:
    _, rows = imported
    args = ["erase", "--site", "example.com", "--from", "2026-02-20", "--to", "2026-03-01"]
    assert cli.main(args) == 0
    erased = sum(1 for t in rows.values() for r in t if r["date"] <= "2026-03-01")
    assert f"erased {erased} imported rows of example.com" in capsys.readouterr().out
    wiring.reset()
    q = {"metrics": ["visitors"], "date_range": ["2026-02-20", "2026-03-01"]}
    gone = run(q)
    assert gone["meta"]["imported"] == {"included": False, "reason": "no imported data"}
    assert gone["results"][0]["metrics"] == [0]
    kept = answer({"metrics": BASIC})[()]
    remaining = [r for r in in_range(rows["imported_visitors"]) if r["date"] > "2026-03-01"]
    assert kept["visitors"] == raw_sums(native_hits(imported[0]))["visitors"] + sum(
        r["visitors"] for r in remaining
    )


def test_aws_writes_and_erases_in_the_events_bucket(
    tmp_path: Path, fake_aws_credentials: None
) -> None:
    """On AWS the import writes the same files under the events bucket (moto), refuses an
    overlapping import there, and erasure removes the imported rows of its days."""
    import boto3
    from moto import mock_aws

    from beaconlake.imports import plausible, store

    rows = export_rows(FIRST, LAST)
    tables = plausible.read_export(write_export(tmp_path / "e.zip", rows, FIRST, LAST))
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="beaconlake-events")
        written = store.store_s3("beaconlake-events", "example.com", tables)
        assert {w.table for w in written} == {t.table.name for t in tables}
        key = "imported/imported_visitors/site_id=example.com/20260220_20260310.parquet"
        assert f"s3://beaconlake-events/{key}" in {w.where for w in written}
        with pytest.raises(ValueError, match="overlap"):
            store.store_s3("beaconlake-events", "example.com", tables)
        removed = store.erase_s3("beaconlake-events", "example.com", "2026-02-20", "2026-03-10")
        assert removed == sum(len(t.rows) for t in tables)
        assert s3.list_objects_v2(Bucket="beaconlake-events").get("KeyCount") == 0


def test_a_running_engine_reads_a_new_import(loaded, engine_mode, tmp_path: Path) -> None:
    """No restart: the engine that answered before the import answers with it after."""
    before = run({"metrics": ["visitors"]})
    assert before["meta"]["imported"] == {"included": False, "reason": "no imported data"}
    rows = export_rows(FIRST, LAST)
    export = write_export(tmp_path / "e.zip", rows, FIRST, LAST)
    assert cli.main(["import", "plausible", str(export), "--site", "example.com"]) == 0
    assert wiring.engine() is engine_mode
    after = run({"metrics": ["visitors"]})
    assert after["meta"]["imported"] == {"included": True}
    added = sum(r["visitors"] for r in in_range(rows["imported_visitors"]))
    assert after["results"][0]["metrics"][0] == before["results"][0]["metrics"][0] + added
