"""Log-ins (issue 26): a password has a budget of failed guesses from all clients together
(a shared link's, the operator's), IPv6 clients are counted per /64, and the session cookie
is Secure exactly when the request came over TLS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from beaconlake import wiring
from beaconlake.dashboard import passwords
from beaconlake.keys import create_key
from beaconlake.local.asgi import LocalGateway
from functions.collect.app import handler as collect
from functions.stats.app import handler as stats
from tests.apigw import Context, http_event

SITE = "example.com"


@pytest.fixture
def strict(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Budgets of 10 failures, one more a minute (the defaults' burst, a slower refill)."""
    monkeypatch.setenv("BEACONLAKE_AUTH_FAILURES_PER_MINUTE", "1")
    monkeypatch.setenv("BEACONLAKE_AUTH_FAILURES_BURST", "10")
    monkeypatch.setenv("BEACONLAKE_DASHBOARD_PASSWORD_HASH", passwords.hash_password("op-right"))
    wiring.reset()
    return local_env


def call(method: str, path: str, body: Any = None, ip: str = "203.0.113.9", **kw: Any) -> dict:
    headers = {"content-type": "application/json", **kw.pop("headers", {})}
    raw = json.dumps(body) if body is not None else None
    return stats(http_event(method, path, body=raw, headers=headers, source_ip=ip, **kw), Context())


def _share_token(password: str) -> str:
    token, _ = create_key(wiring.ports().keys, ("*",))
    res = call(
        "POST",
        "/api/dashboard/shares",
        {"site_id": SITE, "password": password},
        headers={"authorization": f"Bearer {token}"},
    )
    assert res["statusCode"] == 201, res
    return json.loads(res["body"])["path"].rsplit("/", 1)[1]


def _v6(i: int) -> str:
    """Addresses in 40 different /64 networks."""
    return f"2001:db8:{i:x}::1"


def test_guesses_at_a_share_password_from_many_addresses_are_limited(strict: Path) -> None:
    """Before: 40 guesses from 40 IPv6 addresses all got 401."""
    token = _share_token("share-right")
    codes = [
        call(
            "POST", "/api/dashboard/share-login", {"token": token, "password": f"g{i}"}, ip=_v6(i)
        )["statusCode"]
        for i in range(40)
    ]
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
    locked = call(
        "POST",
        "/api/dashboard/share-login",
        {"token": token, "password": "share-right"},
        ip=_v6(99),
    )
    assert locked["statusCode"] == 429 and int(locked["headers"]["retry-after"]) >= 1
    # another link's budget is its own
    other = _share_token("other-right")
    ok = call(
        "POST",
        "/api/dashboard/share-login",
        {"token": other, "password": "other-right"},
        ip=_v6(98),
    )
    assert ok["statusCode"] == 200


def test_guesses_at_the_operator_password_from_many_addresses_are_limited(strict: Path) -> None:
    """Before: 40 guesses from 40 IPv6 addresses all got 401."""
    codes = [
        call("POST", "/api/dashboard/login", {"password": f"g{i}"}, ip=_v6(i))["statusCode"]
        for i in range(40)
    ]
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
    # a key still opens the dashboard
    token, _ = create_key(wiring.ports().keys, ("*",))
    assert call("POST", "/api/dashboard/login", {"key": token}, ip=_v6(99))["statusCode"] == 200


def test_ipv6_clients_are_one_client_per_64(strict: Path) -> None:
    """Before: each address of a /64 had a budget of its own."""
    codes = []
    for i in range(12):
        bad = f"bl_{i:012x}_" + "x" * 43  # a new key id each time: only the client budget
        res = call(
            "GET",
            "/api/v1/stats/aggregate",
            None,
            ip=f"2001:db8:1:2::{i + 1:x}",
            headers={"authorization": f"Bearer {bad}"},
            query={"site_id": SITE},
        )
        codes.append(res["statusCode"])
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
    res = call(
        "GET",
        "/api/v1/stats/aggregate",
        None,
        ip="2001:db8:1:3::1",
        headers={"authorization": "Bearer bl_ffffffffffff_" + "x" * 43},
        query={"site_id": SITE},
    )
    assert res["statusCode"] == 401  # the next /64 is another client


def _login_cookie(client: TestClient, **headers: str) -> str:
    token, _ = create_key(wiring.ports().keys, ("*",))
    res = client.post("/api/dashboard/login", json={"key": token}, headers=headers)
    assert res.status_code == 200, res.text
    return res.headers["set-cookie"].lower()


def test_the_session_cookie_is_secure_only_over_tls(local_env: Path) -> None:
    """Before: `beaconlake serve` over plain HTTP set a Secure cookie (Mangum reports https
    when no x-forwarded-proto says otherwise)."""
    gateway = LocalGateway(collect=collect, stats=stats)
    with TestClient(gateway, base_url="http://127.0.0.1:8000") as plain:
        assert "secure" not in _login_cookie(plain)
        assert "secure" in _login_cookie(plain, **{"x-forwarded-proto": "https"})
        assert "secure" not in _login_cookie(plain, **{"x-forwarded-proto": "http"})
    # API Gateway sets x-forwarded-proto: https on every request it passes on
    token, _ = create_key(wiring.ports().keys, ("*",))
    res = call(
        "POST", "/api/dashboard/login", {"key": token}, headers={"x-forwarded-proto": "https"}
    )
    assert "secure" in res["cookies"][0].lower()
