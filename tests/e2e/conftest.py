"""Browser fixtures: the real `beaconlake serve`, and Debian's headless Chromium via Selenium.

Chromium resolves shop.test to the local server (so the page is not "localhost" to the
tracker or the collector) and every other host name to nothing, so no test reaches the
internet. It sends a normal desktop Chrome User-Agent: the collector drops HeadlessChrome.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.conftest import CHROME_UA
from tests.server import Server, start_server

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SITE = "shop.test"


def demo_server(root: Path, days: int, visitors: int, **env: str) -> Server:
    """`beaconlake serve` on `days` of demo traffic for example.com and shop.test."""
    sites = {**os.environ, "BEACONLAKE_SITES": "example.com,shop.test"}
    demo = [sys.executable, "-m", "beaconlake.cli", "demo", "--days", str(days)]
    demo += ["--visitors", str(visitors), "--quiet", "--data-dir", str(root / "data")]
    subprocess.run(demo, env=sites, check=True, capture_output=True, timeout=120)
    return start_server(root / "data", root / "logs", **env)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = start_server(tmp_path / "data", tmp_path / "logs", BEACONLAKE_SITES=SITE)
    yield srv
    srv.stop()


def site_url(srv: Server, path: str) -> str:
    """The page URL as the browser sees it: http://shop.test:<port><path>."""
    return f"http://{SITE}:{urlsplit(srv.base).port}{path}"


Browser = Callable[..., webdriver.Chrome]


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Browser]:
    """Starts a fresh headless Chromium; `dnt=True`, `gpc=True`, `javascript=False` as asked."""
    drivers: list[webdriver.Chrome] = []

    def start(dnt: bool = False, gpc: bool = False, javascript: bool = True) -> webdriver.Chrome:
        profile = tmp_path / f"profile-{len(drivers)}"
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--window-size=1200,800",
            f"--user-data-dir={profile}",
            f"--user-agent={CHROME_UA}",
            f"--host-resolver-rules=MAP {SITE} 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        ):
            options.add_argument(arg)
        if gpc:
            options.add_argument("--enable-features=GlobalPrivacyControl,GlobalPrivacyControlForce")
        prefs: dict[str, Any] = {
            "enable_do_not_track": dnt,
            "download.default_directory": str(tmp_path / "downloads"),
            "download.prompt_for_download": False,
        }
        if not javascript:
            prefs["profile.managed_default_content_settings.javascript"] = 2
        options.add_experimental_option("prefs", prefs)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(30)
        drivers.append(driver)
        return driver

    yield start
    for driver in drivers:
        driver.quit()


class Requests:
    """Every request a browser made, from its DevTools performance log."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver
        self.seen: list[dict[str, Any]] = []

    def to(self, path: str) -> list[dict[str, Any]]:
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                self.seen.append(message["params"]["request"])
        return [r for r in self.seen if urlsplit(r["url"]).path == path]


def wait_until(check: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def stats(srv: Server, path: str, **params: str) -> Any:
    res = srv.stats(path, site_id=SITE, period="day", date=today(), **params)
    assert res.status_code == 200, res.text
    return res.json()["results"]


def breakdown(srv: Server, prop: str, metric: str, **params: str) -> dict[str, int]:
    key = prop.split(":")[-1]
    rows = stats(srv, "/api/v1/stats/breakdown", property=prop, metrics=metric, **params)
    return {row[key]: row[metric] for row in rows}
