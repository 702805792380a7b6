"""The real local server over HTTP: beacons in, the stats API's numbers out, exactly."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime

import httpx
import pytest

from tests.conftest import CHROME_UA, FIREFOX_UA, IPHONE_UA
from tests.reference import Hit, breakdown, metrics
from tests.server import Server, parquet_rows, start_server

pytestmark = pytest.mark.slow

AGENTS = [
    (CHROME_UA, "Chrome", "Windows", "desktop"),
    (IPHONE_UA, "Mobile Safari", "iOS", "mobile"),
    (FIREFOX_UA, "Firefox", "Linux", "desktop"),
]
SOURCES = [(None, None), ("https://www.google.com/", "Google"), ("https://t.co/x", "Twitter")]


@pytest.fixture
def server(tmp_path):
    srv = start_server(tmp_path / "data", tmp_path / "logs")
    yield srv
    srv.stop()


def send(client: httpx.Client, srv: Server, body, ip: str, ua: str, **headers) -> httpx.Response:
    return client.post(
        f"{srv.base}/api/event",
        content=body if isinstance(body, str | bytes) else json.dumps(body),
        headers={"content-type": "text/plain", "user-agent": ua, "x-forwarded-for": ip, **headers},
    )


def wait_for(srv: Server, pageviews: int, timeout: float = 20) -> None:
    today = datetime.now(UTC).date().isoformat()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        res = srv.stats(
            "/api/v1/stats/aggregate",
            site_id="example.com",
            period="day",
            date=today,
            metrics="pageviews",
        )
        if res.status_code == 200 and res.json()["results"]["pageviews"]["value"] >= pageviews:
            return
        time.sleep(0.3)
    raise AssertionError("events did not reach the stats API in time")


def test_beacons_over_http_give_exactly_the_expected_stats(server: Server) -> None:
    rng = random.Random(3)
    hits: list[Hit] = []
    with httpx.Client(timeout=10) as client:
        for v in range(25):
            ua, browser, os_, device = AGENTS[v % 3]
            country = ["DE", "US", "FR"][v % 3]
            ip = f"192.0.2.{v + 10}"
            referrer, source = SOURCES[v % 3]
            utm = "?utm_source=news&utm_medium=email" if v % 5 == 0 else ""
            if utm:
                source = "news"
            for i in range(rng.randint(1, 4)):
                path = rng.choice(["/", "/pricing", "/docs"])
                body = {
                    "n": "pageview",
                    "u": f"https://example.com{path}{utm if i == 0 else ''}",
                    "d": "example.com",
                }
                if i == 0 and referrer:
                    body["r"] = referrer
                # the server stamps events to the millisecond; the reference orders a visit's
                # pages as sent, so two of them must not share one
                time.sleep(0.002)
                res = send(client, server, body, ip, ua, **{"cloudfront-viewer-country": country})
                assert res.status_code == 202 and "x-beaconlake-dropped" not in res.headers
                hits.append(
                    Hit(
                        v,
                        datetime.now(UTC),
                        "pageview",
                        path,
                        source,
                        {"utm_source": "news", "utm_medium": "email"} if utm else {},
                        browser=browser,
                        os=os_,
                        device=device,
                        country=country,
                    )
                )
            if v % 4 == 0:
                body = {
                    "n": "Signup",
                    "u": "https://example.com/pricing",
                    "d": "example.com",
                    "p": {"plan": "pro" if v % 8 == 0 else "free"},
                }
                assert (
                    send(
                        client, server, body, ip, ua, **{"cloudfront-viewer-country": country}
                    ).status_code
                    == 202
                )
                hits.append(
                    Hit(
                        v,
                        datetime.now(UTC),
                        "Signup",
                        "/pricing",
                        source,
                        {},
                        {"plan": body["p"]["plan"]},
                        browser=browser,
                        os=os_,
                        device=device,
                        country=country,
                    )
                )
        # bad and dropped beacons change nothing
        assert (
            send(
                client, server, {"n": "pageview", "d": "example.com"}, "192.0.2.1", CHROME_UA
            ).status_code
            == 400
        )
        assert send(client, server, "x" * 70_000, "192.0.2.1", CHROME_UA).status_code == 413
        assert send(client, server, "{oops", "192.0.2.1", CHROME_UA).status_code == 400
        bot = send(
            client,
            server,
            {"n": "pageview", "u": "https://example.com/", "d": "example.com"},
            "192.0.2.1",
            "Googlebot/2.1 (+http://www.google.com/bot.html)",
        )
        assert bot.status_code == 202 and bot.headers["x-beaconlake-dropped"] == "bot"
        other = send(
            client,
            server,
            {"n": "pageview", "u": "https://x.org/", "d": "x.org"},
            "192.0.2.1",
            CHROME_UA,
        )
        assert other.headers["x-beaconlake-dropped"] == "unknown_site"

    expected_pageviews = sum(h.name == "pageview" for h in hits)
    wait_for(server, expected_pageviews)
    all_metrics = "visitors,visits,pageviews,events,bounce_rate,views_per_visit,visit_duration"
    res = server.stats(
        "/api/v1/stats/aggregate", site_id="example.com", period="day", metrics=all_metrics
    )
    assert res.status_code == 200
    got = {k: v["value"] for k, v in res.json()["results"].items()}
    exp = metrics(hits)
    # durations depend on server-side arrival times; everything else is exact
    assert abs(got.pop("visit_duration") - exp.pop("visit_duration")) <= 2
    assert got == exp

    for prop, key in [
        ("event:page", "page"),
        ("visit:entry_page", "entry_page"),
        ("visit:exit_page", "exit_page"),
        ("visit:source", "source"),
        ("visit:utm_source", "utm_source"),
        ("visit:utm_medium", "utm_medium"),
        ("visit:browser", "browser"),
        ("visit:os", "os"),
        ("visit:device", "device"),
        ("visit:country", "country"),
    ]:
        wanted = (
            "visitors,pageviews"
            if prop == "event:page"
            else "visitors,visits,pageviews,bounce_rate"
        )
        res = server.stats(
            "/api/v1/stats/breakdown",
            site_id="example.com",
            period="day",
            property=prop,
            metrics=wanted,
            limit="100",
        )
        assert res.status_code == 200, res.text
        name = prop.split(":")[1]
        rows = {(r[name] if r[name] != "Direct / None" else None): r for r in res.json()["results"]}
        expected = breakdown(hits, key)
        assert set(rows) == set(expected), prop
        for value, e in expected.items():
            assert {m: rows[value][m] for m in wanted.split(",")} == {
                m: e[m] for m in wanted.split(",")
            }, (prop, value)

    res = server.stats(
        "/api/v1/stats/breakdown",
        site_id="example.com",
        period="day",
        property="event:props:plan",
        metrics="visitors,events",
        filters="event:name==Signup",
    )
    plans = {r["plan"]: r["events"] for r in res.json()["results"]}
    assert plans == {p: sum(h.props.get("plan") == p for h in hits) for p in ("pro", "free")}

    hour_before = datetime.now(UTC).hour
    series = server.stats(
        "/api/v1/stats/timeseries", site_id="example.com", period="day", metrics="pageviews"
    ).json()["results"]
    # today's hours up to now (none after it), the hour may turn meanwhile
    assert len(series) in {hour_before + 1, datetime.now(UTC).hour + 1}
    assert sum(r["pageviews"] for r in series) == expected_pageviews
    assert len(parquet_rows(server.data_dir)) == len(hits)


def test_server_serves_openapi_docs_and_rejects_unknown_routes(server: Server) -> None:
    spec = httpx.get(f"{server.base}/api/openapi.json").json()
    assert "/api/v1/stats/aggregate" in spec["paths"]
    assert httpx.get(f"{server.base}/api/docs").status_code == 200
    assert httpx.get(f"{server.base}/nope").status_code == 404
    root = httpx.get(f"{server.base}/")
    assert root.status_code == 302 and root.headers["location"] == "/api/dashboard"
