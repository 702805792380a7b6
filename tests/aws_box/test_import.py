"""Imported Plausible data on the AWS path: an export goes through the import CLI's code into
the stack's events bucket (`imported/<table>/site_id=<site>/`), the Glue tables of
infra_cdk/catalog.py read it, and the stats Lambda handler answers totals, a day series and a
source breakdown merged with the native events exactly as the local back end does
(tests/integration/test_import_plausible.py): native sums plus imported sums. Every statement
goes through the Athena stand-in's checks (Trino grammar, the injected site key)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest

from beaconlake import cli, wiring
from beaconlake.stats.sql.imported import TABLES
from tests.aws_box.conftest import Box, aws_box
from tests.aws_box.stack import Stack
from tests.integration.conftest import scenario
from tests.reference import Hit, from_sums, imported_sums, in_days, raw_sums, sessions, visit_source
from tests.support.plausible_export import export_rows, write_export

pytestmark = pytest.mark.slow

FIRST, LAST = date(2026, 2, 20), date(2026, 3, 10)  # imported days; native: 03-09 to 03-11
RANGE = ["2026-03-01", "2026-03-20"]
BASIC = ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration", "views_per_visit"]
SITE = "example.com"

Loaded = tuple[Box, list[Hit], dict[str, list[dict[str, Any]]]]


@pytest.fixture(scope="module")
def loaded(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """The scenario through the collect handler and Firehose, then an export imported into
    the box's events bucket by the CLI's `import plausible` (the AWS back end's settings)."""
    cache: Path = tmp_path_factory.mktemp("athena-box")
    with aws_box(stack, cache) as box:
        sent = sorted(scenario(7), key=lambda s: s[2].at)
        for data, meta, hit in sent:
            assert box.beacon(data, meta, hit.at)["statusCode"] == 202
        box.firehose.drain()
        rows = export_rows(FIRST, LAST)
        export = write_export(cache / "example_com_20260312.zip", rows, FIRST, LAST)
        assert box.env["BEACONLAKE_BACKEND"] == "aws" and box.env["BEACONLAKE_EVENTS_BUCKET"]
        assert cli.main(["import", "plausible", str(export), "--site", SITE]) == 0
        wiring.reset()
        yield box, [hit for _, _, hit in sent], rows


def ask(box: Box, body: dict[str, Any]) -> dict[str, Any]:
    mark = len(box.athena.queries)
    answer: dict[str, Any] = box.ok(
        "POST", "/api/v2/query", body={"site_id": SITE, "date_range": RANGE, **body}
    )
    sent = box.queries_since(mark)
    assert sent and all(q.state == "SUCCEEDED" for q in sent), box.failures()
    # each passed the stand-in's rules (Trino grammar, a static site_id): the verdicts it kept
    assert all(box.athena.rule_violations(q.statement) == [] for q in sent)
    # the merged statement read the imported table's object, through its Glue table
    assert any("imported_" in q.statement and q.objects_read > 1 for q in sent)
    return answer


def answer(box: Box, body: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    result = ask(box, body)
    assert result["meta"]["imported"] == {"included": True}
    return {
        tuple(r["dimensions"]): dict(zip(body["metrics"], r["metrics"], strict=True))
        for r in result["results"]
    }


def in_range(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if RANGE[0] <= r["date"] <= RANGE[1]]


def native_hits(hits: list[Hit]) -> list[Hit]:
    return in_days(hits, "UTC", date.fromisoformat(RANGE[0]), date.fromisoformat(RANGE[1]))


def test_the_export_landed_under_the_imported_tables_prefixes(loaded: Loaded) -> None:
    box, _, _ = loaded
    bucket = box.env["BEACONLAKE_EVENTS_BUCKET"]
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="imported/")
    keys = {o["Key"] for o in listed.get("Contents", [])}
    for table in TABLES:
        assert f"imported/{table.name}/site_id={SITE}/20260220_20260310.parquet" in keys


def test_totals_add_imported_days(loaded: Loaded) -> None:
    box, hits, rows = loaded
    (got,) = answer(box, {"metrics": BASIC}).values()
    native = raw_sums(native_hits(hits))
    assert got == from_sums(native, imported_sums(in_range(rows["imported_visitors"])))
    assert got["visitors"] > native["visitors"]  # the imported days count


def test_timeseries_per_day(loaded: Loaded) -> None:
    box, hits, rows = loaded
    got = answer(box, {"metrics": BASIC, "dimensions": ["time:day"]})
    native_by_day: dict[str, list[Hit]] = defaultdict(list)
    for hit in native_hits(hits):
        native_by_day[hit.at.date().isoformat()].append(hit)
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


def from_source(src: str) -> Callable[[Hit, Any], bool]:
    return lambda hit, session: visit_source(session) == src


def test_sources(loaded: Loaded) -> None:
    box, hits, rows = loaded
    got = answer(box, {"metrics": BASIC, "dimensions": ["visit:source"]})
    native = native_hits(hits)
    imported_by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in in_range(rows["imported_sources"]):
        imported_by[r["source"] or "Direct / None"].append(r)
    sources = {visit_source(s) for s in sessions(native)}
    expected = {
        (src,): from_sums(
            raw_sums(native, from_source(src)),
            imported_sums(imported_by.get(src, [])),
        )
        for src in sources | set(imported_by)
    }
    assert got == expected


def test_a_query_no_imported_table_answers_is_native_only(loaded: Loaded) -> None:
    box, hits, _ = loaded
    result = ask_native(box, {"metrics": ["visitors"], "dimensions": ["time:hour"]})
    assert result["meta"]["imported"]["included"] is False
    assert "per day" in result["meta"]["imported"]["reason"]
    assert sum(r["metrics"][0] for r in result["results"]) > 0


def ask_native(box: Box, body: dict[str, Any]) -> dict[str, Any]:
    mark = len(box.athena.queries)
    answer: dict[str, Any] = box.ok(
        "POST", "/api/v2/query", body={"site_id": SITE, "date_range": RANGE, **body}
    )
    assert not any("imported_" in q.statement for q in box.queries_since(mark))
    return answer
