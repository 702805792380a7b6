"""The dashboard over days whose raw events retention deleted: a panel whose columns the
rollups cannot answer (time on page, shares) shows visitors alone and says so, with the
stats API's numbers; over days that keep their raw events it shows every column."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.conftest import Browser, today, wait_until
from tests.e2e.test_dashboard import SITE, all_ready, api, shown_rows
from tests.server import Server, start_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("retention")
    env = {**os.environ, "BEACONLAKE_DATA_DIR": str(root / "data"), "BEACONLAKE_SITES": SITE}
    for step in (
        ["demo", "--days", "12", "--visitors", "30", "--quiet"],
        ["retention", "--days", "4"],
    ):
        cmd = [sys.executable, "-m", "beaconlake.cli", *step]
        subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=120)
    server = start_server(root / "data", root / "logs", BEACONLAKE_SITES=SITE)
    yield server
    server.stop()


def note(driver: WebDriver, panel: str) -> bool:
    section = driver.find_element(By.CSS_SELECTOR, f"[data-panel='{panel}']")
    return bool(section.find_elements(By.CSS_SELECTOR, ".note.fewer"))


def columns(shown: dict[str, object]) -> set[str]:
    return {m for _, cells in shown["rows"] for m, _ in cells}  # type: ignore[attr-defined]


def test_a_panel_over_expired_days_shows_visitors_only(srv: Server, chromium: Browser) -> None:
    last = date.fromisoformat(today()) - timedelta(days=1)
    days = [(last - timedelta(days=9)).isoformat(), last.isoformat()]  # 7 of them expired
    driver = chromium()
    driver.get(f"{srv.base}/api/dashboard?period=custom&from={days[0]}&to={days[1]}")
    wait_until(lambda: driver.find_elements(By.ID, "secret"), "the log-in form")[0].send_keys(
        srv.key
    )
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    # the goals panel cannot fall back (conversions need raw events): it shows the reason
    wait_until(
        lambda: any(
            "raw events" in e.text
            for e in driver.find_elements(By.CSS_SELECTOR, "[data-panel='goals'] .error")
        ),
        "the goals panel's reason",
    )

    # the pages panel's time on page and scroll depth need raw events: visitors alone
    def rows_of(panel: str) -> dict[str, object] | None:
        shown = shown_rows(driver, panel)
        return shown if shown["rows"] else None

    pages = wait_until(lambda: rows_of("pages"), "the pages panel")
    assert columns(pages) == {"visitors"}
    assert note(driver, "pages"), "the pages panel does not say why"
    body = {
        "site_id": SITE,
        "metrics": ["visitors"],
        "date_range": days,
        "dimensions": ["event:page"],
        "pagination": {"limit": 10},
    }
    expected = api(srv, "/api/v2/query", body)
    assert expected["meta"]["answered_from"] == "daily_rollups"
    assert [(label, float(cells[0][1])) for label, cells in pages["rows"]] == [
        (row["dimensions"][0] or "", float(row["metrics"][0])) for row in expected["results"]
    ]

    # what daily rollups hold (visitors and shares by country) keeps every column
    countries = shown_rows(driver, "countries")
    assert columns(countries) == {"visitors", "percentage"}
    assert not note(driver, "countries")

    # two days that keep their raw events: every column, no note
    kept = [(last - timedelta(days=1)).isoformat(), last.isoformat()]
    driver.get(f"{srv.base}/api/dashboard?period=custom&from={kept[0]}&to={kept[1]}")
    shown = wait_until(
        lambda: (
            all_ready(driver, 8)
            and shown_rows(driver, "pages")["rows"]
            and shown_rows(driver, "pages")
        ),
        "the pages of kept days",
    )
    assert "visitors" in columns(shown) and len(columns(shown)) > 1
    assert not note(driver, "pages")
