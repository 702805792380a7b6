"""Every beacon the collector drops is counted: a CloudWatch metric by reason (EMF on
stdout) and the in-process tally the local server prints."""

from __future__ import annotations

import json
from typing import Any

import pytest

from beaconlake import telemetry
from functions.collect.app import handler as collect
from tests.apigw import Context, http_event
from tests.conftest import BOT_UA, CHROME_UA


def dropped(reason: str) -> int:
    return telemetry.tally().get(("BeaconsDropped", ("collector", reason)), 0)


def emf_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if '"_aws"' in line]


def test_a_bad_pixel_still_gets_the_gif_and_is_counted(
    local_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    before = dropped("invalid")
    event = http_event(
        "GET", "/e.gif", query={"d": "example.com", "u": "data:text/html,x"},
        headers={"user-agent": CHROME_UA},
    )  # fmt: skip
    reply = collect(event, Context())
    assert reply["statusCode"] == 200 and reply["headers"]["Content-Type"] == "image/gif"
    assert dropped("invalid") == before + 1
    (line,) = [m for m in emf_lines(capsys.readouterr().out) if "BeaconsDropped" in m]
    assert line["reason"] == "invalid" and line["BeaconsDropped"] == [1.0]


def test_dropped_posts_are_counted_by_reason_without_request_details(
    local_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    before = dropped("bot")
    body = json.dumps({"n": "pageview", "u": "https://example.com/", "d": "example.com"})
    event = http_event(
        "POST", "/api/event", body=body, source_ip="198.51.100.200",
        headers={"content-type": "text/plain", "user-agent": BOT_UA},
    )  # fmt: skip
    assert collect(event, Context())["headers"]["x-beaconlake-dropped"] == "bot"
    assert dropped("bot") == before + 1
    out = capsys.readouterr().out
    assert "198.51.100.200" not in out and "Googlebot" not in out


def test_metrics_can_be_switched_off_but_are_still_tallied(
    local_env: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    before = dropped("dnt")
    body = json.dumps({"n": "pageview", "u": "https://example.com/", "d": "example.com"})
    event = http_event(
        "POST", "/api/event", body=body,
        headers={"content-type": "text/plain", "user-agent": CHROME_UA, "dnt": "1"},
    )  # fmt: skip
    collect(event, Context())
    assert dropped("dnt") == before + 1
    assert not emf_lines(capsys.readouterr().out)
