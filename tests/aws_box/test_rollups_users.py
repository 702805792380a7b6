"""One user's erasure (`beaconlake erase --user-id`) on the AWS path once the daily job has
rolled the days up: the days are marked stale, their objects rewritten without the user's rows
and their rollups removed, so every answer is at once what the remaining events say; the next
run writes the days' rollups again from what is left, and the answers stay the same."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import boto3
import pytest

from beaconlake import erasure, wiring
from beaconlake.ingest.service import user_id_hash
from tests.aws_box.conftest import Box, aws_box
from tests.aws_box.stack import REGION, Stack

pytestmark = pytest.mark.slow

BEHAVIOUR = importlib.import_module("tests.integration.test_behaviour_exact")
SITE = "example.com"
USER = "user-1@example.org"


def queries(first: str, last: str) -> list[dict[str, Any]]:
    span = {"site_id": SITE, "date_range": [first, last]}
    return [
        {**span, "metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"]},
        {**span, "metrics": ["visitors", "pageviews"], "dimensions": ["time:day"]},
        {**span, "metrics": ["visitors", "visits"], "dimensions": ["visit:browser"]},
        {**span, "metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]},
    ]


def answers(box: Box, first: str, last: str) -> list[str]:
    return [
        json.dumps(box.ok("POST", "/api/v2/query", body=q)["results"], sort_keys=True)
        for q in queries(first, last)
    ]


def state(box: Box) -> dict[str, Any]:
    bucket = box.stack.lambda_environment("beaconlake-rollups")["BEACONLAKE_EVENTS_BUCKET"]
    key = f"rollups/_state/site_id={SITE}.json"
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)["Body"]
    return dict(json.loads(body.read()))


def reads_rollups(box: Box, mark: int) -> bool:
    return any("session_rollup" in q.statement for q in box.queries_since(mark))


@pytest.fixture(scope="module")
def rolled(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Box, list[tuple[str, datetime]]]]:
    env = {"BEACONLAKE_USER_ID_SITES": SITE}
    with aws_box(stack, tmp_path_factory.mktemp("athena-box"), env=env) as box:
        with pytest.MonkeyPatch.context() as mp:
            activity = BEHAVIOUR.with_users.__wrapped__(None, mp)
        box.firehose.drain()
        last = max(at for _, at in activity).date()
        box.run_daily_job(datetime.combine(last + timedelta(days=1), time(0, 20), UTC))
        yield box, activity


def test_erasing_a_user_is_exact_at_once_and_after_the_next_run(
    rolled: tuple[Box, list[tuple[str, datetime]]],
) -> None:
    box, activity = rolled
    days = sorted({at.date() for _, at in activity})
    first, last = days[0].isoformat(), days[-1].isoformat()
    mark = len(box.athena.queries)
    before = answers(box, first, last)
    assert reads_rollups(box, mark)  # every day rolled up: the rollups answer
    user_days = sorted({at.date() for user, at in activity if user == USER})
    assert user_days

    secrets = wiring.ports().user_ids
    assert secrets is not None
    hashed = user_id_hash(secrets.secret_for(SITE), USER)
    plan = erasure.Erasure(SITE, days[0], days[-1], hashed)
    job_env = box.stack.lambda_environment("beaconlake-rollups")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BEACONLAKE_EVENTS_BUCKET", job_env["BEACONLAKE_EVENTS_BUCKET"])
        report = erasure.erase(wiring.event_store(), plan)
    assert report.rows_deleted == sum(user == USER for user, _ in activity)
    # every day of the range with events (anonymous visits too) waits for the job again
    stale = set(state(box)["stale"])
    assert {d.isoformat() for d in days} <= stale and all(first <= d <= last for d in stale)

    wiring.reset()  # a stats container reading the state now
    mark = len(box.athena.queries)
    erased = answers(box, first, last)
    assert not reads_rollups(box, mark)  # stale days: the remaining events answer
    assert erased != before  # the user's pageviews are gone

    run = box.run_daily_job(datetime.combine(days[-1] + timedelta(days=1), time(1, 20), UTC))
    # every stale day written again, but a day whose only events were the user's: none left
    assert 0 < run["days_rolled_up"] <= len(stale) and run["days_stale"] == 0
    assert state(box)["stale"] == []
    mark = len(box.athena.queries)
    assert answers(box, first, last) == erased
    assert reads_rollups(box, mark)
