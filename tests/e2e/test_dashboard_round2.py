"""The dashboard's second round (issue 28, items 3, 4, 5, 7, 8, 9 and the new views) in real
headless Chromium against the real `beaconlake serve` on demo data plus a few visits sent now:
the goal filter's conversion figures, comparisons against nothing, revenue / scroll depth /
time on page, the realtime view, "Direct / None", the chart's time axis, the details view,
presets, shortcuts, annotations and segments."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from tests.conftest import CHROME_UA
from tests.e2e.conftest import Browser, demo_server, wait_until
from tests.server import Server

pytestmark = pytest.mark.slow

SITE = "example.com"
MANY = 56  # pages visited now: more than one page of the details view (50)


def api(srv: Server, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    res = httpx.request(
        method,
        f"{srv.base}{path}",
        json=body,
        headers={"authorization": f"Bearer {srv.key}"},
        timeout=30,
    )
    assert res.status_code in (200, 201), res.text
    return res.json()


def query(srv: Server, **body: Any) -> Any:
    return api(srv, "POST", "/api/v2/query", {"site_id": SITE, **body})


def send(srv: Server, path: str, ip: str, referrer: str = "") -> None:
    body = {"n": "pageview", "u": f"https://{SITE}{path}", "d": SITE, "r": referrer}
    headers = {"user-agent": CHROME_UA, "x-forwarded-for": ip, "content-type": "text/plain"}
    import json

    res = httpx.post(f"{srv.base}/api/event", content=json.dumps(body), headers=headers)
    assert res.status_code == 202 and "dropped" not in res.text, res.text


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = demo_server(tmp_path_factory.mktemp("round2"), 14, 60)
    for i in range(MANY):  # visitors now, without a country (a documentation address)
        send(server, f"/many/p{i:02}", f"203.0.113.{i + 1}")
    wait_until(
        lambda: (
            query(server, metrics=["visitors"], date_range="day", filters=[MANY_FILTER])["results"][
                0
            ]["metrics"][0]
            == MANY
        ),
        "the visits sent now",
    )
    yield server
    server.stop()


MANY_FILTER = ["contains", "event:page", ["/many/"]]


def ready(driver: WebDriver, at_least: int = 1) -> bool:
    return bool(
        driver.execute_script(
            "const p = [...document.querySelectorAll('[data-panel]')];"
            "return p.length >= arguments[0] && p.every(e => e.dataset.state === 'ready');",
            at_least,
        )
    )


def open_dashboard(chromium: Browser, srv: Server, query_string: str) -> WebDriver:
    driver = chromium()
    driver.set_window_size(1400, 1400)
    driver.get(f"{srv.base}/api/dashboard")
    field = wait_until(lambda: driver.find_elements(By.ID, "secret"), "the log-in form")[0]
    field.send_keys(srv.key)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_until(lambda: ready(driver, 3), "the first dashboard")
    go(driver, srv, query_string)
    return driver


def go(driver: WebDriver, srv: Server, query_string: str) -> None:
    driver.get(f"{srv.base}/api/dashboard{query_string}")
    wait_until(lambda: ready(driver, 2), f"the dashboard at {query_string}")


def cards(driver: WebDriver) -> dict[str, str]:
    return dict(
        driver.execute_script(
            "return [...document.querySelectorAll('.cards .card[data-metric]')]"
            ".map(c => [c.dataset.metric, c.dataset.value]);"
        )
    )


def columns(driver: WebDriver, panel: str) -> list[str]:
    return list(
        driver.execute_script(
            "return [...document.querySelectorAll(`[data-panel='${arguments[0]}'] thead th.num`)]"
            ".map(th => th.dataset.metric);",
            panel,
        )
    )


def cells(driver: WebDriver, panel: str) -> list[tuple[str, dict[str, str]]]:
    rows = driver.execute_script(
        "return [...document.querySelectorAll(`[data-panel='${arguments[0]}'] tbody tr`)]"
        ".map(tr => [tr.dataset.value, Object.fromEntries([...tr.querySelectorAll("
        "'td[data-metric]')].map(td => [td.dataset.metric, td.dataset.value]))]);",
        panel,
    )
    return [(r[0], r[1]) for r in rows]


def same(shown: str, value: Any) -> bool:
    return shown == "" if value is None else float(shown) == float(value)


# ---------------------------------------------------------------- 3: goal filter


def test_a_goal_filter_shows_conversion_figures(srv: Server, chromium: Browser) -> None:
    goal = ["is", "event:goal", ["Signup"]]
    driver = open_dashboard(chromium, srv, "?period=7d&f=event:goal==Signup")
    metrics = ["visitors", "events", "conversion_rate"]
    days = [
        d.isoformat()
        for d in (
            date.fromisoformat(today(srv)) - timedelta(days=6),
            date.fromisoformat(today(srv)),
        )
    ]
    expected = query(srv, metrics=metrics, date_range=days, filters=[goal])["results"][0]["metrics"]
    assert expected[0] > 0
    wait_until(lambda: list(cards(driver)) == metrics, "the conversion cards")
    shown = cards(driver)
    assert all(same(shown[m], e) for m, e in zip(metrics, expected, strict=True)), shown
    labels = [
        e.text for e in driver.find_elements(By.CSS_SELECTOR, ".cards .card[data-metric] .label")
    ]
    assert labels == ["Unique conversions", "Total conversions", "Conversion rate"]
    # nothing that contradicts them: no pageviews, views per visit or bounce rate anywhere
    page = driver.find_element(By.TAG_NAME, "main").text
    for word in ("Pageviews", "Views per visit", "Bounce"):
        assert word not in page, word
    # panels: conversions and each row's own conversion rate (Plausible's group CR)
    assert columns(driver, "countries") == ["visitors", "group_conversion_rate"]
    assert columns(driver, "sources") == ["visitors", "group_conversion_rate"]
    rows = query(
        srv,
        metrics=["visitors", "group_conversion_rate"],
        date_range=days,
        dimensions=["visit:country"],
        filters=[goal],
        pagination={"limit": 10},
    )["results"]
    wait_until(lambda: len(cells(driver, "countries")) == len(rows), "the countries")
    for (label, values), row in zip(cells(driver, "countries"), rows, strict=True):
        assert label == (row["dimensions"][0] or "")
        assert same(values["visitors"], row["metrics"][0])
        assert same(values["group_conversion_rate"], row["metrics"][1])
    assert (
        driver.find_element(By.CSS_SELECTOR, "[data-panel='chart']").get_attribute("data-metric")
        == "visitors"
    )


def today(srv: Server) -> str:
    info = api(srv, "GET", "/api/dashboard/sites")
    return str(info.get("site_info", {}).get(SITE, {}).get("today") or info["today"])


# ---------------------------------------------------------------- 4: compare


def test_no_change_against_a_period_without_data_and_compare_only_on_the_overview(
    srv: Server, chromium: Browser
) -> None:
    # the demo starts 13 days ago: the 14 days before hold nothing
    last = today(srv)
    first = (date.fromisoformat(last) - timedelta(days=13)).isoformat()
    driver = open_dashboard(chromium, srv, f"?period=custom&from={first}&to={last}")
    deltas = wait_until(
        lambda: [
            e.text
            for e in driver.find_elements(By.CSS_SELECTOR, ".cards .card .delta[data-change]")
        ],
        "the comparisons",
    )
    assert len(deltas) == 6 and set(deltas) == {"—"}, deltas
    assert (
        driver.find_element(By.CSS_SELECTOR, "[data-panel='chart'] .chart-box").get_attribute(
            "data-series"
        )
        == "1"
    ), "a dashed comparison line against nothing"
    # with a previous period that has data, changes and the dashed line are there
    go(driver, srv, "?period=7d")
    wait_until(
        lambda: any(
            re.fullmatch(r"[+−±][\d.]+k?(%| pt)", e.text)
            for e in driver.find_elements(By.CSS_SELECTOR, ".cards .card .delta[data-change]")
        ),
        "a real change",
    )
    assert driver.find_element(By.CSS_SELECTOR, ".chart-box").get_attribute("data-series") == "2"
    assert driver.find_elements(By.CSS_SELECTOR, "label.compare select")
    for view in ("funnel", "journeys", "retention"):
        driver.find_element(By.CSS_SELECTOR, f"nav.views button[data-view='{view}']").click()
        wait_until(lambda: ready(driver), view)
        assert not driver.find_elements(By.CSS_SELECTOR, "label.compare"), view
    driver.find_element(By.CSS_SELECTOR, "nav.views button[data-view='overview']").click()
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "label.compare"), "compare back")


# ---------------------------------------------------------------- 5: revenue, pages, realtime


def test_revenue_scroll_depth_time_on_page_and_the_realtime_view(
    srv: Server, chromium: Browser
) -> None:
    goals = api(srv, "GET", f"/api/v1/sites/goals?site_id={SITE}")["goals"]
    purchase = next(g for g in goals if g["event_name"] == "Purchase")
    if purchase["currency"] != "EUR":
        api(srv, "DELETE", f"/api/v1/sites/goals/{purchase['id']}", {"site_id": SITE})
        goal = {"site_id": SITE, "goal_type": "event", "event_name": "Purchase"}
        api(
            srv,
            "PUT",
            "/api/v1/sites/goals",
            {**goal, "display_name": "Purchase", "currency": "EUR"},
        )
    driver = open_dashboard(chromium, srv, "?period=7d")
    wait_until(lambda: "total_revenue" in columns(driver, "goals"), "the revenue column")
    days = [(date.fromisoformat(today(srv)) - timedelta(days=6)).isoformat(), today(srv)]
    rows = query(
        srv,
        metrics=["visitors", "events", "conversion_rate", "total_revenue"],
        date_range=days,
        dimensions=["event:goal"],
        pagination={"limit": 10},
    )["results"]
    revenue = {r["dimensions"][0]: r["metrics"][3] for r in rows}
    assert revenue["Purchase"]
    shown = dict(cells(driver, "goals"))
    assert same(shown["Purchase"]["total_revenue"], revenue["Purchase"])
    cell = driver.find_element(
        By.CSS_SELECTOR,
        "[data-panel='goals'] tr[data-value='Purchase'] td[data-metric='total_revenue']",
    )
    assert "€" in cell.text

    assert columns(driver, "pages") == ["visitors", "pageviews", "time_on_page", "scroll_depth"]
    expected = query(
        srv,
        metrics=["visitors", "pageviews", "time_on_page", "scroll_depth"],
        date_range=days,
        dimensions=["event:page"],
        pagination={"limit": 10},
    )["results"]
    top = dict(cells(driver, "pages"))
    first = expected[0]
    assert same(top[first["dimensions"][0]]["time_on_page"], first["metrics"][2])
    assert same(top[first["dimensions"][0]]["scroll_depth"], first["metrics"][3])
    assert any(first["metrics"][2] for first in expected) and any(r["metrics"][3] for r in expected)

    # realtime: visitors now, a per-minute chart, top pages and sources of the last 30 minutes
    for i in range(6):  # enough visitors to be the top page of the last 30 minutes
        send(srv, "/realtime-now", f"198.51.100.{70 + i}", "https://news.ycombinator.com/")
    driver.find_element(By.CSS_SELECTOR, "nav.views button[data-view='realtime']").click()
    assert parse_qs(urlsplit(driver.current_url).query)["view"] == ["realtime"]

    def live() -> bool:
        driver.refresh()
        wait_until(lambda: ready(driver, 4), "the realtime view")
        pages = [v for v, _ in cells(driver, "realtime-pages")]
        return "/realtime-now" in pages

    wait_until(live, "the page visited now", timeout=40)
    answer = api(srv, "GET", f"/api/v2/realtime?site_id={SITE}")
    shown_now = driver.find_element(By.CSS_SELECTOR, "[data-panel='realtime']").get_attribute(
        "data-value"
    )
    assert shown_now and int(shown_now) >= 1 and abs(int(shown_now) - answer["visitors"]) <= 1
    assert driver.find_elements(By.CSS_SELECTOR, "[data-panel='realtime-chart'] canvas")
    assert (
        driver.find_element(
            By.CSS_SELECTOR, "[data-panel='realtime-chart'] .chart-box"
        ).get_attribute("data-points")
        == "30"
    )
    sources = [v for v, _ in cells(driver, "realtime-sources")]
    assert "Hacker News" in sources, sources


# ---------------------------------------------------------------- 7: Direct / None


def test_direct_traffic_is_a_filter(srv: Server, chromium: Browser) -> None:
    driver = open_dashboard(chromium, srv, "?period=7d&tab=sources:sources")
    button = wait_until(
        lambda: driver.find_elements(
            By.CSS_SELECTOR, "[data-panel='sources'] tbody button[data-filter='Direct / None']"
        ),
        "a clickable Direct / None row",
    )[0]
    assert button.text == "Direct / None"
    button.click()
    wait_until(
        lambda: driver.find_elements(By.CSS_SELECTOR, ".chip[data-value='Direct / None']"),
        "the Direct / None chip",
    )
    assert parse_qs(urlsplit(driver.current_url).query)["f"] == ["visit:source==Direct / None"]
    days = [(date.fromisoformat(today(srv)) - timedelta(days=6)).isoformat(), today(srv)]
    direct = ["is", "visit:source", ["Direct / None"]]
    expected = query(srv, metrics=["visitors"], date_range=days, filters=[direct])["results"][0]
    assert expected["metrics"][0] > 0
    wait_until(
        lambda: ready(driver, 3) and cards(driver).get("visitors") == str(expected["metrics"][0]),
        "the direct visitors",
    )
    assert [v for v, _ in cells(driver, "sources")] == ["Direct / None"]


# ---------------------------------------------------------------- 8: the chart


def chart_box(driver: WebDriver) -> dict[str, str]:
    return dict(
        driver.execute_script(
            "const b = document.querySelector('[data-panel=chart] .chart-box');"
            "return b ? {...b.dataset, ...b.querySelector('.chart').dataset} : {};"
        )
    )


def y_ticks(driver: WebDriver) -> list[str]:
    """The y axis' labels (uPlot draws them on its canvas; the chart notes them)."""
    return str(chart_box(driver).get("yticks", "")).split()


def test_the_chart_stops_at_now_marks_part_weeks_and_counts_in_whole_numbers(
    srv: Server, chromium: Browser
) -> None:
    driver = open_dashboard(chromium, srv, "?period=day&interval=hour")
    answer = query(
        srv,
        metrics=["visitors"],
        date_range=[today(srv), today(srv)],
        dimensions=["time:hour"],
        include={"time_labels": True},
    )
    now = answer["meta"].get("now") or datetime.now(UTC).isoformat()
    hour = int(now[11:13])
    wait_until(lambda: chart_box(driver).get("points"), "today's chart")
    assert chart_box(driver)["points"] == str(hour + 1), "hours after now are drawn"

    # per week over 30 days: the part-weeks at both ends are marked, nothing before the start
    go(driver, srv, "?period=30d&interval=week")
    last = today(srv)
    start = (date.fromisoformat(last) - timedelta(days=29)).isoformat()
    weekly = query(
        srv,
        metrics=["visitors"],
        date_range=[start, last],
        dimensions=["time:week"],
        include={"time_labels": True},
    )
    partial = weekly["meta"].get("partial_buckets", [])
    assert partial, "the API names no part-weeks"
    wait_until(lambda: chart_box(driver).get("partial"), "the weekly chart")
    assert chart_box(driver)["partial"] == str(len(partial))
    assert chart_box(driver)["first"] >= start

    # a handful of visitors: ticks 0, 1, 2 … never 0.5
    go(driver, srv, "?period=day&interval=hour&f=event:page==/many/p00")
    wait_until(lambda: len(y_ticks(driver)) >= 2, "the y axis")
    ticks = y_ticks(driver)
    assert all(re.fullmatch(r"\d+", t) for t in ticks), ticks


# ---------------------------------------------------------------- 9: tables


def details_rows(driver: WebDriver) -> list[str]:
    return [v for v, _ in cells(driver, "details")]


def test_details_view_tabs_in_the_url_and_names(srv: Server, chromium: Browser) -> None:
    driver = open_dashboard(chromium, srv, "?period=day")
    pages = driver.find_element(By.CSS_SELECTOR, "[data-panel='pages']")
    pages.find_element(By.CSS_SELECTOR, "button.details-button").click()
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, ".dialog.details"), "the details")
    assert parse_qs(urlsplit(driver.current_url).query)["details"] == ["pages:top"]
    day = [today(srv), today(srv)]
    body = {"metrics": ["visitors", "pageviews", "time_on_page", "scroll_depth"], "date_range": day}
    body |= {"dimensions": ["event:page"]}
    everything = query(srv, **body, pagination={"limit": 1000})["results"]
    assert len(everything) > 50
    wait_until(lambda: ready(driver) and len(details_rows(driver)) == 50, "the first page")
    first_page = query(srv, **body, order_by=[["visitors", "desc"]], pagination={"limit": 50})
    assert details_rows(driver) == [r["dimensions"][0] for r in first_page["results"]]
    driver.find_element(By.XPATH, "//nav[@class='pager']/button[contains(., 'Next')]").click()
    wait_until(
        lambda: ready(driver) and len(details_rows(driver)) == len(everything) - 50, "page 2"
    )

    # sort by the page (ascending), then search
    driver.find_element(
        By.CSS_SELECTOR, ".dialog.details th[data-metric='event:page'] button"
    ).click()
    ordered = query(srv, **body, order_by=[["event:page", "asc"]], pagination={"limit": 50})
    wait_until(
        lambda: (
            ready(driver)
            and details_rows(driver) == [r["dimensions"][0] for r in ordered["results"]]
        ),
        "sorted by page",
    )
    driver.find_element(By.CSS_SELECTOR, ".dialog.details input[type=search]").send_keys("p1")
    wait_until(
        lambda: (
            ready(driver) and sorted(details_rows(driver)) == [f"/many/p{i}" for i in range(10, 20)]
        ),
        "the search",
    )
    # a row filters the dashboard and closes the details; Esc closes too
    driver.find_element(By.CSS_SELECTOR, ".dialog.details tbody button").click()
    wait_until(lambda: not driver.find_elements(By.CSS_SELECTOR, ".dialog.details"), "closed")
    assert driver.find_elements(By.CSS_SELECTOR, ".chip[data-dim='event:page']")
    driver.find_element(By.CSS_SELECTOR, "[data-panel='countries'] button.details-button").click()
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, ".dialog.details"), "details again")
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    wait_until(lambda: not driver.find_elements(By.CSS_SELECTOR, ".dialog.details"), "Esc")

    # the chosen tab is in the URL and survives a reload; names people read
    go(driver, srv, "?period=day")
    driver.find_element(
        By.CSS_SELECTOR, "[data-panel='devices'] button[data-tab='devices']"
    ).click()
    wait_until(
        lambda: "devices:devices" in parse_qs(urlsplit(driver.current_url).query).get("tab", []),
        "the tab in the URL",
    )
    driver.refresh()
    wait_until(lambda: ready(driver, 3), "the reload")
    panel = driver.find_element(By.CSS_SELECTOR, "[data-panel='devices']")
    assert panel.get_attribute("data-tab") == "devices"
    labels = [e.text for e in panel.find_elements(By.CSS_SELECTOR, "tbody .row-label")]
    assert "Desktop" in labels and "desktop" not in labels, labels
    countries = driver.find_element(By.CSS_SELECTOR, "[data-panel='countries']")
    unknown = countries.find_element(By.CSS_SELECTOR, "tbody tr[data-value=''] .row-label")
    assert unknown.text == "Unknown"
    assert "(none)" not in countries.text


# ---------------------------------------------------------------- presets, keys, cards, notes


def test_presets_arrows_shortcuts_card_metric_annotations_and_segments(
    srv: Server, chromium: Browser
) -> None:
    last = today(srv)
    day = (date.fromisoformat(last) - timedelta(days=3)).isoformat()
    api(srv, "PUT", "/api/v1/sites/annotations", {"site_id": SITE, "date": day, "text": "Launch"})
    driver = open_dashboard(chromium, srv, "?period=7d")

    def shown_range() -> tuple[str, str]:
        el = driver.find_element(By.CSS_SELECTOR, ".range-text")
        return el.get_attribute("data-from") or "", el.get_attribute("data-to") or ""

    wait_until(lambda: chart_box(driver).get("markers") == "1", "the annotation marker")
    marker = driver.find_element(By.CSS_SELECTOR, "[data-panel='chart'] .annotation")
    assert marker.get_attribute("title") == f"{day}: Launch"

    yesterday = (date.fromisoformat(last) - timedelta(days=1)).isoformat()
    week_before = (date.fromisoformat(last) - timedelta(days=13)).isoformat()
    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.ARROW_LEFT)
    wait_until(
        lambda: (
            shown_range()
            == (week_before, (date.fromisoformat(last) - timedelta(days=7)).isoformat())
        ),
        "←",
    )
    assert driver.find_element(By.CSS_SELECTOR, "button[data-shift='1']").is_enabled()
    body.send_keys("e")
    wait_until(lambda: shown_range() == (yesterday, yesterday), "e = yesterday")
    assert parse_qs(urlsplit(driver.current_url).query)["period"] == ["yesterday"]
    body.send_keys(Keys.ARROW_RIGHT)
    wait_until(lambda: shown_range() == (last, last), "→")
    assert not driver.find_element(By.CSS_SELECTOR, "button[data-shift='1']").is_enabled()
    body.send_keys("l")
    month_start = date.fromisoformat(last).replace(day=1)
    previous_month_end = month_start - timedelta(days=1)
    wait_until(
        lambda: (
            shown_range()
            == (previous_month_end.replace(day=1).isoformat(), previous_month_end.isoformat())
        ),
        "l = last month",
    )
    driver.find_element(By.ID, "period").send_keys("12 months")
    wait_until(
        lambda: parse_qs(urlsplit(driver.current_url).query).get("period") == ["12mo"], "12 months"
    )
    body.send_keys("?")
    help_box = wait_until(
        lambda: driver.find_elements(By.CSS_SELECTOR, ".dialog.help"), "the help"
    )[0]
    assert "previous period" in help_box.text and "Yesterday" in help_box.text
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    wait_until(lambda: not driver.find_elements(By.CSS_SELECTOR, ".dialog.help"), "help closed")

    # a card chooses the chart's metric
    go(driver, srv, "?period=7d")
    driver.find_element(By.CSS_SELECTOR, ".card[data-metric='pageviews']").click()
    wait_until(
        lambda: (
            driver.find_element(By.CSS_SELECTOR, "[data-panel='chart']").get_attribute(
                "data-metric"
            )
            == "pageviews"
        ),
        "the pageviews chart",
    )
    assert parse_qs(urlsplit(driver.current_url).query)["metric"] == ["pageviews"]
    assert driver.find_element(By.CSS_SELECTOR, "[data-panel='chart'] h2").text == "Pageviews"

    # segments: save the current filters, clear them, apply the segment
    go(driver, srv, "?period=7d&f=visit:device==desktop")
    driver.find_element(By.CSS_SELECTOR, "details.segments summary").click()
    field = driver.find_element(By.CSS_SELECTOR, ".segment-form input")
    field.send_keys("Desktop people", Keys.ENTER)
    wait_until(
        lambda: driver.find_elements(By.CSS_SELECTOR, "[data-segment='Desktop people']"), "saved"
    )
    saved = api(srv, "GET", f"/api/v1/sites/segments?site_id={SITE}")["segments"]
    assert [s["filters"] for s in saved if s["name"] == "Desktop people"] == [
        [["is", "visit:device", ["desktop"]]]
    ]
    go(driver, srv, "?period=7d")
    driver.find_element(By.CSS_SELECTOR, "details.segments summary").click()
    driver.find_element(By.CSS_SELECTOR, "[data-segment='Desktop people']").click()
    wait_until(
        lambda: driver.find_elements(By.CSS_SELECTOR, ".chip[data-dim='visit:device']"), "applied"
    )
    assert parse_qs(urlsplit(driver.current_url).query)["f"] == ["visit:device==desktop"]


# ---------------------------------------------------------------- small counts, dark mode


def test_a_shared_view_shows_small_counts_as_less_than_k(srv: Server, chromium: Browser) -> None:
    share = api(
        srv,
        "POST",
        "/api/dashboard/shares",
        {"site_id": SITE, "label": "public", "min_count": 5},
    )
    guest = chromium()
    guest.set_window_size(1400, 1400)
    # one page visited by one visitor today: every count of it is below k
    guest.get(f"{srv.base}{share['path']}?period=day&f=event:page==/many/p00")
    wait_until(lambda: ready(guest, 8), "the shared dashboard")
    assert "read-only" in guest.find_element(By.CSS_SELECTOR, ".badge").text
    card = guest.find_element(By.CSS_SELECTOR, ".card[data-metric='visitors']")
    assert card.get_attribute("data-value") == ""
    assert card.find_element(By.CSS_SELECTOR, "strong").text == "< 5"
    hidden = guest.find_elements(
        By.CSS_SELECTOR, "[data-panel='pages'] td[data-metric='visitors'][data-value='']"
    )
    assert hidden, "no count was hidden"
    assert all(td.text == "< 5" for td in hidden)
    # without the filter, counts of 5 and more are shown as they are
    guest.get(f"{srv.base}{share['path']}?period=day")
    wait_until(lambda: ready(guest, 8), "the whole shared dashboard")
    shown = guest.find_elements(
        By.CSS_SELECTOR, "[data-panel='pages'] td[data-metric='visitors']:not([data-value=''])"
    )
    assert shown and all(int(td.get_attribute("data-value") or 0) >= 5 for td in shown)
    assert not guest.find_elements(By.CSS_SELECTOR, "nav.views button[data-view='settings']")

    # dark mode follows the system's setting
    light = guest.execute_script(
        "return getComputedStyle(document.documentElement).backgroundColor"
    )
    guest.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
    )
    dark = guest.execute_script("return getComputedStyle(document.documentElement).backgroundColor")
    assert dark != light and dark == "rgb(15, 17, 23)", dark
