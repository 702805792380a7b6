"""The built tracker in real headless Chromium, against the real local server."""

from __future__ import annotations

import base64
import hashlib
import json
import signal
from collections import Counter
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By

from tests.e2e.conftest import (
    SITE,
    Browser,
    Requests,
    breakdown,
    site_url,
    stats,
    wait_until,
)
from tests.server import Server, parquet_rows

pytestmark = pytest.mark.slow

PAGES = {"/demo/shop.html": 2, "/demo/shop/products": 1, "/demo/shop/checkout": 1}
EVENTS = {"Banner Shown": 1, "Purchase": 1, "Signup": 1, "File Download": 1}
OUTBOUND = "Outbound Link: Click"
TRACKER = Path(__file__).resolve().parents[2] / "tracker_js" / "dist" / "tracker.min.js"


def tracker_ready(driver) -> bool:
    # the queue stub has a `q`; the tracker replaces it with its own function
    return driver.execute_script("return typeof beaconlake == 'function' && !beaconlake.q")


def shop_visit(driver, srv: Server) -> None:
    """One visit to the demo shop: SPA routes, a purchase, a tagged button, a scroll to the
    bottom, a download, and finally an outbound link that leaves the page."""
    driver.get(site_url(srv, "/demo/shop.html"))
    wait_until(lambda: tracker_ready(driver), "the tracker to load")
    view = driver.find_element(By.ID, "view")

    driver.find_element(By.ID, "products").click()  # pushState
    wait_until(lambda: view.text == "Products", "the products route")
    driver.find_element(By.ID, "sort").click()  # replaceState, same path: no pageview
    wait_until(lambda: driver.current_url.endswith("/demo/shop/products?sort=price"), "sorting")
    driver.find_element(By.ID, "checkout").click()  # replaceState to a new path
    wait_until(lambda: view.text == "Checkout", "the checkout route")
    driver.back()  # popstate
    wait_until(lambda: view.text == "Home", "the way back home")

    driver.find_element(By.ID, "buy").click()
    wait_until(lambda: driver.find_element(By.ID, "thanks").text, "the event's callback")
    driver.find_element(By.ID, "trial").click()
    driver.execute_script("window.scrollTo(0, document.documentElement.scrollHeight)")
    wait_until(
        lambda: driver.execute_script(
            "return scrollY + innerHeight >= document.documentElement.scrollHeight - 1"
        ),
        "the scroll to the bottom",
    )
    driver.find_element(By.ID, "download").click()
    assert driver.current_url == site_url(srv, "/demo/shop.html")
    assert driver.get_cookies() == []
    assert driver.execute_script("return localStorage.length + sessionStorage.length") == 0

    driver.find_element(By.ID, "partner").click()  # leaves the page, to a host that never resolves
    wait_until(lambda: driver.current_url.startswith("http://partner.test/"), "leaving the shop")


def test_a_visit_in_chromium_gives_exactly_these_stats(server: Server, chromium: Browser) -> None:
    driver = chromium()
    requests = Requests(driver)
    shop_visit(driver, server)

    expected_events = sum(PAGES.values()) + sum(EVENTS.values()) + 1
    wait_until(
        lambda: (
            stats(server, "/api/v1/stats/aggregate", metrics="events")["events"]["value"]
            == expected_events
        ),
        "the visit in the stats API",
    )
    totals = stats(
        server, "/api/v1/stats/aggregate", metrics="visitors,visits,pageviews,events,bounce_rate"
    )
    assert {k: v["value"] for k, v in totals.items()} == {
        "visitors": 1,
        "visits": 1,
        "pageviews": 4,
        "events": expected_events,
        "bounce_rate": 0,
    }
    assert breakdown(server, "event:page", "pageviews") == PAGES
    names = breakdown(server, "event:name", "events")
    names.pop("engagement", None)  # engagement events count as no event
    assert names == {"pageview": 4, **EVENTS, OUTBOUND: 1}
    assert breakdown(server, "event:props:plan", "events", filters="event:name==Purchase") == {
        "pro": 1
    }
    assert breakdown(server, "event:props:plan", "events", filters="event:name==Signup") == {
        "free trial": 1
    }
    assert breakdown(
        server, "event:props:variant", "events", filters="event:name==Banner Shown"
    ) == {"spring": 1}
    assert breakdown(server, "event:props:url", "events", filters="event:name==File Download") == {
        site_url(server, "/demo/price-list.csv"): 1
    }
    assert breakdown(server, "event:props:url", "events", filters=f"event:name=={OUTBOUND}") == {
        "http://partner.test/deals": 1
    }
    assert breakdown(server, "visit:browser", "visitors") == {"Chrome": 1}

    # the engagement of the page left last (scrolled to the bottom) goes out on pagehide
    wait_until(
        lambda: any(r["scroll_depth"] == 100 for r in parquet_rows(server.data_dir)),
        "the last engagement beacon",
    )
    assert server.stop() in (0, -signal.SIGTERM)
    rows = sorted(parquet_rows(server.data_dir), key=lambda r: r["ts"])
    assert {(r["hostname"], r["browser"], r["os"]) for r in rows} == {(SITE, "Chrome", "Windows")}
    assert Counter(r["name"] for r in rows) == Counter(
        {"pageview": 4, **EVENTS, OUTBOUND: 1, "engagement": 4}
    )
    # every beacon the browser logged was stored (beacons sent while a page unloads may be
    # missing from Chromium's log, so this is a subset)
    logged = Counter(json.loads(r["postData"])["n"] for r in requests.to("/api/event"))
    assert logged and not logged - Counter(r["name"] for r in rows)
    (purchase,) = [r for r in rows if r["name"] == "Purchase"]
    assert (purchase["revenue_amount"], purchase["revenue_currency"]) == (Decimal("29.99"), "EUR")
    (banner,) = [r for r in rows if r["name"] == "Banner Shown"]
    assert banner["interactive"] is False
    engagement = [r for r in rows if r["name"] == "engagement"]
    # one report per page left: three SPA navigations, then the outbound link. The SPA reports
    # go out in quick succession as separate requests, so their arrival order is not fixed.
    assert Counter(r["pathname"] for r in engagement) == Counter(
        ["/demo/shop.html", "/demo/shop/products", "/demo/shop/checkout", "/demo/shop.html"]
    )
    assert (engagement[-1]["pathname"], engagement[-1]["scroll_depth"]) == ("/demo/shop.html", 100)
    assert all(0 < r["scroll_depth"] <= 100 and r["engaged_ms"] >= 0 for r in engagement)
    assert sum(r["engaged_ms"] for r in engagement) > 0


@pytest.mark.parametrize("privacy_signal", ["dnt", "gpc"])
def test_a_browser_with_dnt_or_gpc_sends_nothing(
    server: Server, chromium: Browser, privacy_signal: str
) -> None:
    driver = chromium(**{privacy_signal: True})
    requests = Requests(driver)
    driver.get("data:text/html,")
    assert driver.execute_script(
        "return [navigator.doNotTrack, navigator.globalPrivacyControl]"
    ) == (["1", None] if privacy_signal == "dnt" else [None, True])
    shop_visit(driver, server)
    assert requests.to("/demo/shop.html"), "the page was loaded"
    assert requests.to("/tracker.js"), "the tracker was loaded"
    assert requests.to("/api/event") == []
    assert server.stop() in (0, -signal.SIGTERM)
    assert parquet_rows(server.data_dir) == []


def test_an_automated_browser_is_ignored_unless_the_tag_allows_it(
    server: Server, chromium: Browser
) -> None:
    driver = chromium()
    requests = Requests(driver)
    driver.get(site_url(server, "/demo"))  # the demo page has no data-allow-automation
    wait_until(lambda: tracker_ready(driver), "the tracker to load")
    assert driver.execute_script("return navigator.webdriver") is True
    driver.find_element(By.ID, "event").click()
    driver.find_element(By.ID, "spa").click()
    assert driver.execute_script("return window.shown") == []
    assert requests.to("/api/event") == []


def test_tracker_js_is_served_with_an_etag_and_long_caching(server: Server) -> None:
    res = httpx.get(f"{server.base}/tracker.js")
    assert res.status_code == 200
    assert res.content == TRACKER.read_bytes()
    assert res.headers["content-type"].startswith("text/javascript")
    assert int(res.headers["cache-control"].split("max-age=")[1]) >= 86400
    again = httpx.get(f"{server.base}/tracker.js", headers={"if-none-match": res.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")
    demo = httpx.get(f"{server.base}/demo")
    assert demo.status_code == 200 and 'src="/tracker.js"' in demo.text


def test_the_sri_hash_lets_chromium_run_the_tracker_from_another_origin(
    server: Server, chromium: Browser
) -> None:
    sri = "sha384-" + base64.b64encode(hashlib.sha384(TRACKER.read_bytes()).digest()).decode()
    driver = chromium()
    driver.get(f"{server.base}/no-such-page")  # any page on another origin than shop.test

    def loads_with(integrity: str) -> str:
        driver.execute_script(
            """const s = document.createElement('script');
            s.src = arguments[0]; s.integrity = arguments[1]; s.crossOrigin = 'anonymous';
            s.onload = () => { document.title = typeof beaconlake; };
            s.onerror = () => { document.title = 'blocked'; };
            document.title = ''; document.head.append(s);""",
            site_url(server, "/tracker.js"),
            integrity,
        )
        return wait_until(lambda: driver.title, "the script to load or be blocked")

    assert loads_with("sha384-" + "A" * 64) == "blocked"
    assert loads_with(sri) == "function"
