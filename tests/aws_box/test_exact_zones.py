"""Sites in other time zones on the AWS path: the time zone scenario (two days earlier than
the exact tests', across Los Angeles' change to daylight saving time on 2026-03-08) goes
through the collect Lambda handler, the Firehose stand-in and S3; the stats Lambda handler
answers through the Athena stand-in for a site in Los Angeles and one in Kolkata (+05:30),
from raw events and, after the daily job, from the rollups. Every answer equals the SQL-free
reference (tests/reference.py: a visit, with its events, counts on the local day it started)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from beaconlake.web.auth import Reader
from tests.aws_box.conftest import Box, aws_box
from tests.aws_box.stack import Stack
from tests.integration.conftest import dst_scenario
from tests.reference import Hit, by_start_bucket, in_days, metrics

pytestmark = pytest.mark.slow

EXACT = importlib.import_module("tests.aws_box.test_exact")
ZONES = ["America/Los_Angeles", "Asia/Kolkata"]
FIRST, LAST = date(2026, 3, 6), date(2026, 3, 11)
DST_DAY = date(2026, 3, 8)
BASIC = ["visitors", "visits", "pageviews", "events", "bounce_rate", "visit_duration"]
PAGES = ["visitors", "pageviews", "events"]


@contextmanager
def site_zone(tz: str) -> Iterator[None]:
    """The site's time zone as the catalogue gives it to the stats handler."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Reader, "timezone", lambda self, site: tz)
        yield


def requests() -> list[Any]:
    days = {"site_id": "example.com", "period": "custom", "from": str(FIRST), "to": str(LAST)}
    dst = {**days, "from": str(DST_DAY), "to": str(DST_DAY), "interval": "hour"}
    v1 = "/api/v1/stats/"
    return [
        ("GET", v1 + "aggregate", {"query": {**days, "metrics": ",".join(BASIC)}}),
        ("GET", v1 + "timeseries", {"query": {**days, "metrics": ",".join(BASIC)}}),
        ("GET", v1 + "timeseries", {"query": {**dst, "metrics": "visits,pageviews"}}),
        (
            "GET",
            v1 + "breakdown",
            {"query": {**days, "property": "event:page", "metrics": ",".join(PAGES)}},
        ),
    ]


def answers(box: Box, tz: str) -> list[Any]:
    with site_zone(tz):
        return [EXACT.ask(box, r) for r in requests()]


@dataclass
class Story:
    box: Box
    hits: list[Hit]
    raw: dict[str, list[Any]]  # before the daily job: every statement reads raw objects
    rolled: dict[str, list[Any]]  # after it: past days from the rollups
    rollup_reads: int


@pytest.fixture(scope="module")
def story(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    cache: Path = tmp_path_factory.mktemp("athena-box-zones")
    with aws_box(stack, cache, env={"BEACONLAKE_GOALS": EXACT.goals_json()}) as box:
        sent = sorted(dst_scenario(), key=lambda s: s[2].at)
        for data, meta, hit in sent:
            assert box.beacon(data, meta, hit.at)["statusCode"] == 202
        box.firehose.drain()
        with box.athena.learn():
            raw = {tz: answers(box, tz) for tz in ZONES}
        last_day = max(hit.at.date() for _, _, hit in sent)
        box.run_daily_job(datetime.combine(last_day + timedelta(1), time(), UTC) + timedelta(1))
        mark = len(box.athena.queries)
        rolled = {tz: answers(box, tz) for tz in ZONES}
        reads = sum("session_rollup" in q.statement for q in box.queries_since(mark))
        yield Story(box, [hit for _, _, hit in sent], raw, rolled, reads)


def check(answer: list[Any], hits: list[Hit], tz: str) -> None:
    aggregate, daily, hourly, pages = answer
    local = in_days(hits, tz, FIRST, LAST)
    assert {m: aggregate["results"][m]["value"] for m in BASIC} == {
        m: metrics(local)[m] for m in BASIC
    }
    by_day = by_start_bucket(local, tz, "day")
    assert [row["date"] for row in daily["results"]] == [
        str(FIRST + timedelta(days=i)) for i in range((LAST - FIRST).days + 1)
    ]
    for row in daily["results"]:
        exp = metrics(by_day.get(row["date"], []))
        assert {m: row[m] for m in BASIC} == {m: exp[m] for m in BASIC}, row["date"]
    one = in_days(hits, tz, DST_DAY, DST_DAY)
    by_hour = by_start_bucket(one, tz, "hour")
    assert len(hourly["results"]) == (23 if tz == "America/Los_Angeles" else 24)
    for row in hourly["results"]:
        exp = metrics(by_hour.get(row["date"], []))
        assert (row["visits"], row["pageviews"]) == (exp["visits"], exp["pageviews"]), row
    expected = {
        page: metrics([h for h in local if h.path == page]) for page in {h.path for h in local}
    }
    assert {r["page"]: {m: r[m] for m in PAGES} for r in pages["results"]} == {
        page: {m: e[m] for m in PAGES} for page, e in expected.items()
    }


@pytest.mark.parametrize("tz", ZONES)
def test_zone_answers_match_reference_from_raw_events_and_rollups(story: Story, tz) -> None:
    check(story.raw[tz], story.hits, tz)
    check(story.rolled[tz], story.hits, tz)
    assert story.rollup_reads > 0
