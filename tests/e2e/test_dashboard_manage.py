"""The dashboard's Settings view and share dialog in real headless Chromium against the real
`beaconlake serve`: a host that is not a site shows up with its drop reason and becomes a site
in one click (then its beacons count and "verify installation" turns green); goals and saved
funnels made in the UI survive a reload and drive the funnel view and the query API; a shared
link can be copied again after its dialog was closed; the install snippet names this server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from beaconlake.dashboard.passwords import hash_password
from tests.conftest import CHROME_UA
from tests.e2e.conftest import Browser, demo_server, wait_until
from tests.server import Server

pytestmark = pytest.mark.slow

SITE = "example.com"
NEW_HOST = "fresh-site.test"
PASSWORD = "operator-pass-2"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = demo_server(
        tmp_path_factory.mktemp("manage"),
        7,
        40,
        BEACONLAKE_DASHBOARD_PASSWORD_HASH=hash_password(PASSWORD),
    )
    yield server
    server.stop()


def api(srv: Server, method: str, path: str, body: Any = None) -> Any:
    res = httpx.request(
        method,
        f"{srv.base}{path}",
        json=body,
        headers={"authorization": f"Bearer {srv.key}"},
        timeout=30,
    )
    assert res.status_code == 200, res.text
    return res.json()


def beacon(srv: Server, host: str, path: str = "/", agent: str = CHROME_UA) -> dict[str, Any]:
    body = {"n": "pageview", "u": f"https://{host}{path}", "d": host}
    res = httpx.post(
        f"{srv.base}/api/event",
        content=json.dumps(body),
        headers={
            "content-type": "text/plain",
            "x-forwarded-for": "198.51.100.23",
            "user-agent": agent,
        },
        timeout=10,
    )
    assert res.status_code == 202, res.text
    return dict(res.json()) if res.content else {}


def log_in(driver: WebDriver, srv: Server, query: str, key: str = "") -> None:
    driver.get(f"{srv.base}/api/dashboard{query}")
    field = wait_until(lambda: driver.find_elements(By.ID, "secret"), "the log-in form")[0]
    if not key:
        driver.find_element(By.XPATH, "//button[normalize-space()='Password']").click()
    field.send_keys(key or PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "nav.views"), "the dashboard")


def open_settings(driver: WebDriver) -> None:
    tab = wait_until(
        lambda: driver.find_elements(By.CSS_SELECTOR, "nav.views button[data-view='settings']"),
        "the Settings tab",
    )[0]
    tab.click()
    wait_until(
        lambda: driver.find_elements(
            By.CSS_SELECTOR, "[data-panel='sites'][data-state='ready'] tr[data-site]"
        ),
        "the site list",
    )


def one(driver: WebDriver | WebElement, css: str, what: str, timeout: float = 20) -> WebElement:
    found: WebElement = wait_until(
        lambda: driver.find_elements(By.CSS_SELECTOR, css), what, timeout
    )[0]
    return found


def share_button(driver: WebDriver) -> WebElement:
    found: list[WebElement] = wait_until(
        lambda: driver.find_elements(By.XPATH, "//button[normalize-space()='Share']"),
        "the Share button (loaded on first use)",
    )
    return found[0]


def visitors_today(srv: Server, site: str) -> Any:
    today = datetime.now(UTC).date().isoformat()
    body = {"site_id": site, "metrics": ["visitors"], "date_range": [today, today]}
    res = httpx.post(
        f"{srv.base}/api/v2/query",
        json=body,
        headers={"authorization": f"Bearer {srv.key}"},
        timeout=30,
    )
    return res.json()["results"][0]["metrics"][0] if res.status_code == 200 else None


def test_unknown_host_becomes_a_site_and_verify_turns_green(srv: Server, chromium: Browser) -> None:
    # a beacon for a host that is not a site is dropped, and says why
    assert beacon(srv, NEW_HOST) == {"status": "dropped", "reason": "unknown_site"}

    driver = chromium()
    log_in(driver, srv, "")
    open_settings(driver)

    # the snippet names this server's own origin, never "https://http://..."
    snippet = one(driver, ".install-snippet", "the install snippet").text
    assert f'src="{srv.base}/tracker.js"' in snippet
    assert "https://http" not in snippet
    assert 'data-domain="example.com"' in snippet

    host = one(
        driver,
        f"[data-panel='unknown-hosts'] li[data-host='{NEW_HOST}']",
        "the host under 'not a site'",
    )
    assert "unknown_site" in host.text
    assert "not a site" in host.text
    host.find_element(By.XPATH, ".//button[normalize-space()='Add as site']").click()

    # it is a site now, selected, with its snippet; nothing has arrived since
    one(driver, f"tr[data-site='{NEW_HOST}'] button[aria-pressed='true']", "the new site")
    wait_until(
        lambda: f'data-domain="{NEW_HOST}"' in one(driver, ".install-snippet", "snippet").text,
        "the new site's snippet",
    )
    verify = one(driver, ".verify[data-status]", "the installation check")
    wait_until(
        lambda: verify.get_attribute("data-status") in ("waiting", "dropped"),
        "the check to answer",
    )
    assert "Waiting for the first event" in verify.text

    # a drop is listed with its reason and what it means
    bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    assert beacon(srv, NEW_HOST, agent=bot) == {"status": "dropped", "reason": "bot"}
    dropped = one(driver, ".verify li[data-reason='bot']", "the bot drop", timeout=30)
    assert len(dropped.text) > len("bot at ") + 10
    assert verify.get_attribute("data-status") != "receiving"

    # the Settings page fits a phone
    driver.set_window_size(390, 844)
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, "the Settings page scrolls sideways on a phone"
    driver.set_window_size(1200, 800)

    # the next beacon counts, and the check turns green on its own (it polls)
    assert beacon(srv, NEW_HOST, "/hello").get("status") != "dropped"
    wait_until(
        lambda: verify.get_attribute("data-status") == "receiving",
        "verify installation to turn green",
        timeout=30,
    )
    assert "Receiving events" in verify.text
    wait_until(lambda: visitors_today(srv, NEW_HOST) == 1, "the new site's visitor", timeout=30)

    # its time zone can change, and the change stays
    zone = f"select[aria-label='Time zone of {NEW_HOST}']"
    Select(one(driver, zone, "the zone picker")).select_by_value("America/Los_Angeles")
    driver.refresh()
    open_settings(driver)
    wait_until(
        lambda: (
            Select(one(driver, zone, "the zone picker")).first_selected_option.text
            == "America/Los_Angeles"
        ),
        "the new time zone after a reload",
    )
    wait_until(
        lambda: not driver.find_elements(By.CSS_SELECTOR, f"li[data-host='{NEW_HOST}']"),
        "the host to leave the 'not a site' list",
        timeout=15,
    )


def test_goal_and_funnel_from_the_ui_survive_a_reload_and_drive_the_views(
    srv: Server, chromium: Browser
) -> None:
    driver = chromium()
    log_in(driver, srv, f"?site={SITE}")
    open_settings(driver)

    # a page goal with a wildcard
    goals = one(driver, "[data-panel='manage-goals'][data-state='ready']", "the goals")
    Select(goals.find_element(By.CSS_SELECTOR, "select[aria-label='Goal type']")).select_by_value(
        "page"
    )
    goals.find_element(By.CSS_SELECTOR, "input[aria-label='Page path']").send_keys("/docs/*")
    goals.find_element(By.CSS_SELECTOR, "input[aria-label='Goal name']").send_keys("Read docs")
    goals.find_element(By.XPATH, ".//button[normalize-space()='Add goal']").click()
    one(driver, "li[data-goal='Read docs']", "the new goal")

    # a funnel: page /, page /pricing, event Signup
    form = one(driver, "form.add-funnel", "the funnel form")
    form.find_element(By.CSS_SELECTOR, "input[aria-label='Funnel name']").send_keys("To signup")
    form.find_element(By.XPATH, ".//button[normalize-space()='Add step']").click()
    rows = form.find_elements(By.CSS_SELECTOR, ".step-edit")
    assert len(rows) == 3
    for row, (kind, value) in zip(
        rows, [("page", "/"), ("page", "/pricing"), ("event", "Signup")], strict=True
    ):
        Select(row.find_element(By.TAG_NAME, "select")).select_by_value(kind)
        field = row.find_element(By.TAG_NAME, "input")
        field.clear()
        field.send_keys(value)
    form.find_element(By.XPATH, ".//button[normalize-space()='Save funnel']").click()
    one(driver, "li[data-funnel='To signup']", "the saved funnel")

    # an annotation
    notes = one(driver, "form.add-annotation", "the annotation form")
    notes.find_element(By.CSS_SELECTOR, "input[aria-label='Annotation']").send_keys("Launch day")
    notes.find_element(By.XPATH, ".//button[normalize-space()='Add annotation']").click()
    wait_until(
        lambda: "Launch day" in one(driver, ".annotations-list", "the annotations").text,
        "the new annotation",
    )

    # all three survive a reload
    driver.refresh()
    one(driver, "li[data-goal='Read docs']", "the goal after a reload")
    saved = one(driver, "li[data-funnel='To signup']", "the funnel after a reload")
    assert "/pricing" in saved.text and "Signup" in saved.text
    today = datetime.now(UTC).date().isoformat()
    note = one(driver, ".annotations-list li", "the annotation after a reload").text
    assert today in note and "Launch day" in note

    # the query API counts the new goal
    body = {
        "site_id": SITE,
        "metrics": ["visitors"],
        "date_range": "7d",
        "dimensions": ["event:goal"],
    }
    goals_seen = {
        r["dimensions"][0]: r["metrics"][0]
        for r in api(srv, "POST", "/api/v2/query", body)["results"]
    }
    assert goals_seen.get("Read docs", 0) > 0

    # "Show" opens the funnel view with the saved steps, named in the picker
    saved.find_element(By.XPATH, ".//button[normalize-space()='Show']").click()
    funnel = one(driver, "[data-panel='funnel'][data-state='ready'] .funnel-step", "the funnel")
    assert funnel
    steps = [{"page": "/"}, {"page": "/pricing"}, {"event": "Signup"}]
    answer = api(
        srv,
        "POST",
        "/api/v2/funnel",
        {"site_id": SITE, "date_range": "30d", "filters": [], "steps": steps, "order": "ordered"},
    )
    expected = [s["visitors"] for s in answer["steps"]]
    assert expected[0] > 0

    def shown() -> list[int]:
        return list(
            driver.execute_script(
                "return [...document.querySelectorAll('.funnel-step')]"
                ".map(e => Number(e.dataset.visitors ?? -1));"
            )
        )

    picker = one(driver, "select.funnel-picker", "the saved-funnel picker")
    assert Select(picker).first_selected_option.text == "To signup"
    wait_until(lambda: shown() == expected, "the saved funnel's numbers")

    # with no steps chosen: the page goals in their order, then the event goals
    info = api(srv, "GET", "/api/dashboard/sites")
    configured = info["goals"][SITE]
    want = [("page", g["page"]) for g in configured if not g["event"]]
    want += [("event", g["event"]) for g in configured if g["event"]]
    assert ("page", "/docs/*") in want
    driver.get(f"{srv.base}/api/dashboard?site={SITE}&view=funnel")
    editor = one(driver, "form.steps[aria-label='Funnel steps'] .step-edit", "the default funnel")
    assert editor

    def draft() -> list[tuple[str, str]]:
        rows = driver.find_elements(By.CSS_SELECTOR, "form[aria-label='Funnel steps'] .step-edit")
        return [
            (
                Select(r.find_element(By.TAG_NAME, "select")).first_selected_option.get_attribute(
                    "value"
                )
                or "",
                r.find_element(By.TAG_NAME, "input").get_attribute("value") or "",
            )
            for r in rows
        ]

    wait_until(lambda: draft() == want[:8], "the default funnel: pages first, then events")

    # the funnel view saves the steps it shows; they come back after a reload
    save = one(driver, "form.save-funnel", "the save-steps form")
    save.find_element(By.TAG_NAME, "input").send_keys("Goals in order")
    save.find_element(By.XPATH, ".//button[normalize-space()='Save funnel']").click()
    picked = "select.funnel-picker option:checked"
    wait_until(
        lambda: one(driver, picked, "the picked funnel").text == "Goals in order",
        "the saved steps to be the picked funnel",
    )
    driver.refresh()
    wait_until(lambda: draft() == want[:8], "the steps after a reload")
    wait_until(
        lambda: one(driver, picked, "the picked funnel").text == "Goals in order",
        "the saved funnel after a reload",
    )

    # picking the other saved funnel there shows it
    Select(one(driver, "select.funnel-picker", "the picker")).select_by_visible_text("To signup")
    wait_until(lambda: shown() == expected, "the picked funnel")


def test_a_share_link_can_be_copied_again_after_closing_the_dialog(
    srv: Server, chromium: Browser
) -> None:
    owner = chromium()
    log_in(owner, srv, "")
    owner.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": srv.base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    share_button(owner).click()
    dialog = one(owner, ".dialog", "the share dialog")
    assert (
        dialog.find_element(By.CSS_SELECTOR, "input[name='min_count']").get_attribute("value")
        == "5"
    )
    dialog.find_element(By.XPATH, ".//label[contains(., 'Label')]/input").send_keys("press kit")
    dialog.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    link = one(owner, ".created input", "the new link").get_attribute("value") or ""
    assert link.startswith(f"{srv.base}/api/share/")
    dialog.find_element(By.XPATH, ".//button[normalize-space()='Close']").click()
    wait_until(lambda: not owner.find_elements(By.CSS_SELECTOR, ".dialog"), "the closed dialog")

    # reopened: the link is listed again, whole, with a Copy button that works
    share_button(owner).click()
    row = one(owner, ".shares li", "the listed link")
    wait_until(lambda: "press kit" in row.text, "the labelled link")
    assert row.find_element(By.CSS_SELECTOR, "input.share-url").get_attribute("value") == link
    row.find_element(By.XPATH, ".//button[normalize-space()='Copy']").click()
    wait_until(lambda: "Copied" in row.text, "the copy to be confirmed")
    copied = owner.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "navigator.clipboard.readText().then(done, (e) => done('error: ' + e));"
    )
    assert copied == link

    # the copied link opens a read-only dashboard without Settings or Share
    guest = chromium()
    guest.get(copied)
    wait_until(lambda: guest.find_elements(By.CSS_SELECTOR, ".badge"), "the shared dashboard")
    assert "read-only" in guest.find_element(By.CSS_SELECTOR, ".badge").text
    assert not guest.find_elements(By.CSS_SELECTOR, "nav.views button[data-view='settings']")
    assert not guest.find_elements(By.XPATH, "//button[normalize-space()='Share']")


def test_a_key_without_the_provision_scope_sees_settings_read_only(
    srv: Server, chromium: Browser
) -> None:
    env = {**os.environ, "BEACONLAKE_DATA_DIR": str(srv.data_dir), "BEACONLAKE_BACKEND": "local"}
    made = subprocess.run(
        [sys.executable, "-m", "beaconlake.cli", "keys", "create", "--site", SITE]
        + ["--scope", "stats:read:*", "--scope", "sites:read:*"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    key = re.search(r"(bl_[0-9a-f]{12}_[A-Za-z0-9_-]+)", made)
    assert key, made
    driver = chromium()
    log_in(driver, srv, "", key=key.group(1))
    open_settings(driver)
    one(driver, "[data-read-only]", "the read-only note")
    one(driver, "[data-panel='manage-goals'][data-state='ready'] li[data-goal]", "the goals")
    assert not driver.find_elements(
        By.CSS_SELECTOR, "form.add-site, form.add-goal, form.add-funnel"
    )
    assert not driver.find_elements(By.XPATH, "//button[normalize-space()='Remove']")
    assert not driver.find_elements(By.XPATH, "//button[normalize-space()='Delete']")
    assert one(driver, ".install-snippet", "the snippet").text.startswith("<script")
