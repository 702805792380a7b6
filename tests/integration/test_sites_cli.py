"""`beaconlake sites add|list|remove` beside a running `beaconlake serve`: the server's
collector and stats API follow the catalogue at once, with no restart."""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import CHROME_UA
from tests.server import BIN, Server, start_server

pytestmark = pytest.mark.slow
SITE = "new-site.org"


@pytest.fixture
def server(tmp_path: Path):
    srv = start_server(tmp_path / "data", tmp_path / "logs")
    yield srv
    srv.stop()


def sites(srv: Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BEACONLAKE_BACKEND": "local", "BEACONLAKE_DATA_DIR": str(srv.data_dir)}
    return subprocess.run(
        [str(BIN), "sites", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def beacon(srv: Server, domain: str) -> httpx.Response:
    body = {"n": "pageview", "u": f"https://{domain}/hello", "d": domain}
    headers = {
        "content-type": "text/plain",
        "user-agent": CHROME_UA,
        "x-forwarded-for": "192.0.2.9",
    }
    return httpx.post(f"{srv.base}/api/event", content=json.dumps(body), headers=headers)


def test_a_site_added_with_the_cli_is_tracked_and_queryable_at_once(server: Server) -> None:
    assert beacon(server, SITE).headers["x-beaconlake-dropped"] == "unknown_site"
    unknown = server.stats("/api/v1/stats/aggregate", site_id=SITE, period="day")
    assert unknown.status_code == 400, unknown.text

    added = sites(server, "add", SITE, "--timezone", "Europe/Berlin")
    assert added.returncode == 0, added.stdout + added.stderr
    listed = sites(server, "list").stdout
    assert f"{SITE}  timezone=Europe/Berlin" in listed and "example.com" in listed

    reply = beacon(server, SITE)
    assert reply.status_code == 202 and "x-beaconlake-dropped" not in reply.headers
    today = datetime.now(ZoneInfo("Europe/Berlin")).date().isoformat()  # the site's day
    deadline = time.monotonic() + 20
    while True:
        res = server.stats(
            "/api/v1/stats/aggregate", site_id=SITE, period="day", date=today, metrics="pageviews"
        )
        assert res.status_code == 200, res.text
        if res.json()["results"]["pageviews"]["value"] == 1:
            break
        assert time.monotonic() < deadline, res.text
        time.sleep(0.3)

    bad = sites(server, "add", "not a domain")
    assert bad.returncode == 2 and "not a domain name" in bad.stdout
    assert sites(server, "remove", SITE).returncode == 0
    assert beacon(server, SITE).headers["x-beaconlake-dropped"] == "unknown_site"
