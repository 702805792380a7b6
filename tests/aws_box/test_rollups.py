"""The daily job on the AWS path (functions/rollups → beaconlake.stats.rollup_job over S3 and
Athena): the exact tests' scenario answered the same, and equal to the reference model, before
the job ran (every statement reads raw Firehose objects), after it compacted each day into one
file and wrote its rollups (statements read rollups for past days), after a late Firehose
delivery for a day already rolled up, and after an erasure, each before and after the next run.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from beaconlake import erasure, wiring
from beaconlake.model import RequestMeta
from beaconlake.stats.query import METRICS
from tests.aws_box.conftest import Box, aws_box
from tests.aws_box.stack import REGION, Stack
from tests.integration.conftest import scenario
from tests.reference import Hit, breakdown, metrics

pytestmark = pytest.mark.slow

EXACT = importlib.import_module("tests.aws_box.test_exact")
SITE = "example.com"
FIRST, LAST = date.fromisoformat(EXACT.FIRST), date.fromisoformat(EXACT.LAST)


def requests() -> list[Any]:
    """Everything a dashboard and the API ask that rollups can change: the exact tests' v1,
    v2 and behaviour requests (exports read raw events and are left out)."""
    return [r for r in EXACT.all_requests() if "/export/" not in r[1]]


def _without_now(answer: Any) -> Any:
    """The answer less `meta.now` (the time it was asked, not a figure)."""
    if isinstance(answer, dict) and isinstance(answer.get("meta"), dict):
        return {**answer, "meta": {k: v for k, v in answer["meta"].items() if k != "now"}}
    return answer


def answers(box: Box) -> list[str]:
    return [json.dumps(_without_now(EXACT.ask(box, r)), sort_keys=True) for r in requests()]


def assert_reference(box: Box, hits: list[Hit]) -> None:
    """The v1 figures that the reference model computes directly."""
    got = EXACT.ask(box, EXACT.v1_request("aggregate", metrics=EXACT.V1_METRICS))["results"]
    assert {k: v["value"] for k, v in got.items()} == metrics(hits)
    for dimension, key in EXACT.BREAKDOWNS:
        request = EXACT.v1_request(
            "breakdown", property=dimension, limit="1000", metrics=EXACT.V1_METRICS
        )
        rows = EXACT.ask(box, request)["results"]
        field = dimension.split(":")[-1]
        got_rows = {(r[field] if r[field] != "Direct / None" else None): r for r in rows}
        assert {v: {m: r[m] for m in METRICS} for v, r in got_rows.items()} == breakdown(hits, key)


def event_objects(box: Box, day: date) -> list[str]:
    s3 = boto3.client("s3", region_name=REGION)
    bucket = box.stack.lambda_environment("beaconlake-rollups")["BEACONLAKE_EVENTS_BUCKET"]
    prefix = f"events/site_id={SITE}/dt={day.isoformat()}/"
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return [o["Key"] for o in listed]


def rollup_state(box: Box) -> dict[str, Any]:
    s3 = boto3.client("s3", region_name=REGION)
    bucket = box.stack.lambda_environment("beaconlake-rollups")["BEACONLAKE_EVENTS_BUCKET"]
    key = f"rollups/_state/site_id={SITE}.json"
    return dict(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))


def reads(box: Box, mark: int, table: str) -> int:
    """Queries since `mark` whose statement reads `table`."""
    return sum(table in q.statement for q in box.queries_since(mark))


@dataclasses.dataclass
class Story:
    box: Box
    hits: list[Hit]
    raw: list[str]  # the answers before the job ran
    days: list[date]


@pytest.fixture(scope="module")
def story(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    cache: Path = tmp_path_factory.mktemp("athena-box")
    with aws_box(stack, cache, env={"BEACONLAKE_GOALS": EXACT.goals_json()}) as box:
        sent = sorted(scenario(7), key=lambda s: s[2].at)
        for data, meta, hit in sent:
            assert box.beacon(data, meta, hit.at)["statusCode"] == 202
        box.firehose.drain()
        hits = [hit for _, _, hit in sent]
        with box.athena.learn():
            raw = answers(box)
        days = sorted({h.at.date() for h in hits})
        yield Story(box, hits, raw, days)


def midnight_after(day: date, minutes: int) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), UTC) + timedelta(minutes=minutes)


def test_the_job_compacts_each_day_and_answers_stay_exact(story: Story) -> None:
    box, hits = story.box, story.hits
    assert any(len(event_objects(box, d)) > 1 for d in story.days)  # Firehose's small files
    report = box.run_daily_job(midnight_after(story.days[-1], 20))

    assert report["days_compacted"] == sum(1 for d in story.days) == report["days_rolled_up"]
    assert report["days_stale"] == 0
    for day in story.days:
        (only,) = event_objects(box, day)
        assert "/compacted-" in only
    state = rollup_state(box)
    assert (state["first"], state["through"]) == (
        story.days[0].isoformat(),
        story.days[-1].isoformat(),
    )
    mark = len(box.athena.queries)
    assert answers(box) == story.raw
    assert_reference(box, hits)
    assert reads(box, mark, "session_rollup") > 0 and reads(box, mark, "page_rollup") > 0
    # nothing in the job's wake: staging emptied, no failed statement
    assert box.failures() == []


def test_a_second_run_finds_nothing_to_do(story: Story) -> None:
    box = story.box
    mark = len(box.athena.queries)
    report = box.run_daily_job(midnight_after(story.days[-1], 80))
    assert report["days_compacted"] == report["days_rolled_up"] == 0
    assert box.queries_since(mark) == []  # listing and signatures only: no Athena statement


def test_a_late_delivery_is_taken_in_by_the_next_run(story: Story) -> None:
    box = story.box
    day = story.days[-1]
    late_at = datetime.combine(day, time(23, 50), UTC)
    data, meta, hit = next(s for s in scenario(7) if s[2].at.date() == day)
    late_meta = RequestMeta(ip="10.250.0.9", user_agent=meta.user_agent, country_header="DE")
    late_hit = dataclasses.replace(hit, at=late_at, visitor=10**9, country="DE")
    assert box.beacon(data, late_meta, late_at)["statusCode"] == 202
    box.firehose.drain()  # lands in dt=<day>, after the job had rolled that day up
    story.hits.append(late_hit)
    assert len(event_objects(box, day)) == 2

    report = box.run_daily_job(midnight_after(day, 140))
    assert report["days_compacted"] == report["days_rolled_up"] == 1
    assert len(event_objects(box, day)) == 1
    assert_reference(box, story.hits)
    story.raw = []  # the answers changed with the late event


def test_an_erasure_is_exact_at_once_and_after_the_next_run(story: Story) -> None:
    box = story.box
    erased = story.days[1]
    plan = erasure.Erasure(SITE, erased, erased)
    job_env = box.stack.lambda_environment("beaconlake-rollups")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BEACONLAKE_EVENTS_BUCKET", job_env["BEACONLAKE_EVENTS_BUCKET"])
        report = erasure.erase(wiring.event_store(), plan)
    assert report.partitions == 1
    kept = [h for h in story.hits if h.at.date() != erased]
    state = rollup_state(box)
    assert state["stale"] == [erased.isoformat()]

    # exact at once: the erased day's rollups went with its events
    assert_reference(box, kept)
    # and a stats container that reads the state now (it keeps it a minute: RollupStateReader)
    # answers every statement over that day from events, until the job has run
    wiring.reset()
    mark = len(box.athena.queries)
    assert_reference(box, kept)
    assert reads(box, mark, "session_rollup") == 0

    run = box.run_daily_job(midnight_after(story.days[-1], 200))
    assert run["days_dropped"] == run["days_rolled_up"] == 0  # the erasure took its rollups
    assert rollup_state(box)["stale"] == []
    mark = len(box.athena.queries)
    assert_reference(box, kept)
    assert reads(box, mark, "session_rollup") > 0
