"""The dashboard in minimal mode with no visitor id (real Chromium, real `beaconlake serve`):
the cards the mode makes unavailable show "n/a" with the reason as tooltip, the others their
numbers, and a line says that visitors = visits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.e2e.conftest import Browser, demo_server, wait_until
from tests.e2e.test_dashboard import ARTIFACTS, log_in
from tests.server import Server

pytestmark = pytest.mark.slow

UNAVAILABLE = ("views_per_visit", "bounce_rate", "visit_duration")
MODE = {"BEACONLAKE_PRIVACY": "minimal", "BEACONLAKE_PRIVACY_NO_VISITOR_ID": "true"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # the demo data goes through the collector in the same mode
    with pytest.MonkeyPatch.context() as env:
        for name, value in MODE.items():
            env.setenv(name, value)
        server = demo_server(tmp_path_factory.mktemp("privacy"), 7, 40, **MODE)
    yield server
    server.stop()


def card(driver, metric: str) -> dict[str, str]:
    return dict(
        driver.execute_script(
            "const c = document.querySelector(`.card[data-metric='${arguments[0]}']`);"
            "return {text: c.querySelector('strong').textContent, title: c.title,"
            " na: c.dataset.unavailable, value: c.dataset.value};",
            metric,
        )
    )


def test_unavailable_cards_say_na_and_why(srv: Server, chromium: Browser, tmp_path: Path) -> None:
    driver = chromium()
    log_in(driver, srv)
    wait_until(lambda: card(driver, "visitors")["value"], "the visitors card's number")
    for metric in UNAVAILABLE:
        shown = card(driver, metric)
        assert (shown["text"], shown["na"]) == ("n/a", "1"), metric
        assert shown["title"].startswith("Not available: timestamps are rounded to the hour")
    visitors = card(driver, "visitors")
    assert visitors["na"] == "" and visitors["text"] not in ("n/a", "…")
    assert int(visitors["value"]) > 0
    assert card(driver, "visits")["value"] == visitors["value"]
    note = driver.find_element(By.CSS_SELECTOR, "[data-note='visitors-are-visits']")
    assert note.text.startswith("Visitors = visits in this mode")
    live = driver.find_element(By.CSS_SELECTOR, ".card.live")
    wait_until(lambda: live.find_element(By.TAG_NAME, "strong").text == "n/a", "live n/a")
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "dashboard-privacy-minimal.png"))
