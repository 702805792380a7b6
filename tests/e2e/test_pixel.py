"""GET /e.gif: a transparent GIF for e-mail and <noscript>, through the same validation and
anonymisation as POST /api/event."""

from __future__ import annotations

import signal

import httpx
import pytest

from tests.conftest import BOT_UA, CHROME_UA
from tests.e2e.conftest import SITE, Browser, Requests, breakdown, site_url, stats, wait_until
from tests.server import Server, parquet_rows

pytestmark = pytest.mark.slow


def pixel(srv: Server, params: dict[str, str], **headers: str) -> httpx.Response:
    return httpx.get(
        f"{srv.base}/e.gif", params=params, headers={"user-agent": CHROME_UA, **headers}, timeout=10
    )


def assert_is_the_gif(res: httpx.Response) -> None:
    gif = res.content
    assert res.status_code == 200
    assert res.headers["content-type"] == "image/gif"
    assert "no-store" in res.headers["cache-control"]
    assert len(gif) == 43 and gif[:6] == b"GIF89a" and gif[-1:] == b";"
    assert gif[6:10] == b"\x01\x00\x01\x00", "1 x 1 pixel"
    gce = gif.index(b"\x21\xf9\x04")
    assert gif[gce + 3] & 1 and gif[gce + 6] == 0, "colour 0 is transparent"


def wait_for_pageviews(srv: Server, count: int) -> None:
    wait_until(
        lambda: (
            stats(srv, "/api/v1/stats/aggregate", metrics="pageviews")["pageviews"]["value"]
            == count
        ),
        f"{count} pageviews in the stats API",
    )


def test_the_pixel_returns_a_gif_and_its_events_reach_the_stats(server: Server) -> None:
    opened = pixel(
        server,
        {
            "d": SITE,
            "u": "https://shop.test/offers?utm_campaign=november",
            "r": "https://news.ycombinator.com/item?id=1",
            "n": "",  # blank fields of an e-mail template count as absent
            "p": "",
        },
    )
    assert_is_the_gif(opened)
    assert "x-beaconlake-dropped" not in opened.headers
    event = pixel(server, {"d": SITE, "u": "https://shop.test/newsletter", "n": "Email Open"})
    assert_is_the_gif(event)
    assert "x-beaconlake-dropped" not in event.headers

    wait_for_pageviews(server, 1)
    wait_until(
        lambda: stats(server, "/api/v1/stats/aggregate", metrics="events")["events"]["value"] == 2,
        "both pixel events",
    )
    assert breakdown(server, "event:page", "pageviews") == {"/offers": 1, "/newsletter": 0}
    assert breakdown(server, "event:name", "events") == {"pageview": 1, "Email Open": 1}
    assert breakdown(server, "visit:source", "visitors") == {"Hacker News": 1}
    assert breakdown(server, "visit:utm_campaign", "visitors") == {"november": 1}
    assert breakdown(server, "visit:browser", "visitors") == {"Chrome": 1}


@pytest.mark.parametrize(
    ("params", "headers", "reason"),
    [
        ({"u": "https://shop.test/"}, {}, "invalid"),
        ({"d": SITE}, {}, "invalid"),
        ({"d": SITE, "u": "javascript:alert(1)"}, {}, "invalid"),
        ({"d": SITE, "u": "https://shop.test/", "n": "x" * 121}, {}, "invalid"),
        ({"d": SITE, "u": "https://shop.test/", "p": "{not json"}, {}, "invalid"),
        ({"d": "other.org", "u": "https://other.org/"}, {}, "unknown_site"),
        ({"d": SITE, "u": "http://localhost/"}, {}, "localhost"),
        ({"d": SITE, "u": "https://shop.test/"}, {"user-agent": BOT_UA}, "bot"),
        ({"d": SITE, "u": "https://shop.test/"}, {"dnt": "1"}, "dnt"),
        ({"d": SITE, "u": "https://shop.test/"}, {"sec-gpc": "1"}, "gpc"),
    ],
)
def test_a_bad_or_dropped_pixel_still_returns_the_gif_and_stores_nothing(
    server: Server, params: dict[str, str], headers: dict[str, str], reason: str
) -> None:
    res = pixel(server, params, **headers)
    assert_is_the_gif(res)
    assert res.headers["x-beaconlake-dropped"] == reason
    # a good pixel after the bad one is the only event stored
    assert (
        "x-beaconlake-dropped"
        not in pixel(server, {"d": SITE, "u": "https://shop.test/ok"}).headers
    )
    wait_for_pageviews(server, 1)
    assert server.stop() in (0, -signal.SIGTERM)
    assert [r["pathname"] for r in parquet_rows(server.data_dir)] == ["/ok"]


def test_the_noscript_pixel_counts_a_visit_without_javascript(
    server: Server, chromium: Browser
) -> None:
    driver = chromium(javascript=False)
    requests = Requests(driver)
    driver.get(site_url(server, "/demo/shop.html"))
    wait_until(lambda: requests.to("/e.gif"), "the pixel request")
    wait_for_pageviews(server, 1)
    assert breakdown(server, "event:page", "pageviews") == {"/demo/shop.html": 1}
    assert breakdown(server, "visit:browser", "visitors") == {"Chrome": 1}
    assert requests.to("/api/event") == []
