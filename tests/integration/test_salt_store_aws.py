"""Salts in SSM (moto): only the rotation creates them; the collector only reads them, and a
missing salt is a counted, logged 503, never a salt the collector invents."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from beaconlake.adapters.aws import ParameterSaltStore
from beaconlake.ports import SinkUnavailable
from functions.collect.app import handler as collect
from functions.rotate_salt.app import AHEAD_OF_MIDNIGHT, LEAD
from functions.rotate_salt.app import handler as rotate
from tests.apigw import Context, http_event
from tests.conftest import CHROME_UA
from tests.conftest import SALT_PREFIX as PREFIX

IP = "198.51.100.77"


def stored_days(ssm: Any) -> list[str]:
    found = ssm.get_parameters_by_path(Path=PREFIX)["Parameters"]
    return sorted(p["Name"].rsplit("/", 1)[1] for p in found)


def test_a_missing_salt_is_a_counted_503_and_nothing_is_created(
    ssm: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    today = datetime.now(UTC).date().isoformat()
    with pytest.raises(SinkUnavailable, match=f"no salt for {today}"):
        ParameterSaltStore(PREFIX).salt_for(today)
    assert stored_days(ssm) == []
    out = capsys.readouterr().out
    metrics = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    assert any(m.get("SaltMissing") == [1.0] and m["component"] == "collector" for m in metrics)
    assert "rotate_salt function has not created it" in caplog.text


def test_the_collector_answers_503_without_a_salt_and_never_writes_one(ssm: Any) -> None:
    body = json.dumps({"n": "pageview", "u": "https://example.com/", "d": "example.com"})
    event = http_event(
        "POST",
        "/api/event",
        body=body,
        headers={"content-type": "text/plain", "user-agent": CHROME_UA},
        source_ip=IP,
    )
    reply = collect(event, Context())
    assert reply["statusCode"] == 503 and reply["headers"]["retry-after"]
    assert stored_days(ssm) == []
    assert IP not in reply["body"]


def test_only_rotation_creates_and_what_it_creates_everyone_reads(ssm: Any) -> None:
    now = datetime.now(UTC)
    today = now.date().isoformat()
    rotation = ParameterSaltStore(PREFIX)
    rotation.rotate(now)
    salt = ParameterSaltStore(PREFIX).salt_for(today)
    assert len(salt) == 32 and stored_days(ssm) == [today]
    assert rotation.create(today) == salt  # never replaced (Overwrite=False)
    rotation.rotate(now)
    assert ParameterSaltStore(PREFIX).salt_for(today) == salt


def test_the_salt_ahead_of_midnight_is_there_for_the_first_beacon_after_it(ssm: Any) -> None:
    before_midnight = datetime(2026, 6, 1, 23, 55, tzinfo=UTC)
    store = ParameterSaltStore(PREFIX)
    store.create("2026-05-31")
    store.create("2026-06-01")
    store.rotate(before_midnight + LEAD)  # what the 23:55 schedule asks for
    assert stored_days(ssm) == ["2026-06-01", "2026-06-02"]
    first = ParameterSaltStore(PREFIX).salt_for("2026-06-02")  # 00:00:01, read only
    store.rotate(datetime(2026, 6, 2, 0, 0, 30, tzinfo=UTC))  # the midnight rule changes nothing
    assert stored_days(ssm) == ["2026-06-01", "2026-06-02"]
    assert ParameterSaltStore(PREFIX).salt_for("2026-06-02") == first


def test_the_rotation_handler_ahead_of_midnight_rotates_for_the_coming_day(ssm: Any) -> None:
    expected = (datetime.now(UTC) + LEAD).date().isoformat()
    result = rotate({"rotation": AHEAD_OF_MIDNIGHT}, Context())
    assert expected in result["days"] and result["days"] == stored_days(ssm)


def test_a_deploy_trigger_invocation_creates_the_days_salt(ssm: Any) -> None:
    """The CDK trigger invokes the function with its own event: a plain rotation."""
    now = datetime.now(UTC)
    result = rotate({"RequestType": "Create"}, Context())
    assert now.date().isoformat() in result["days"]
    assert (now.date() + timedelta(days=2)).isoformat() not in result["days"]
