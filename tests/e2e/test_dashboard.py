"""The dashboard in real headless Chromium against the real `beaconlake serve` on demo data:
log in, the numbers the stats API gives, a click that filters every panel, CSV export, the
funnel and journey views, password log-in and a shared link; screenshots in test-artifacts/."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from beaconlake.dashboard.passwords import hash_password
from tests.e2e.conftest import Browser, Requests, demo_server, today, wait_until
from tests.server import Server

pytestmark = pytest.mark.slow

SITE = "example.com"
PASSWORD = "operator-pass-1"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CARD_METRICS = [
    "visitors",
    "visits",
    "pageviews",
    "views_per_visit",
    "bounce_rate",
    "visit_duration",
]
PANELS = ("pages", "sources", "countries", "devices", "goals")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = demo_server(
        tmp_path_factory.mktemp("dashboard"),
        14,
        60,
        BEACONLAKE_DASHBOARD_PASSWORD_HASH=hash_password(PASSWORD),
    )
    yield server
    server.stop()


def api(srv: Server, path: str, body: dict[str, Any], csv: bool = False) -> Any:
    res = httpx.post(
        f"{srv.base}{path}",
        params={"format": "csv"} if csv else None,
        json=body,
        headers={"authorization": f"Bearer {srv.key}"},
        timeout=30,
    )
    assert res.status_code == 200, res.text
    return res.text if csv else res.json()


def has_route(srv: Server, path: str) -> bool:
    return path in httpx.get(f"{srv.base}/api/openapi.json", timeout=10).json()["paths"]


def all_ready(driver: WebDriver, at_least: int = 1) -> bool:
    return bool(
        driver.execute_script(
            "const p = [...document.querySelectorAll('[data-panel]')];"
            "return p.length >= arguments[0] && p.every(e => e.dataset.state === 'ready');",
            at_least,
        )
    )


def log_in(
    driver: WebDriver, srv: Server, query: str = "?period=7d", password: bool = False
) -> None:
    driver.get(f"{srv.base}/api/dashboard{query}")
    field = wait_until(lambda: driver.find_elements(By.ID, "secret"), "the log-in form")[0]
    if password:
        driver.find_element(By.XPATH, "//button[normalize-space()='Password']").click()
    field.send_keys(PASSWORD if password else srv.key)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    try:
        # a fresh server's first load writes the rollups: give it more than a click's time
        wait_until(lambda: all_ready(driver, 8 if "view=" not in query else 1), "the dashboard", 45)
    except AssertionError as exc:  # say which panel is not ready, and why
        states = driver.execute_script(
            "return [...document.querySelectorAll('[data-panel]')].map(e => [e.dataset.panel,"
            " e.dataset.state, (e.querySelector('.error') || {}).textContent || '']);"
        )
        raise AssertionError(f"{exc}; panels: {states}") from None


def shown_rows(driver: WebDriver, panel: str) -> dict[str, Any]:
    return dict(
        driver.execute_script(
            "const s = document.querySelector(`[data-panel='${arguments[0]}']`);"
            "return {dim: s.dataset.dim, state: s.dataset.state, rows: [...s.querySelectorAll("
            "'tbody tr')].map(tr => [tr.dataset.value, [...tr.querySelectorAll('td[data-metric]')]"
            ".map(td => [td.dataset.metric, td.dataset.value])])};",
            panel,
        )
    )


def _same(shown: str, value: Any) -> bool:
    return shown == "" if value is None else float(shown) == float(value)


def shown_days(requests: Requests, path: str = "/api/v2/query") -> list[str]:
    """The days the dashboard asked the stats API for last (the 7 site-local days up to the
    day it was loaded: a dashboard open across midnight keeps showing the days it shows)."""
    bodies = [json.loads(r.get("postData") or "{}") for r in requests.to(path)]
    ranges = [b.get("date_range") for b in bodies]
    days = [r for r in ranges if isinstance(r, list) and all(len(d) == 10 for d in r)]
    assert days, "the dashboard asked for no days"
    first, last = (date.fromisoformat(d) for d in days[-1])
    assert last - first == timedelta(days=6)
    assert last in {date.fromisoformat(today()), date.fromisoformat(today()) - timedelta(days=1)}
    return list(days[-1])


def panel_matches(
    driver: WebDriver, srv: Server, panel: str, filters: list[Any], days: list[str]
) -> bool:
    shown = shown_rows(driver, panel)
    if shown["state"] != "ready" or not shown["rows"]:
        return False
    metrics = [m for m, _ in shown["rows"][0][1]]
    body = {
        "site_id": SITE,
        "metrics": metrics,
        "date_range": days,
        "dimensions": [shown["dim"]],
        "filters": filters,
        "pagination": {"limit": 10},
    }
    expected = api(srv, "/api/v2/query", body)["results"]
    if len(expected) != len(shown["rows"]):
        return False
    for row, (label, cells) in zip(expected, shown["rows"], strict=True):
        if (row["dimensions"][0] or "") != label:
            return False
        if not all(_same(v, e) for (_, v), e in zip(cells, row["metrics"], strict=True)):
            return False
    return True


def cards_match(driver: WebDriver, srv: Server, filters: list[Any], days: list[str]) -> bool:
    body = {"site_id": SITE, "metrics": CARD_METRICS, "date_range": days, "filters": filters}
    expected = api(srv, "/api/v2/query", body)["results"][0]["metrics"]
    shown = [
        driver.find_element(By.CSS_SELECTOR, f".card[data-metric='{m}']").get_attribute(
            "data-value"
        )
        for m in CARD_METRICS
    ]
    return all(_same(s or "", e) for s, e in zip(shown, expected, strict=True))


def everything_matches(
    driver: WebDriver, srv: Server, filters: list[Any], requests: Requests
) -> bool:
    if not all_ready(driver, 8):
        return False
    days = shown_days(requests)
    return cards_match(driver, srv, filters, days) and all(
        panel_matches(driver, srv, p, filters, days) for p in PANELS
    )


def screenshot(driver: WebDriver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path


def test_numbers_filters_csv_and_screenshots(
    srv: Server, chromium: Browser, tmp_path: Path
) -> None:
    driver = chromium()
    requests = Requests(driver)
    driver.set_window_size(1280, 1400)
    log_in(driver, srv)
    wait_until(
        lambda: everything_matches(driver, srv, [], requests), "the numbers of the stats API"
    )

    def card_text(metric: str) -> str:
        return str(
            driver.find_element(By.CSS_SELECTOR, f".card[data-metric='{metric}'] strong").text
        )

    assert re.fullmatch(r"\d+s|\d+m \d+s|\d+h \d+m", card_text("visit_duration"))
    assert re.fullmatch(r"\d+(\.\d)?[kM]?", card_text("pageviews"))
    assert re.fullmatch(r"\d+(\.\d)?%", card_text("bounce_rate"))
    live = driver.find_element(By.CSS_SELECTOR, "[data-panel='live']").get_attribute("data-value")
    assert live is not None and live.isdigit()
    assert driver.find_elements(By.CSS_SELECTOR, "[data-panel='chart'] canvas")
    screenshot(driver, "dashboard-desktop.png")

    # a click on a channel filters the whole dashboard, as a chip and in the URL
    sources = driver.find_element(By.CSS_SELECTOR, "[data-panel='sources']")
    row = sources.find_element(By.CSS_SELECTOR, "tbody tr[data-value]:not([data-value='']) button")
    channel = row.find_element(By.XPATH, "./ancestor::tr").get_attribute("data-value")
    row.click()
    filters = [["is", "visit:channel", [channel]]]
    wait_until(lambda: everything_matches(driver, srv, filters, requests), "every panel filtered")
    assert parse_qs(urlsplit(driver.current_url).query)["f"] == [f"visit:channel=={channel}"]
    assert [r[0] for r in shown_rows(driver, "sources")["rows"]] == [channel]
    chip = driver.find_element(By.CSS_SELECTOR, ".chip")
    assert chip.get_attribute("data-value") == channel

    # the view is bookmarkable: a fresh load of the URL shows the same filtered numbers
    driver.get(driver.current_url)
    wait_until(lambda: everything_matches(driver, srv, filters, requests), "the bookmarked view")

    # CSV export of a panel: the same rows as the API's CSV
    downloads = tmp_path / "dl"
    downloads.mkdir()
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    pages = driver.find_element(By.CSS_SELECTOR, "[data-panel='pages']")
    pages.find_element(By.CSS_SELECTOR, "button.csv").click()
    target = downloads / f"{SITE}-pages-top.csv"
    wait_until(target.exists, "the CSV download")
    asked = [r for r in requests.to("/api/v2/query") if "format=csv" in r["url"]]
    assert len(asked) == 1
    body = json.loads(asked[0]["postData"])
    assert body.pop("date_range") == shown_days(requests)  # the days the dashboard shows
    assert body == {
        "site_id": SITE,
        "metrics": ["visitors", "pageviews", "time_on_page", "scroll_depth"],
        "dimensions": ["event:page"],
        "filters": filters,
        "pagination": {"limit": 10000},
    }
    body["date_range"] = shown_days(requests)
    expected_csv = api(srv, "/api/v2/query", body, csv=True)
    wait_until(lambda: target.read_bytes() == expected_csv.encode(), "the whole CSV file")
    assert expected_csv.splitlines()[0] == "event:page,visitors,pageviews,time_on_page,scroll_depth"

    # removing the chip brings back the unfiltered dashboard
    driver.find_element(By.CSS_SELECTOR, ".chip button").click()
    wait_until(lambda: everything_matches(driver, srv, [], requests), "the unfiltered dashboard")
    assert "f" not in parse_qs(urlsplit(driver.current_url).query)

    driver.set_window_size(390, 844)
    wait_until(lambda: all_ready(driver, 8), "the phone layout")
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, "the page scrolls sideways on a phone"
    screenshot(driver, "dashboard-phone.png")


def test_funnel_journey_and_retention_views(srv: Server, chromium: Browser) -> None:
    driver = chromium()
    requests = Requests(driver)
    log_in(driver, srv, "?period=7d&view=funnel&s=page:/&s=event:Signup")
    wait_until(lambda: all_ready(driver), "the funnel view")
    if has_route(srv, "/api/v2/funnel"):
        body: dict[str, Any] = {
            "site_id": SITE,
            "date_range": shown_days(requests, "/api/v2/funnel"),
            "filters": [],
            "steps": [{"page": "/"}, {"event": "Signup"}],
            "order": "ordered",
        }
        expected = [s["visitors"] for s in api(srv, "/api/v2/funnel", body)["steps"]]
        steps = driver.find_elements(By.CSS_SELECTOR, ".funnel-step")
        assert [int(s.get_attribute("data-visitors") or -1) for s in steps] == expected
        assert expected[0] > 0
        assert driver.find_elements(By.CSS_SELECTOR, ".funnel-step .bar")
    else:
        assert "not available" in driver.find_element(By.CSS_SELECTOR, ".not-available").text
    screenshot(driver, "dashboard-funnel.png")

    driver.find_element(By.CSS_SELECTOR, "nav.views button[data-view='journeys']").click()
    wait_until(
        lambda: driver.find_elements(By.CSS_SELECTOR, "[data-panel='journeys'], .not-available"),
        "the journey view",
    )
    wait_until(lambda: all_ready(driver), "the journeys")
    if has_route(srv, "/api/v2/journeys"):
        for direction, button in (("next", None), ("previous", "Came from")):
            if button:
                driver.find_element(By.XPATH, f"//button[normalize-space()='{button}']").click()
            body = {
                "site_id": SITE,
                "date_range": shown_days(requests, "/api/v2/journeys"),
                "filters": [],
                "page": "/",
                "direction": direction,
                "limit": 10,
            }
            expected = [
                (r["page"], r["visits"]) for r in api(srv, "/api/v2/journeys", body)["results"]
            ]

            def shown() -> list[tuple[str, int]]:
                items = driver.find_elements(By.CSS_SELECTOR, ".journey-list li")
                return [
                    (i.get_attribute("data-page") or "", int(i.get_attribute("data-visits") or -1))
                    for i in items
                ]

            wait_until(lambda: all_ready(driver) and shown() == expected, f"journeys {direction}")
            assert expected
    else:
        assert "not available" in driver.find_element(By.CSS_SELECTOR, ".not-available").text

    driver.find_element(By.CSS_SELECTOR, "nav.views button[data-view='retention']").click()
    wait_until(
        lambda: driver.find_elements(By.CSS_SELECTOR, "[data-panel='retention'], .not-available"),
        "the retention view",
    )
    wait_until(lambda: all_ready(driver), "retention")
    if has_route(srv, "/api/v2/retention"):
        answer = api(
            srv,
            "/api/v2/retention",
            {
                "site_id": SITE,
                "date_range": shown_days(requests, "/api/v2/retention"),
                "period": "week",
            },
        )
        if answer["available"]:
            rows = driver.find_elements(By.CSS_SELECTOR, "table.retention tbody tr")
            assert len(rows) == len(answer["cohorts"])
        else:
            text = driver.find_element(By.CSS_SELECTOR, ".not-available").text
            assert answer["reason"].split(".")[0] in text
    else:
        assert "not available" in driver.find_element(By.CSS_SELECTOR, ".not-available").text


def test_password_log_in_and_a_protected_shared_link(srv: Server, chromium: Browser) -> None:
    owner = chromium()
    log_in(owner, srv, password=True)
    owner.find_element(By.XPATH, "//button[normalize-space()='Share']").click()
    dialog = wait_until(
        lambda: owner.find_elements(By.CSS_SELECTOR, ".dialog"), "the share dialog"
    )[0]
    dialog.find_element(By.CSS_SELECTOR, "input[type=password]").send_keys("link-pass-1")
    dialog.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    link_input = wait_until(
        lambda: owner.find_elements(By.CSS_SELECTOR, ".created input"), "the link"
    )[0]
    link = link_input.get_attribute("value") or ""
    assert "/api/share/" in link

    guest = chromium()
    guest.get(link)
    field = wait_until(lambda: guest.find_elements(By.ID, "share-password"), "the link's password")[
        0
    ]
    field.send_keys("link-pass-1", Keys.ENTER)
    wait_until(lambda: all_ready(guest, 8), "the shared dashboard")
    assert "read-only" in guest.find_element(By.CSS_SELECTOR, ".badge").text
    assert not guest.find_elements(By.XPATH, "//button[normalize-space()='Share']")

    # keyboard: focus a country and press Enter
    button = guest.find_element(By.CSS_SELECTOR, "[data-panel='countries'] tbody button")
    country = button.find_element(By.XPATH, "./ancestor::tr").get_attribute("data-value")
    button.send_keys(Keys.ENTER)
    wait_until(
        lambda: guest.find_elements(By.CSS_SELECTOR, f".chip[data-value='{country}']"),
        "the country filter",
    )
    filters = [["is", "visit:country", [country]]]
    body = {"site_id": SITE, "metrics": CARD_METRICS, "date_range": "30d", "filters": filters}
    visitors = api(srv, "/api/v2/query", body)["results"][0]["metrics"][0]
    card = ".card[data-metric='visitors']"
    wait_until(
        lambda: (
            guest.find_element(By.CSS_SELECTOR, card).get_attribute("data-value") == str(visitors)
        ),
        "the filtered visitors",
    )

    dialog.find_element(By.XPATH, ".//button[normalize-space()='Revoke']").click()
    wait_until(lambda: not owner.find_elements(By.CSS_SELECTOR, ".shares li"), "the revocation")
    guest.get(link)
    wait_until(lambda: guest.find_elements(By.CSS_SELECTOR, ".not-available"), "the dead link")
    assert "revoked" in guest.find_element(By.CSS_SELECTOR, ".not-available").text
