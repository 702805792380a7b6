"""Downsampled retention on the AWS path (issue 29 item 3): the real rollups Lambda handler
(functions/rollups) runs the daily job and then retention, which deletes the raw events of the
days past `retention_days` from S3 and keeps their rollups, marked under `rollups/_expired/`;
the stats Lambda then answers those days from the rollups through Athena with exactly the
figures it gave from the raw events, says so in `meta`, refuses a funnel with a 400
(`raw_data_expired`), and an erasure of the range removes rollups and marks."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import boto3
import pytest

from beaconlake import erasure, wiring
from tests.aws_box.conftest import Box, aws_box
from tests.aws_box.stack import REGION, Stack
from tests.infra.conftest import SYNTH_OVERRIDES
from tests.integration.conftest import scenario

pytestmark = pytest.mark.slow

SITE = "example.com"
STATE_KEY = f"rollups/_state/site_id={SITE}.json"
RETENTION_DAYS = int(SYNTH_OVERRIDES["retention_days"])  # the stack's `retention_days`
TOTALS = ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration", "views_per_visit"]
BODIES: list[dict[str, Any]] = [
    {"metrics": TOTALS},
    {"metrics": ["visitors", "visits", "pageviews", "bounce_rate"], "dimensions": ["time:day"]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]},
]


@dataclasses.dataclass
class Story:
    box: Box
    days: list[date]
    before: list[dict[str, Any]]  # the answers from raw events, before retention
    funnel: dict[str, Any]

    @property
    def range(self) -> list[str]:
        return [self.days[0].isoformat(), self.days[-1].isoformat()]

    @property
    def expired(self) -> list[date]:
        return self.days[:2]


def without_now(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "meta": {k: v for k, v in answer["meta"].items() if k != "now"}}


def query(box: Box, days: list[str], body: dict[str, Any]) -> tuple[int, Any]:
    return box.call("POST", "/api/v2/query", body={"site_id": SITE, "date_range": days, **body})


def funnel(days: list[str]) -> dict[str, Any]:
    steps = [{"page": "/"}, {"page": "/*"}]
    return {"site_id": SITE, "date_range": days, "steps": steps, "window_minutes": 60}


def v1_timeseries(box: Box, days: list[str]) -> Any:
    params = {"site_id": SITE, "period": "custom", "from": days[0], "to": days[1]}
    return box.ok("GET", "/api/v1/stats/timeseries", query={**params, "metrics": "visitors"})


def s3_keys(box: Box, prefix: str) -> list[str]:
    s3 = boto3.client("s3", region_name=REGION)
    bucket = box.env["BEACONLAKE_EVENTS_BUCKET"]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def day_keys(box: Box, day: date) -> dict[str, list[str]]:
    """The day's objects: its events, its rollups (either table), its retention mark."""
    part = f"site_id={SITE}/dt={day.isoformat()}"
    rollups = [k for k in s3_keys(box, "rollups/") if f"/{part}/" in k and "/_" not in k]
    return {
        "events": s3_keys(box, f"events/{part}/"),
        "rollups": rollups,
        "mark": s3_keys(box, f"rollups/_expired/{part}"),
    }


def job_at(day: date, minutes: int = 20) -> datetime:
    return datetime.combine(day, time(), UTC) + timedelta(minutes=minutes)


@pytest.fixture(scope="module")
def story(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    env = {"BEACONLAKE_RETENTION_DAYS": str(RETENTION_DAYS)}
    with aws_box(stack, tmp_path_factory.mktemp("athena-box"), env=env) as box:
        sent = sorted(scenario(7), key=lambda s: s[2].at)
        for data, meta, hit in sent:
            assert box.beacon(data, meta, hit.at)["statusCode"] == 202
        box.firehose.drain()
        days = sorted({hit.at.date() for _, _, hit in sent})
        assert len(days) >= 3
        # the job after the last day: every day rolled up, nothing old enough to delete
        first_run = box.run_daily_job(job_at(days[-1] + timedelta(days=1)))
        assert first_run["days_rolled_up"] == len(days)
        assert first_run["retention"]["partitions"] == 0
        story = Story(box, days, [], {})
        with box.athena.learn():  # the statements checked in one batch
            for body in BODIES:
                query(box, story.range, body)
            box.call("POST", "/api/v2/funnel", body=funnel(story.range))
        story.before = [box.ok("POST", "/api/v2/query", body=b) for b in bodies(story)]
        story.funnel = box.ok("POST", "/api/v2/funnel", body=funnel(story.range))
        yield story


def bodies(story: Story) -> list[dict[str, Any]]:
    return [{"site_id": SITE, "date_range": story.range, **b} for b in BODIES]


def test_the_job_deletes_old_events_keeps_their_rollups_and_answers_stay_equal(
    story: Story,
) -> None:
    box = story.box
    assert story.funnel["steps"][0]["visitors"] > 0
    assert all("answered_from" not in b["meta"] for b in story.before)
    assert story.before[0]["results"][0]["metrics"][0] > 10
    series_before = v1_timeseries(box, story.range)

    # the day after the second day's last kept one: the first two days are past retention
    today = story.expired[-1] + timedelta(days=RETENTION_DAYS)
    run = box.run_daily_job(job_at(today))
    assert run["retention"]["partitions"] == len(story.expired)
    assert run["retention"]["rows_deleted"] > 0
    for day in story.days:
        objects = day_keys(box, day)
        assert objects["rollups"], day  # every day keeps its rollups
        if day in story.expired:
            assert objects["events"] == [] and len(objects["mark"]) == 1, day
        else:
            assert objects["events"] and objects["mark"] == [], day

    wiring.reset()  # a stats container that reads the state and marks now
    after = [box.ok("POST", "/api/v2/query", body=b) for b in bodies(story)]
    first, last = (d.isoformat() for d in story.expired)
    for new, old in zip(after, story.before, strict=True):
        assert new["results"] == old["results"]
        assert new["meta"]["answered_from"] == "daily_rollups"
        assert new["meta"]["rollup_days"] == [first, last]
    assert v1_timeseries(box, story.range) == series_before

    # what needs raw events is refused, naming the range and the rule
    status, answer = box.call("POST", "/api/v2/funnel", body=funnel(story.range))
    assert status == 400, answer
    assert "raw_data_expired" in str(answer) and f"from {first} to {last}" in str(answer)
    # the days with raw events left are answered as before, from events
    recent = [story.days[2].isoformat(), story.range[1]]
    assert box.ok("POST", "/api/v2/funnel", body=funnel(recent))["steps"]
    status, answer = query(box, recent, {"metrics": ["visitors"]})
    assert status == 200 and "answered_from" not in answer["meta"]

    # a run that checks every day again (its recorded state lost) keeps the rollups of the
    # days without events: their marks say retention, not an erasure, took the events
    s3 = boto3.client("s3", region_name=REGION)
    s3.delete_object(Bucket=box.env["BEACONLAKE_EVENTS_BUCKET"], Key=STATE_KEY)
    again = box.run_daily_job(job_at(today, 80))
    assert again["days_checked"] == len(story.days)
    assert again["days_dropped"] == 0 and again["retention"]["partitions"] == 0
    assert all(day_keys(box, d)["rollups"] for d in story.expired)
    wiring.reset()
    last_answer = box.ok("POST", "/api/v2/query", body=bodies(story)[0])
    assert without_now(last_answer) == without_now(after[0])


def by_day(answer: dict[str, Any]) -> dict[str, list[Any]]:
    return {r["dimensions"][0]: r["metrics"] for r in answer["results"] if any(r["metrics"])}


def test_erasing_the_range_removes_its_rollups_and_marks(story: Story) -> None:
    box = story.box
    if not day_keys(box, story.expired[0])["mark"]:  # run alone: retention first
        box.run_daily_job(job_at(story.expired[-1] + timedelta(days=RETENTION_DAYS)))
    store = wiring.event_store()
    assert [p.dt for p in store.expired()] == [d.isoformat() for d in story.expired]
    first, last = (d.isoformat() for d in story.expired)
    daily = {**BODIES[1], "site_id": SITE, "date_range": story.range}
    before = by_day(story.before[1])

    # the first day: its rollups and mark go, the other days keep theirs; the erased day is
    # stale until the job runs, and the rollups still answer the day beside it
    report = erasure.erase(store, erasure.Erasure(SITE, story.days[0], story.days[0]))
    assert report.partitions == 1
    assert day_keys(box, story.days[0]) == {"events": [], "rollups": [], "mark": []}
    assert [p.dt for p in store.expired()] == [last]
    wiring.reset()
    answer = box.ok("POST", "/api/v2/query", body=daily)
    assert answer["meta"]["rollup_days"] == [last, last]
    assert by_day(answer) == {d: v for d, v in before.items() if d != first}
    status, refused = box.call("POST", "/api/v2/funnel", body=funnel(story.range))
    assert status == 400 and f"from {last} to {last}" in str(refused)

    # the rest of the range: nothing of those days is left, nothing needs raw events
    report = erasure.erase(store, erasure.Erasure(SITE, story.days[0], story.expired[-1]))
    assert report.partitions == 1
    for day in story.expired:
        assert day_keys(box, day) == {"events": [], "rollups": [], "mark": []}
    assert store.expired() == []
    assert day_keys(box, story.days[2])["rollups"]
    wiring.reset()
    answer = box.ok("POST", "/api/v2/query", body=daily)
    assert "answered_from" not in answer["meta"]
    assert by_day(answer) == {d: v for d, v in before.items() if d not in (first, last)}
    assert box.ok("POST", "/api/v2/funnel", body=funnel(story.range))["steps"]
