"""Click tracking (/clicks.js) and experiments in real headless Chromium, against the real
local server, read back through /api/v2/query: /demo/ab.html sets an experiment from its
address, tracks a button by data-bl-click, and more elements by a selector list."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.conftest import CHROME_UA
from tests.e2e.conftest import SITE, Browser, site_url, today, wait_until
from tests.server import Server, start_server

pytestmark = pytest.mark.slow

CLICKS = Path(__file__).resolve().parents[2] / "tracker_js" / "dist" / "clicks.min.js"
GOALS = {SITE: [{"name": "Purchase", "event": "Purchase"}]}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = start_server(
        tmp_path / "data",
        tmp_path / "logs",
        BEACONLAKE_SITES=SITE,
        BEACONLAKE_GOALS=json.dumps(GOALS),
    )
    yield srv
    srv.stop()


def query(srv: Server, **body: Any) -> list[tuple[list[Any], list[Any]]]:
    full = {"site_id": SITE, "date_range": [today(), today()], **body}
    res = httpx.post(
        f"{srv.base}/api/v2/query",
        json=full,
        headers={"authorization": f"Bearer {srv.key}"},
        timeout=30,
    )
    assert res.status_code == 200, res.text
    return [(row["dimensions"], row["metrics"]) for row in res.json()["results"]]


def events(srv: Server) -> int:
    rows = query(srv, metrics=["events"])
    return int(rows[0][1][0]) if rows else 0


def visit(driver: WebDriver, srv: Server, visitor: int, path: str, clicks: list[str]) -> None:
    """One visitor (its own User-Agent, so its own daily hash) opens `path` and clicks."""
    agent = CHROME_UA.replace("Chrome/130.0.0.0", f"Chrome/130.0.{visitor}.0")
    driver.execute_cdp_cmd("Network.setUserAgentOverride", {"userAgent": agent})
    driver.get(site_url(srv, path))
    wait_until(
        lambda: driver.execute_script("return typeof beaconlake == 'function' && !beaconlake.q"),
        "the tracker to load",
    )
    for element in clicks:
        driver.find_element(By.ID, element).click()
    # The tab is "hidden" while this visitor's agent is in force: the tracker reports the
    # page's engagement now (Chromium sends a beacon of a page being left with its own agent).
    driver.execute_script(
        "Object.defineProperty(document, 'hidden', {value: true});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )


def test_clicks_js_is_served_like_the_tracker(server: Server) -> None:
    res = httpx.get(f"{server.base}/clicks.js")
    assert res.status_code == 200
    assert res.content == CLICKS.read_bytes()
    assert res.headers["content-type"].startswith("text/javascript")
    assert int(res.headers["cache-control"].split("max-age=")[1]) >= 86400


def test_clicks_on_tagged_and_listed_elements_become_events(
    server: Server, chromium: Browser
) -> None:
    driver = chromium()
    visit(driver, server, 1, "/demo/ab.html", ["buy", "cta", "pro", "plain", "buy"])
    wait_until(lambda: events(server) == 5, "a pageview and four clicks in the query API")
    by_name = query(server, metrics=["events"], dimensions=["event:name"])
    assert {d[0]: m[0] for d, m in by_name if d[0] != "engagement"} == {
        "pageview": 1,
        "Purchase": 2,
        "Click": 2,
    }
    labels = query(
        server,
        metrics=["events"],
        dimensions=["event:name", "event:props:label"],
        filters=[["is_not", "event:name", ["pageview", "engagement"]]],
    )
    assert sorted((d[0], d[1], m[0]) for d, m in labels) == [
        ("Click", "Read the details", 1),
        ("Click", "plan: pro", 1),
        ("Purchase", "Buy now", 2),
    ]
    # no experiment on this page load: no experiment props on any event
    assert query(server, metrics=["events"], dimensions=["event:props:experiment"]) == [
        ([None], [5])
    ]


def test_an_ab_test_reads_off_the_query_api_as_conversion_rates_per_variant(
    server: Server, chromium: Browser
) -> None:
    driver = chromium()
    page = "/demo/ab.html?experiment=checkout-test&variant="
    visits = [
        (1, "A", ["cta"]),
        (2, "A", ["buy"]),
        (3, "A", []),
        (4, "A", ["pro"]),
        (5, "B", ["buy", "buy"]),
        (6, "B", ["cta", "buy"]),
        (7, "B", []),
    ]
    for visitor, variant, clicks in visits:
        visit(driver, server, visitor, page + variant, clicks)
    # another experiment at the same time, with a variant of the same name, converting once
    visit(driver, server, 8, "/demo/ab.html?experiment=pricing-test&variant=B", ["buy"])
    visit(driver, server, 9, "/demo/ab.html?experiment=pricing-test&variant=B", [])
    wait_until(lambda: events(server) == 9 + 8, "nine pageviews and eight clicks")

    every = query(server, metrics=["visitors"], dimensions=["event:props:experiment"])
    assert sorted((d[0], m[0]) for d, m in every) == [("checkout-test", 7), ("pricing-test", 2)]
    goal = ["is", "event:goal", ["Purchase"]]
    experiment = ["is", "event:props:experiment", ["checkout-test"]]
    # by experiment and variant: each row's visitors who bought, and their share of the
    # row's visitors
    both = query(
        server,
        metrics=["visitors", "events", "group_conversion_rate"],
        dimensions=["event:props:experiment", "event:props:variant"],
        filters=[experiment, goal],
    )
    assert sorted((tuple(d), m[0], m[1], m[2]) for d, m in both) == [
        (("checkout-test", "A"), 1, 1, 25.0),
        (("checkout-test", "B"), 2, 3, 66.7),
    ]
    # the pageview of a visitor who clicked nothing carries the pair too: a group's visitors
    sizes = query(
        server,
        metrics=["visitors"],
        dimensions=["event:props:variant"],
        filters=[experiment, ["is", "event:name", ["pageview"]]],
    )
    assert sorted((d[0], m[0]) for d, m in sizes) == [("A", 4), ("B", 3)]
