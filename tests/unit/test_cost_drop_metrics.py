"""CloudWatch bills a custom metric series for each hour it is published in: the collector's
counters of beacons dropped by design are published only when the deploy asks
(`drop_metrics` → BEACONLAKE_DROP_METRICS), its failure counters always, and both are tallied
(docs/COST.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from beaconlake import telemetry
from beaconlake.config import DROP_METRICS_VARIABLE


def published(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if '"_aws"' in line]


@pytest.fixture(autouse=True)
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)


def test_drop_counters_stay_out_of_cloudwatch_when_the_deploy_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(DROP_METRICS_VARIABLE, "false")
    before = telemetry.tally().get(("BeaconsDropped", ("collector", "bot")), 0)
    telemetry.count("BeaconsDropped", 1, "collector", reason="bot")
    telemetry.count("EventsRejected", 2, "collector")
    lines = published(capsys.readouterr().out)
    assert [line.get("EventsRejected") for line in lines] == [[2.0]]
    assert not any("BeaconsDropped" in line for line in lines)
    assert telemetry.tally()[("BeaconsDropped", ("collector", "bot"))] == before + 1


@pytest.mark.parametrize("value", ["true", None])
def test_drop_counters_are_published_when_asked_or_unset(
    value: str | None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if value is None:
        monkeypatch.delenv(DROP_METRICS_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(DROP_METRICS_VARIABLE, value)
    telemetry.count("BeaconsDropped", 1, "collector", reason="dnt")
    (line,) = published(capsys.readouterr().out)
    assert line["BeaconsDropped"] == [1.0] and line["reason"] == "dnt"
