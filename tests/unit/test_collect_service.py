"""The collector's service: drops, anonymisation, derived fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from beaconlake.ingest.anonymise import visitor_id
from beaconlake.ingest.service import CollectPolicy, collect
from beaconlake.ingest.useragent import parse_user_agent
from beaconlake.model import RequestMeta
from tests.conftest import BOT_UA, CHROME_UA, IPHONE_UA

POLICY = CollectPolicy(sites=frozenset({"example.com", "blog.example.com"}))
NOW = datetime(2026, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
PV = {
    "n": "pageview",
    "u": "https://www.example.com/p?utm_source=nl&utm_campaign=may",
    "d": "example.com",
}


def run(data=PV, meta=None, policy=POLICY, salt=b"s" * 32, now=NOW, lookup=None):
    meta = meta or RequestMeta(ip="198.51.100.7", user_agent=CHROME_UA)
    return collect(data, meta, policy, lambda day: salt, now, lookup)


def test_a_valid_pageview_becomes_one_anonymous_row() -> None:
    (event,) = run().events
    assert event.ts == datetime(2026, 5, 1, 12, 30, 15, 123000)
    assert (event.site_id, event.dt, event.hostname, event.pathname) == (
        "example.com",
        "2026-05-01",
        "example.com",
        "/p",
    )
    assert (event.utm_source, event.utm_campaign, event.referrer_source) == ("nl", "may", "nl")
    assert (event.browser, event.os, event.device) == ("Chrome", "Windows", "desktop")
    assert event.visitor_id == visitor_id(b"s" * 32, "example.com", "198.51.100.7", CHROME_UA)
    assert "198.51.100.7" not in repr(event) and CHROME_UA not in repr(event)


@pytest.mark.parametrize(
    ("meta", "data", "policy", "reason"),
    [
        (RequestMeta("1.2.3.4", BOT_UA), PV, POLICY, "bot"),
        (RequestMeta("1.2.3.4", ""), PV, POLICY, "bot"),
        (
            RequestMeta("1.2.3.4", CHROME_UA.replace("Chrome/", "HeadlessChrome/")),
            PV,
            POLICY,
            "bot",
        ),
        (RequestMeta("1.2.3.4", CHROME_UA, dnt=True), PV, POLICY, "dnt"),
        (RequestMeta("1.2.3.4", CHROME_UA, gpc=True), PV, POLICY, "gpc"),
        (RequestMeta("1.2.3.4", CHROME_UA), {**PV, "d": "other.org"}, POLICY, "unknown_site"),
        (
            RequestMeta("1.2.3.4", CHROME_UA),
            {**PV, "u": "http://localhost:3000/"},
            POLICY,
            "localhost",
        ),
        (RequestMeta("1.2.3.4", CHROME_UA), {**PV, "u": "http://127.0.0.1/"}, POLICY, "localhost"),
    ],
)
def test_drops(meta, data, policy, reason) -> None:
    outcome = run(data, meta, policy)
    assert outcome.dropped == reason and outcome.events == ()


def test_dnt_and_localhost_can_be_turned_off() -> None:
    policy = CollectPolicy(POLICY.sites, honour_dnt=False, drop_localhost=False)
    meta = RequestMeta("1.2.3.4", CHROME_UA, dnt=True, gpc=True)
    assert run({**PV, "u": "http://localhost/"}, meta, policy).dropped is None


def test_several_domains_give_one_row_per_tracked_site() -> None:
    events = run({**PV, "d": "example.com,blog.example.com,unknown.org"}).events
    assert sorted(e.site_id for e in events) == ["blog.example.com", "example.com"]
    assert events[0].visitor_id != events[1].visitor_id


def test_visitor_id_is_stable_within_a_salt_and_changes_with_it() -> None:
    a = run().events[0].visitor_id
    assert run().events[0].visitor_id == a
    assert run(salt=b"t" * 32).events[0].visitor_id != a
    other_ip = RequestMeta("198.51.100.8", CHROME_UA)
    assert run(meta=other_ip).events[0].visitor_id != a


def test_country_from_cloudfront_header_else_lookup() -> None:
    meta = RequestMeta("1.2.3.4", CHROME_UA, country_header="de")
    assert run(meta=meta, lookup=lambda ip: "FR").events[0].country == "DE"
    meta = RequestMeta("1.2.3.4", CHROME_UA, country_header="XX")
    assert run(meta=meta, lookup=lambda ip: "FR").events[0].country == "FR"
    assert run().events[0].country is None


def test_referrer_source_names_hosts_and_ignores_self_referrals() -> None:
    def source(ref: str) -> str | None:
        data = {"n": "pageview", "u": "https://example.com/", "d": "example.com", "r": ref}
        return run(data).events[0].referrer_source

    assert source("https://www.google.co.uk/") == "Google"
    assert source("https://news.ycombinator.com/item?id=1") == "Hacker News"
    assert source("https://m.facebook.com/") == "Facebook"
    assert source("https://blog.someone.net/post") == "blog.someone.net"
    assert source("https://www.example.com/other") is None


@pytest.mark.parametrize(
    ("ua", "device"),
    [
        (CHROME_UA, "desktop"),
        (IPHONE_UA, "mobile"),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.6 Mobile/15E148 Safari/604.1",
            "tablet",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 Safari/537.36",
            "tablet",
        ),
    ],
)
def test_device_types(ua: str, device: str) -> None:
    assert parse_user_agent(ua).device == device
