"""`beaconlake serve` with SMTP configured runs the report job: a real server, real beacons,
the settings made over the management API, and the alert arriving once at a real SMTP server
on loopback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.conftest import CHROME_UA
from tests.integration.test_reports import Inbox
from tests.server import BIN, Server, free_port, start_server

pytestmark = pytest.mark.slow
TO = "owner@example.org"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, Inbox, dict[str, str]]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    env = {
        "BEACONLAKE_SMTP_HOST": "127.0.0.1",
        "BEACONLAKE_SMTP_PORT": str(port),
        "BEACONLAKE_SMTP_STARTTLS": "false",
        "BEACONLAKE_SMTP_FROM": "reports@beaconlake.test",
        "BEACONLAKE_REPORT_CHECK_SECONDS": "0.5",
    }
    srv = start_server(tmp_path / "data", tmp_path / "logs", **env)
    full_env = {
        **os.environ,
        **env,
        "BEACONLAKE_BACKEND": "local",
        "BEACONLAKE_DATA_DIR": str(srv.data_dir),
        "BEACONLAKE_SITES": "example.com,shop.test",
    }
    out = subprocess.run(
        [str(BIN), "keys", "create", "--site", "example.com", "--scope", "sites:provision:*"],
        env=full_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"(bl_[0-9a-f]{12}_[A-Za-z0-9_-]+)", out)
    assert match, out
    try:
        yield srv, inbox, {"authorization": f"Bearer {match.group(1)}"}
    finally:
        srv.stop()
        controller.stop()


def test_serve_sends_one_alert_when_visitors_pass_the_threshold(
    served: tuple[Server, Inbox, dict[str, str]],
) -> None:
    srv, inbox, key = served
    body = {"site_id": "example.com", "recipients": [TO], "alert_threshold": 1}
    put = httpx.put(f"{srv.base}/api/v1/reports", json=body, headers=key, timeout=30)
    assert put.status_code == 200, put.text
    with httpx.Client(timeout=30) as client:
        for ip in ("192.0.2.10", "192.0.2.11"):
            beacon = {"n": "pageview", "u": "https://example.com/launch", "d": "example.com"}
            sent = client.post(
                f"{srv.base}/api/event",
                content=json.dumps(beacon),
                headers={
                    "content-type": "text/plain",
                    "user-agent": CHROME_UA,
                    "x-forwarded-for": ip,
                },
            )
            assert sent.status_code == 202, sent.text
    deadline = time.monotonic() + 20
    while not inbox.messages and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [m["subject"] for m in inbox.messages] == [
        "Traffic spike on example.com: 2 current visitors"
    ], srv.log_text()[-2000:]
    time.sleep(2)  # four more runs of the job: no second alert within the hour
    assert len(inbox.messages) == 1
    assert "192.0.2.1" not in srv.log_text() and CHROME_UA not in srv.log_text()
