"""The dashboard's routes: the page and its headers, log-in by key or password, the session
cookie, shared links (read-only, password-protected, revocable) and the props list."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from beaconlake import cli, wiring
from beaconlake.dashboard import passwords
from beaconlake.dashboard.logins import LOGIN_COOKIE
from beaconlake.handlers.stats import create_app
from beaconlake.ingest.service import collect
from beaconlake.keys import create_key
from beaconlake.model import RequestMeta
from tests.conftest import CHROME_UA

STATIC = Path(__file__).resolve().parents[2] / "layers" / "beaconlake" / "dashboard" / "static"
QUERY = {"site_id": "example.com", "metrics": ["visitors", "pageviews"], "date_range": "7d"}


@pytest.fixture
def client(local_env: Path) -> Iterator[TestClient]:
    with TestClient(create_app()) as c:
        yield c


def _key(*sites: str) -> tuple[str, str]:
    token, key = create_key(wiring.ports().keys, sites or ("*",), "test")
    return token, key.key_id


def _login(client: TestClient, token: str) -> None:
    res = client.post("/api/dashboard/login", json={"key": token})
    assert res.status_code == 200, res.text


def _load_events() -> None:
    p = wiring.ports()
    now = datetime.now(UTC)
    beacons = [
        {"n": "pageview", "u": "https://example.com/", "d": "example.com"},
        {"n": "Signup", "u": "https://example.com/", "d": "example.com", "p": {"plan": "pro"}},
        {"n": "Signup", "u": "https://example.com/", "d": "example.com", "p": {"plan": "x"}},
        {"n": "Download", "u": "https://example.com/", "d": "example.com", "p": {"file": "a"}},
    ]
    for i, data in enumerate(beacons):
        meta = RequestMeta(f"192.0.2.{i}", CHROME_UA)
        p.sink.put(collect(data, meta, p.policy, p.salts.salt_for, now).events)
    p.sink.flush()


def test_password_hashes_round_trip_and_reject_others() -> None:
    encoded = passwords.hash_password("correct horse")
    assert passwords.is_password_hash(encoded)
    assert passwords.verify_password("correct horse", encoded)
    assert not passwords.verify_password("correct hors", encoded)
    assert encoded != passwords.hash_password("correct horse")  # salted
    with pytest.raises(ValueError, match="dashboard-password"):
        passwords.verify_password("x", "plain-text")


def test_cli_prints_a_hash_that_verifies(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("s3cret-password\n"))
    assert cli.main(["dashboard-password", "--stdin"]) == 0
    line = capsys.readouterr().out.strip()
    match = re.fullmatch(r"BEACONLAKE_DASHBOARD_PASSWORD_HASH='(.+)'", line)
    assert match and passwords.verify_password("s3cret-password", match.group(1))
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("short\n"))
    assert cli.main(["dashboard-password", "--stdin"]) == 2


def test_page_has_security_headers_and_no_inline_script(client: TestClient) -> None:
    res = client.get("/api/dashboard")
    assert res.status_code == 200
    csp = res.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert res.headers["x-content-type-options"] == "nosniff"
    assert res.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in res.headers
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", res.text, re.S)
    assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"\son\w+=|\sstyle=", res.text)


def test_static_files_types_etag_and_no_escape(client: TestClient) -> None:
    res = client.get("/api/dashboard/static/app.mjs")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/javascript")
    assert res.content == (STATIC / "app.mjs").read_bytes()
    again = client.get(
        "/api/dashboard/static/app.mjs", headers={"if-none-match": res.headers["etag"]}
    )
    assert again.status_code == 304
    assert client.get("/api/dashboard/static/vendor/uPlot.min.css").status_code == 200
    assert client.get("/api/dashboard/static/../routes.py").status_code == 404
    assert client.get("/api/dashboard/static/%2e%2e/routes.py").status_code == 404
    assert client.get("/api/dashboard/static/vendor/LICENSE.uplot").status_code == 404


def test_key_login_sets_a_strict_httponly_cookie_that_reads_stats(client: TestClient) -> None:
    token, _ = _key("example.com")
    assert client.post("/api/v2/query", json=QUERY).status_code == 401
    res = client.post("/api/dashboard/login", json={"key": token})
    assert res.status_code == 200
    assert res.json() == {"sites": ["example.com"], "via": "key"}
    cookie = res.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/api" in cookie
    assert "secure" not in cookie
    assert token not in res.headers["set-cookie"]
    assert client.post("/api/v2/query", json=QUERY).status_code == 200
    other = client.post("/api/v2/query", json={**QUERY, "site_id": "shop.test"})
    assert other.status_code == 403
    sites = client.get("/api/dashboard/sites").json()
    assert sites["sites"] == ["example.com"] and sites["read_only"] is False
    assert sites["site_info"]["example.com"]["today"] == datetime.now(UTC).date().isoformat()
    # the local server counts what its sink still buffers: nothing arrives late
    assert sites["backend"] == "local" and sites["delivery_delay_seconds"] == 0
    assert set(sites["features"]) == {"funnel", "journeys", "retention", "realtime"}


def test_cookie_is_secure_on_tls(local_env: Path) -> None:
    token, _ = _key()
    with TestClient(create_app(), base_url="https://testserver") as c:
        res = c.post("/api/dashboard/login", json={"key": token})
    assert "secure" in res.headers["set-cookie"].lower()


def test_bad_logins_name_the_field(client: TestClient) -> None:
    res = client.post("/api/dashboard/login", json={"key": "bl_000000000000_nope"})
    assert res.status_code == 401 and res.json()["field"] == "key"
    res = client.post("/api/dashboard/login", json={})
    assert res.status_code == 400 and res.json()["field"] == "key"
    res = client.post("/api/dashboard/login", json={"password": "whatever"})
    assert res.status_code == 400 and "BEACONLAKE_DASHBOARD_PASSWORD_HASH" in res.json()["error"]
    assert client.post("/api/dashboard/login", json={"key": "x", "extra": 1}).status_code == 422


def test_password_login(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEACONLAKE_DASHBOARD_PASSWORD_HASH", passwords.hash_password("op-pass-1"))
    wiring.reset()
    with TestClient(create_app()) as c:
        wrong = c.post("/api/dashboard/login", json={"password": "op-pass-2"})
        assert wrong.status_code == 401 and wrong.json()["field"] == "password"
        ok = c.post("/api/dashboard/login", json={"password": "op-pass-1"})
        assert ok.status_code == 200 and ok.json()["sites"] == ["example.com", "shop.test"]
        assert c.post("/api/v2/query", json=QUERY).status_code == 200
        monkeypatch.setenv("BEACONLAKE_DASHBOARD_PASSWORD_HASH", "")
        wiring.reset()
        assert c.post("/api/v2/query", json=QUERY).status_code == 401  # password turned off


def test_logout_and_key_revocation_end_sessions(client: TestClient) -> None:
    token, key_id = _key()
    _login(client, token)
    assert client.post("/api/dashboard/logout").status_code == 200
    assert client.post("/api/v2/query", json=QUERY).status_code == 401
    _login(client, token)
    assert wiring.ports().keys.revoke(key_id)
    assert client.post("/api/v2/query", json=QUERY).status_code == 401


def test_sessions_are_stored_hashed_in_a_private_file(client: TestClient, local_env: Path) -> None:
    token, _ = _key()
    _login(client, token)
    session = client.cookies[LOGIN_COOKIE]
    path = local_env / "dashboard.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert session not in text and token not in text and '"session:' in text


def test_shared_link_is_read_only_and_revocable(client: TestClient, local_env: Path) -> None:
    token, _ = _key()
    _login(client, token)
    made = client.post("/api/dashboard/shares", json={"site_id": "example.com", "label": "team"})
    assert made.status_code == 201
    link = made.json()["path"]
    assert link.startswith("/api/share/") and not made.json()["has_password"]
    assert [s["label"] for s in client.get("/api/dashboard/shares").json()["shares"]] == ["team"]
    with TestClient(create_app()) as visitor:
        page = visitor.get(link)
        assert page.status_code == 200 and 'data-locked="0"' in page.text
        # the link's login is in the page, sent as a header (never the owner's cookie)
        login = page.text.split('data-login="', 1)[1].split('"', 1)[0]
        assert login not in (local_env / "dashboard.json").read_text()
        visitor.headers["x-beaconlake-share"] = login
        assert page.headers["content-security-policy"]
        assert visitor.post("/api/v2/query", json=QUERY).status_code == 200
        other = visitor.post("/api/v2/query", json={**QUERY, "site_id": "shop.test"})
        assert other.status_code == 403
        info = visitor.get("/api/dashboard/sites").json()
        assert info["read_only"] is True and info["sites"] == ["example.com"]
        assert visitor.get("/api/dashboard/shares").status_code == 403
        blocked = visitor.post("/api/dashboard/shares", json={"site_id": "example.com"})
        assert blocked.status_code == 403

        share_id = made.json()["id"]
        assert client.delete(f"/api/dashboard/shares/{share_id}").status_code == 200
        assert client.delete(f"/api/dashboard/shares/{share_id}").status_code == 404
        assert visitor.post("/api/v2/query", json=QUERY).status_code == 401
        assert visitor.get(link).status_code == 404


def test_password_protected_shared_link(client: TestClient) -> None:
    token, _ = _key()
    _login(client, token)
    body = {"site_id": "example.com", "password": "share-pass"}
    made = client.post("/api/dashboard/shares", json=body).json()
    assert made["has_password"] is True
    share_token = made["path"].rsplit("/", 1)[1]
    with TestClient(create_app()) as visitor:
        page = visitor.get(made["path"])
        assert 'data-locked="1"' in page.text and "set-cookie" not in page.headers
        assert visitor.post("/api/v2/query", json=QUERY).status_code == 401
        wrong = visitor.post(
            "/api/dashboard/share-login", json={"token": share_token, "password": "nope"}
        )
        assert wrong.status_code == 401 and wrong.json()["field"] == "password"
        ok = visitor.post(
            "/api/dashboard/share-login", json={"token": share_token, "password": "share-pass"}
        )
        assert ok.status_code == 200 and ok.json()["sites"] == ["example.com"]
        visitor.headers["x-beaconlake-share"] = ok.json()["login"]
        assert visitor.post("/api/v2/query", json=QUERY).status_code == 200
    short = client.post("/api/dashboard/shares", json={**body, "password": "short"})
    assert short.status_code == 422
    missing = client.post("/api/dashboard/share-login", json={"token": "x" * 32, "password": "p"})
    assert missing.status_code == 404


def test_a_key_for_one_site_cannot_share_another(client: TestClient) -> None:
    token, _ = _key("example.com")
    _login(client, token)
    assert client.post("/api/dashboard/shares", json={"site_id": "shop.test"}).status_code == 403


def test_unknown_shared_link_page(client: TestClient) -> None:
    res = client.get("/api/share/" + "a" * 32)
    assert res.status_code == 404 and 'data-share="invalid"' in res.text


def test_props_lists_custom_property_keys(client: TestClient) -> None:
    _load_events()
    token, _ = _key()
    res = client.get(
        "/api/dashboard/props",
        params={"site_id": "example.com", "date_range": "7d"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert res.status_code == 200
    assert res.json() == {"props": ["plan", "file"]}
    bad = client.get(
        "/api/dashboard/props",
        params={"site_id": "example.com", "date_range": "8x"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert bad.status_code == 400 and bad.json()["field"] == "date_range"


def test_sites_lists_goals_and_offers_every_view_the_api_serves(client: TestClient) -> None:
    token, _ = _key()
    info = client.get("/api/dashboard/sites", headers={"authorization": f"Bearer {token}"}).json()
    assert info["features"] == {
        "funnel": True,
        "journeys": True,
        "retention": True,
        "realtime": True,
    }
    assert info["goals"] == {"example.com": [], "shop.test": []}


def test_a_view_the_api_document_lacks_is_not_offered(local_env: Path) -> None:
    """A deployment whose API has no realtime route (its OpenAPI document, customised the way
    FastAPI documents it, lists none): the dashboard says "not available" for that view."""
    app = create_app()
    full = app.openapi()
    paths = {p: v for p, v in full["paths"].items() if p != "/api/v2/realtime"}
    app.openapi = lambda: {**full, "paths": paths}  # type: ignore[method-assign]
    token, _ = _key()
    with TestClient(app) as c:
        info = c.get("/api/dashboard/sites", headers={"authorization": f"Bearer {token}"})
    assert info.json()["features"] == {
        "funnel": True,
        "journeys": True,
        "retention": True,
        "realtime": False,
    }


@pytest.mark.parametrize("secret", ["key", "password", "share"])
def test_guessing_a_login_secret_is_locked_out(
    local_env: Path, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("BEACONLAKE_AUTH_FAILURES_PER_MINUTE", "1")
    monkeypatch.setenv("BEACONLAKE_AUTH_FAILURES_BURST", "3")
    monkeypatch.setenv("BEACONLAKE_DASHBOARD_PASSWORD_HASH", passwords.hash_password("right-one"))
    wiring.reset()
    guesses = {
        "key": ("/api/dashboard/login", {"key": "bl_0123456789ab_" + "x" * 43}),
        "password": ("/api/dashboard/login", {"password": "wrong-one"}),
        "share": ("/api/dashboard/share-login", {"token": "nope", "password": "x"}),
    }
    path, body = guesses[secret]
    with TestClient(create_app()) as c:
        codes = [c.post(path, json=body).status_code for _ in range(4)]
        assert all(code in (401, 404) for code in codes[:3]) and codes[3] == 429
        locked = c.post("/api/dashboard/login", json={"password": "right-one"})
        assert locked.status_code == 429 and "error" in locked.json()
