"""Shared links through the app: a link's login never is the owner's cookie (both live in one
browser, and ending one leaves the other), links can be copied again, the share page may be
framed by the owner's sites only, and /api/dashboard/sites says what the UI needs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from beaconlake import wiring
from beaconlake.dashboard.logins import LOGIN_COOKIE
from beaconlake.handlers.stats import create_app
from beaconlake.keys import create_key
from beaconlake.ports import ALL_SCOPES, STATS_READ

SITE = "example.com"
QUERY: dict[str, Any] = {"site_id": SITE, "metrics": ["visitors"], "date_range": "7d"}
HEADER = "x-beaconlake-share"


@pytest.fixture
def browser(local_env: Path) -> Iterator[TestClient]:
    """One browser: its cookies are shared by all its tabs."""
    with TestClient(create_app()) as c:
        yield c


def _owner_login(browser: TestClient) -> None:
    token, _ = create_key(wiring.ports().keys, ("*",), "owner", ALL_SCOPES)
    assert browser.post("/api/dashboard/login", json={"key": token}).status_code == 200


def _share(browser: TestClient, **extra: Any) -> dict[str, Any]:
    made = browser.post("/api/dashboard/shares", json={"site_id": SITE, **extra})
    assert made.status_code == 201, made.text
    return dict(made.json())


def _login_in(page: str) -> str:
    found = re.search(r'data-login="([^"]+)"', page)
    assert found, page
    return found.group(1)


def test_opening_a_link_leaves_the_owners_login_alone(browser: TestClient) -> None:
    _owner_login(browser)
    owner_cookie = browser.cookies[LOGIN_COOKIE]
    share = _share(browser)
    page = browser.get(share["path"])  # another tab of the same browser
    assert page.status_code == 200
    assert browser.cookies[LOGIN_COOKIE] == owner_cookie
    assert LOGIN_COOKIE not in page.headers.get("set-cookie", "")
    mine = browser.get("/api/dashboard/sites").json()  # the owner's tab, reloaded
    assert mine["read_only"] is False and mine["can_manage"] is True
    assert browser.get("/api/dashboard/shares").status_code == 200
    shared = {HEADER: _login_in(page.text)}  # the share tab's calls
    theirs = browser.get("/api/dashboard/sites", headers=shared).json()
    assert theirs["read_only"] is True and theirs["sites"] == [SITE]
    assert theirs["min_count"] == 5 and theirs["can_manage"] is False
    assert theirs["scopes"] == [STATS_READ]
    assert browser.get("/api/dashboard/shares", headers=shared).status_code == 403
    # log out of the share tab: the owner stays; log out of the owner's: the share stays
    assert browser.post("/api/dashboard/logout", headers=shared).status_code == 200
    assert browser.get("/api/dashboard/sites").json()["read_only"] is False
    assert browser.post("/api/v2/query", json=QUERY, headers=shared).status_code == 401
    again = {HEADER: _login_in(browser.get(share["path"]).text)}
    assert browser.post("/api/dashboard/logout").status_code == 200
    assert browser.get("/api/dashboard/sites").status_code == 401
    assert browser.post("/api/v2/query", json=QUERY, headers=again).status_code == 200


def test_a_links_login_is_never_a_cookie_credential(browser: TestClient) -> None:
    _owner_login(browser)
    share = _share(browser)
    login = _login_in(browser.get(share["path"]).text)
    with TestClient(create_app()) as other:
        other.cookies.set(LOGIN_COOKIE, login, path="/api")
        assert other.post("/api/v2/query", json=QUERY).status_code == 401
        bad = other.post("/api/v2/query", json=QUERY, headers={HEADER: "x" * 40})
        assert bad.status_code == 401 and bad.json()["rule"] == "share_login"
        # the page's cookie (path /api/share/) lets a reload reuse the login
        first = other.get(share["path"])
        assert "Path=/api/share/" in first.headers["set-cookie"]
        assert "HttpOnly" in first.headers["set-cookie"]
        assert "SameSite=lax" in first.headers["set-cookie"]  # plain http: see SECURITY.md
        assert _login_in(other.get(share["path"]).text) == _login_in(first.text)


def test_a_password_link_hands_its_login_to_the_page(browser: TestClient) -> None:
    _owner_login(browser)
    share = _share(browser, password="share-pass-1", min_count=3)
    token = share["path"].rsplit("/", 1)[1]
    with TestClient(create_app()) as guest:
        page = guest.get(share["path"])
        assert 'data-locked="1"' in page.text and "data-login" not in page.text
        ok = guest.post(
            "/api/dashboard/share-login", json={"token": token, "password": "share-pass-1"}
        )
        assert ok.status_code == 200 and LOGIN_COOKIE not in guest.cookies
        answer = guest.get("/api/dashboard/sites", headers={HEADER: ok.json()["login"]})
        assert answer.json()["min_count"] == 3
        assert _login_in(guest.get(share["path"]).text) == ok.json()["login"]  # a reload


def test_links_can_be_copied_again_and_say_their_k(browser: TestClient) -> None:
    _owner_login(browser)
    made = _share(browser, label="team", min_count=12)
    assert made["min_count"] == 12 and made["path"].startswith("/api/share/")
    listed = browser.get("/api/dashboard/shares").json()["shares"]
    assert [(s["path"], s["min_count"]) for s in listed] == [(made["path"], 12)]
    assert _share(browser)["min_count"] == 5
    for bad in (0, 101, "x"):
        res = browser.post("/api/dashboard/shares", json={"site_id": SITE, "min_count": bad})
        assert res.status_code == 422, res.text


def _ancestors(csp: str) -> str:
    return csp.split("frame-ancestors ", 1)[1].split(";", 1)[0]


def test_only_the_share_page_may_be_framed_and_by_the_sites_only(browser: TestClient) -> None:
    _owner_login(browser)
    share = _share(browser)
    page = browser.get(share["path"], params={"embed": "1"})
    ancestors = _ancestors(page.headers["content-security-policy"]).split()
    for site in ("example.com", "shop.test"):
        assert f"https://{site}" in ancestors and f"https://*.{site}" in ancestors
        assert f"http://{site}:*" in ancestors  # served over plain http: a local server
    assert "x-frame-options" not in page.headers and 'data-embed="1"' in page.text
    with TestClient(create_app(), base_url="https://testserver") as tls:
        page = tls.get(share["path"])  # over TLS: https ancestors only, a cross-site cookie
        assert "http://" not in _ancestors(page.headers["content-security-policy"])
        cookie = page.headers["set-cookie"]
        assert "SameSite=none" in cookie and "Secure" in cookie and "HttpOnly" in cookie
    for other in ("/api/dashboard", "/api/share/" + "a" * 32, "/api/docs"):
        res = browser.get(other)
        assert _ancestors(res.headers["content-security-policy"]) == "'none'", other
        assert res.headers.get("x-frame-options") == "DENY", other


def test_sites_says_what_the_ui_needs(browser: TestClient) -> None:
    _owner_login(browser)
    body = browser.get("/api/dashboard/sites").json()
    assert set(body["site_info"]) == set(body["sites"])
    info = body["site_info"][SITE]
    assert info["today"] == datetime.now(ZoneInfo(info["timezone"])).date().isoformat()
    assert body["scopes"] == list(ALL_SCOPES) and body["can_manage"] is True
    assert body["min_count"] is None and body["embedded"] is False
    for goal in (g for goals in body["goals"].values() for g in goals):
        assert {"id", "name", "event", "page", "currency"} <= set(goal)
    assert browser.get("/api/dashboard/sites", params={"embed": "1"}).json()["embedded"]


def test_a_link_reads_its_own_sites_annotations_only(browser: TestClient) -> None:
    _owner_login(browser)
    shared = {HEADER: _login_in(browser.get(_share(browser)["path"]).text)}
    mine = browser.get("/api/v1/sites/annotations", params={"site_id": SITE}, headers=shared)
    assert mine.status_code == 200, mine.text
    other = browser.get(
        "/api/v1/sites/annotations", params={"site_id": "shop.test"}, headers=shared
    )
    assert other.status_code == 403
    note = {"site_id": SITE, "date": "2026-01-01", "text": "x"}
    assert browser.put("/api/v1/sites/annotations", json=note, headers=shared).status_code == 403
