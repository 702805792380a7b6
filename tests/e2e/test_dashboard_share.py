"""Shared links in real Chromium against the real `beaconlake serve`: opening a link in the
owner's browser leaves the owner logged in (issue 28, item 1), both tabs live side by side,
and the share page can be framed by a page on one of the owner's sites but not elsewhere
(CSP frame-ancestors, which Chromium enforces)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.conftest import Browser, wait_until
from tests.server import Server, start_server

pytestmark = pytest.mark.slow

SITE = "example.com"
OTHER_SITE = "shop.test"  # Chromium resolves it to 127.0.0.1 (conftest)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("share")
    env = {**os.environ, "BEACONLAKE_SITES": f"{SITE},{OTHER_SITE}"}
    demo = [sys.executable, "-m", "beaconlake.cli", "demo", "--days", "3", "--visitors", "30"]
    demo += ["--quiet", "--data-dir", str(root / "data")]
    subprocess.run(demo, env=env, check=True, capture_output=True, timeout=120)
    server = start_server(root / "data", root / "logs")
    yield server
    server.stop()


def _ready(driver: WebDriver) -> bool:
    return bool(
        driver.execute_script(
            "const p = [...document.querySelectorAll('[data-panel]')];"
            "return p.length > 0 && p.every(e => e.dataset.state === 'ready');"
        )
    )


def _log_out_button(driver: WebDriver) -> list[Any]:
    return driver.find_elements(By.XPATH, "//button[normalize-space()='Log out']")


def _share_button(driver: WebDriver) -> list[Any]:
    return driver.find_elements(By.XPATH, "//button[normalize-space()='Share']")


def _owner(driver: WebDriver, srv: Server) -> None:
    driver.get(f"{srv.base}/api/dashboard?period=7d")
    field = wait_until(lambda: driver.find_elements(By.ID, "secret"), "the log-in form")[0]
    field.send_keys(srv.key)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_until(lambda: _ready(driver) and _log_out_button(driver), "the owner's dashboard")


def _new_link(driver: WebDriver) -> str:
    """A new shared link to SITE, made by the owner's tab (its login cookie) as the Share
    dialog makes it."""
    made = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/api/dashboard/shares', {method: 'POST', credentials: 'same-origin',"
        " headers: {'content-type': 'application/json'}, body: JSON.stringify({site_id: arguments[0]})})"
        ".then(r => r.json()).then(done, e => done({error: String(e)}));",
        SITE,
    )
    assert "/api/share/" in str(made.get("path")), made
    return str(driver.execute_script("return location.origin")) + made["path"]


def _shared_view(driver: WebDriver) -> bool:
    badge = driver.find_elements(By.CSS_SELECTOR, ".badge")
    return bool(badge and "read-only" in badge[0].text and _ready(driver))


def test_opening_a_shared_link_keeps_the_owner_logged_in(srv: Server, chromium: Browser) -> None:
    driver = chromium()
    _owner(driver, srv)
    owner_tab = driver.current_window_handle
    link = _new_link(driver)

    driver.switch_to.new_window("tab")  # the link, in another tab of the same browser
    share_tab = driver.current_window_handle
    driver.get(link)
    wait_until(lambda: _shared_view(driver), "the shared, read-only dashboard")
    assert not _log_out_button(driver) and not _share_button(driver)

    driver.switch_to.window(owner_tab)
    driver.refresh()
    wait_until(lambda: _ready(driver) and _log_out_button(driver), "the owner's dashboard again")
    assert _share_button(driver), "the owner can still share"
    assert not driver.find_elements(By.CSS_SELECTOR, ".badge"), "the owner is not a share"

    driver.switch_to.window(share_tab)  # the shared tab keeps working, still read-only
    driver.refresh()
    wait_until(lambda: _shared_view(driver), "the shared dashboard after a reload")

    driver.switch_to.window(owner_tab)  # logging the owner out leaves the shared tab alone
    _log_out_button(driver)[0].click()
    wait_until(lambda: driver.find_elements(By.ID, "secret"), "the log-in form")
    driver.switch_to.window(share_tab)
    driver.refresh()
    wait_until(lambda: _shared_view(driver), "the shared dashboard after the owner left")


class _Page(BaseHTTPRequestHandler):
    """Any path: a page that frames the shared link in `server.frame`."""

    def do_GET(self) -> None:
        frame = getattr(self.server, "frame", "")
        body = f'<!doctype html><title>site</title><iframe id="f" src="{frame}"></iframe>'
        data = body.encode()
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def site_pages() -> Iterator[ThreadingHTTPServer]:
    """A web server for the pages of the owner's site (and of a stranger's)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _framed(driver: WebDriver) -> str | None:
    """The shared link's id as the page inside the frame says it, or None if it was
    refused."""
    driver.switch_to.frame(driver.find_element(By.ID, "f"))
    try:
        share = driver.execute_script("return document.body && document.body.dataset.share")
        return str(share) if share else None
    finally:
        driver.switch_to.default_content()


def test_only_the_owners_sites_may_frame_a_shared_link(
    srv: Server, chromium: Browser, site_pages: ThreadingHTTPServer
) -> None:
    driver = chromium()
    _owner(driver, srv)
    link = _new_link(driver)
    site_pages.frame = link + "?embed=1"  # type: ignore[attr-defined]
    port = site_pages.server_address[1]

    driver.get(f"http://{OTHER_SITE}:{port}/blog")  # a page on one of the owner's sites
    wait_until(lambda: _framed(driver), "the framed shared dashboard")
    driver.switch_to.frame(driver.find_element(By.ID, "f"))
    wait_until(lambda: _shared_view(driver), "the numbers inside the frame")
    # framed with ?embed=1 the view drops its footer and help chrome, and asks for no segments
    assert driver.execute_script("return document.body.classList.contains('embedded')")
    assert not driver.find_element(By.TAG_NAME, "footer").is_displayed()
    assert not driver.find_elements(By.CSS_SELECTOR, "details.segments, [data-menu='segments']")
    driver.switch_to.default_content()

    assert urlsplit(srv.base).port != port
    driver.get(f"http://127.0.0.1:{port}/")  # a page elsewhere: no site of this owner
    wait_until(
        lambda: driver.execute_script("return document.readyState") == "complete", "the page"
    )
    time.sleep(1.5)  # the frame had its chance to load
    assert _framed(driver) is None, "a stranger's page framed the shared link"
