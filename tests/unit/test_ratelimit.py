"""The token bucket (pure, with an injected clock) and the collector's per-IP and per-site
limits through the Lambda handler."""

from __future__ import annotations

import json
import threading

import pytest

from beaconlake import wiring
from beaconlake.ingest.ratelimit import TokenBucket, hashed
from functions.collect.app import handler as collect
from tests.apigw import Context, http_event
from tests.conftest import FIREFOX_UA


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_the_burst_then_refills_at_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=2, burst=5, clock=clock)
    assert [bucket.allow("a") for _ in range(6)] == [True] * 5 + [False]
    assert bucket.retry_after("a") == 1
    clock.now += 0.5  # one token back
    assert bucket.allow("a") and not bucket.allow("a")
    clock.now += 100  # never more than the burst
    assert sum(bucket.allow("a") for _ in range(10)) == 5


def test_buckets_are_per_key_and_blocked_takes_nothing() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=1, burst=2, clock=clock)
    assert not bucket.blocked("a")
    bucket.allow("a")
    bucket.allow("a")
    assert bucket.blocked("a") and bucket.blocked("a")
    assert not bucket.blocked("b") and bucket.allow("b")
    clock.now += 1
    assert not bucket.blocked("a")


def test_memory_is_bounded_by_forgetting_the_least_recent_keys() -> None:
    bucket = TokenBucket(rate=1, burst=1, clock=Clock(), max_keys=3)
    for key in "abcd":
        assert bucket.allow(key)
    # the three most recent keys are remembered, spent; the oldest was forgotten
    assert [bucket.blocked(key) for key in "abcd"] == [False, True, True, True]
    assert bucket.allow("a")  # a forgotten bucket starts full


def test_concurrent_takers_never_get_more_than_the_burst() -> None:
    bucket = TokenBucket(rate=1e-9, burst=100, clock=Clock())
    allowed: list[bool] = []

    def take() -> None:
        allowed.extend(bucket.allow("k") for _ in range(50))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 100


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, burst=0)


def test_client_keys_are_keyed_hashes_not_addresses() -> None:
    key = hashed("203.0.113.9")
    assert key == hashed("203.0.113.9") != hashed("203.0.113.10")
    assert "203" not in key and len(key) == 24


def post(ip: str, domain: str = "example.com") -> dict:
    body = json.dumps({"n": "pageview", "u": f"https://{domain}/", "d": domain})
    headers = {"content-type": "text/plain", "user-agent": FIREFOX_UA}
    return collect(
        http_event("POST", "/api/event", body=body, headers=headers, source_ip=ip), Context()
    )


def test_one_client_over_its_limit_gets_429_json_and_others_do_not(
    local_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEACONLAKE_INGEST_IP_RATE", "0.001")
    monkeypatch.setenv("BEACONLAKE_INGEST_IP_BURST", "3")
    wiring.reset()
    assert [post("198.51.100.1")["statusCode"] for _ in range(4)] == [202, 202, 202, 429]
    res = post("198.51.100.1")
    assert res["statusCode"] == 429 and int(res["headers"]["retry-after"]) >= 1
    assert json.loads(res["body"]) == {
        "error": "too many requests; retry later",
        "field": "client",
        "rule": "rate_limit",
    }
    assert post("198.51.100.2")["statusCode"] == 202
    assert len(wiring.ports().sink.pending()) == 4  # type: ignore[attr-defined]
    pixel = collect(
        http_event(
            "GET",
            "/e.gif",
            headers={"user-agent": FIREFOX_UA},
            query={"d": "example.com", "u": "https://example.com/"},
            source_ip="198.51.100.1",
        ),
        Context(),
    )
    assert pixel["statusCode"] == 200 and pixel["headers"]["x-beaconlake-dropped"] == "rate_limited"


def test_one_site_over_its_limit_gets_429_and_other_sites_do_not(
    local_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEACONLAKE_INGEST_SITE_RATE", "0.001")
    monkeypatch.setenv("BEACONLAKE_INGEST_SITE_BURST", "2")
    wiring.reset()
    codes = [post(f"198.51.100.{i}")["statusCode"] for i in range(3)]
    assert codes == [202, 202, 429]
    res = post("198.51.100.9")
    assert json.loads(res["body"])["field"] == "site"
    assert post("198.51.100.10", "shop.test")["statusCode"] == 202


def test_a_rate_of_zero_switches_the_limits_off(local_env, monkeypatch) -> None:
    monkeypatch.setenv("BEACONLAKE_INGEST_IP_RATE", "0")
    monkeypatch.setenv("BEACONLAKE_INGEST_SITE_RATE", "0")
    wiring.reset()
    assert {post("198.51.100.1")["statusCode"] for _ in range(300)} == {202}
