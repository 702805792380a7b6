"""Retention on the AWS path: the exact tests' signed-in users (their `with_users` scenario,
run against the AWS ports: the real collector service and FirehoseSink, with user-id
secrets in SSM) answered by the stats Lambda through Athena, equal to the reference."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.aws_box.conftest import Box, aws_box
from tests.aws_box.exports import fetch_export
from tests.aws_box.stack import Stack
from tests.reference_behaviour import retention

pytestmark = pytest.mark.slow

BEHAVIOUR = importlib.import_module("tests.integration.test_behaviour_exact")
CASES = [m for m in BEHAVIOUR.test_retention.pytestmark if m.name == "parametrize"][0].args[1]


def request(period: str, first: Any, last: Any) -> dict[str, Any]:
    return {
        "site_id": "example.com",
        "date_range": [first.isoformat(), last.isoformat()],
        "period": period,
    }


@pytest.fixture(scope="module")
def users(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Box, list[tuple[str, datetime]]]]:
    env = {"BEACONLAKE_USER_ID_SITES": "example.com"}
    with aws_box(stack, tmp_path_factory.mktemp("athena-box"), env=env) as box:
        with pytest.MonkeyPatch.context() as mp:
            # the scenario's own generator (a fixture function of the exact tests): it puts
            # the collector service's events into the configured sink, here FirehoseSink
            activity = BEHAVIOUR.with_users.__wrapped__(None, mp)
        box.firehose.drain()
        with box.athena.learn():
            for case in CASES:
                box.call("POST", "/api/v2/retention", body=request(*case))
        yield box, activity


@pytest.mark.parametrize(("period", "first", "last"), CASES)
def test_retention(users: tuple[Box, list[tuple[str, datetime]]], period, first, last) -> None:
    box, activity = users
    got = box.ok("POST", "/api/v2/retention", body=request(period, first, last))
    expected = retention(activity, first, last, period)
    assert got == {"available": True, "period": period, "cohorts": expected}
    assert sum(c["users"] for c in expected) > 5


def test_user_ids_reach_s3_only_as_keyed_hashes(
    users: tuple[Box, list[tuple[str, datetime]]],
) -> None:
    box, activity = users
    answer = box.ok(
        "GET",
        "/api/v2/export/events",
        query={"site_id": "example.com", "date_range": "2026-02-02,2026-03-08", "format": "csv"},
    )
    # the export's files, fetched through their links (Athena UNLOADed them to S3)
    text, _ = fetch_export(answer, box.env["BEACONLAKE_RESULTS_BUCKET"])
    assert answer["rows"] == len(text.splitlines()) - 1 > 0
    assert "user_id" in text.splitlines()[0]
    assert not any(user in text for user, _ in activity)
