"""The Events API payload: Plausible's names and limits."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from beaconlake.ingest.payload import PayloadError, decode_body, parse_beacon

BASE = {
    "name": "pageview",
    "url": "https://example.com/a?utm_source=x#frag",
    "domain": "example.com",
}


def rejects(data: dict, field: str, rule: str) -> None:
    with pytest.raises(PayloadError) as err:
        parse_beacon(data)
    assert (err.value.field, err.value.rule) == (field, rule)
    assert err.value.as_body()["field"] == field


def test_long_and_short_names_give_the_same_beacon() -> None:
    long = parse_beacon(
        {
            **BASE,
            "referrer": "https://google.com/?q=1",
            "props": {"a": 1},
            "interactive": False,
            "revenue": {"amount": "9.5", "currency": "eur"},
        }
    )
    short = parse_beacon(
        {
            "n": "pageview",
            "u": BASE["url"],
            "d": "example.com",
            "r": "https://google.com/?q=1",
            "p": json.dumps({"a": 1}),
            "i": False,
            "$": json.dumps({"amount": 9.5, "currency": "EUR"}),
        }
    )
    assert long == short
    assert long.hostname == "example.com" and long.pathname == "/a"
    assert long.query == {"utm_source": "x"}
    assert long.referrer == "https://google.com/"
    assert long.props == {"a": "1"}
    assert (long.revenue_amount, long.revenue_currency) == (Decimal("9.5000"), "EUR")
    assert long.interactive is False


def test_hash_mode_keeps_the_fragment_and_www_is_folded() -> None:
    b = parse_beacon({**BASE, "url": "https://www.example.com/app#/settings", "h": 1})
    assert (b.hostname, b.pathname) == ("example.com", "/app#/settings")
    assert parse_beacon({**BASE, "d": "www.Example.com"}).domains == ("example.com",)


def test_url_rules() -> None:
    rejects({"name": "pageview", "domain": "example.com"}, "url", "required")
    rejects({**BASE, "url": "data:text/html,hi"}, "url", "scheme")
    rejects({**BASE, "url": "https://example.com/" + "a" * 2000}, "url", "max_bytes")
    rejects({**BASE, "url": "ftp://example.com/"}, "url", "format")
    rejects({**BASE, "url": "not a url"}, "url", "format")
    rejects({**BASE, "url": 5}, "url", "type")
    parse_beacon({**BASE, "url": "https://example.com/" + "a" * 1970})


def test_name_and_domain_rules() -> None:
    rejects({**BASE, "name": "x" * 121}, "name", "max_length")
    rejects({**BASE, "name": ""}, "name", "required")
    rejects({**BASE, "name": ["pageview"]}, "name", "type")
    rejects({"name": "pageview", "url": BASE["url"]}, "domain", "required")
    assert parse_beacon({**BASE, "name": "x" * 120}).name == "x" * 120


def test_props_rules() -> None:
    rejects({**BASE, "props": {f"k{i}": "v" for i in range(31)}}, "props", "max_count")
    rejects({**BASE, "props": {"k" * 301: "v"}}, "props", "key_max_bytes")
    rejects({**BASE, "props": {"k": "v" * 2001}}, "props", "value_max_bytes")
    rejects({**BASE, "props": {"k": {"nested": 1}}}, "props", "value_type")
    rejects({**BASE, "props": [1, 2]}, "props", "type")
    rejects({**BASE, "props": "{not json"}, "props", "json")
    ok = parse_beacon({**BASE, "props": {f"k{i}": True for i in range(30)} | {"none": None}})
    assert len(ok.props) == 30 and ok.props["k0"] == "true"


def test_revenue_rules() -> None:
    rejects({**BASE, "revenue": {"amount": 1, "currency": "XYZ"}}, "revenue", "currency")
    rejects({**BASE, "revenue": {"amount": "abc", "currency": "USD"}}, "revenue", "amount")
    rejects({**BASE, "revenue": {"amount": "NaN", "currency": "USD"}}, "revenue", "amount")
    rejects({**BASE, "revenue": {"amount": 1e20, "currency": "USD"}}, "revenue", "amount")
    rejects({**BASE, "revenue": 5}, "revenue", "type")


def test_engagement_fields() -> None:
    b = parse_beacon({**BASE, "name": "engagement", "sd": 75, "e": 12000})
    assert (b.scroll_depth, b.engaged_ms) == (75, 12000)
    rejects({**BASE, "sd": 101}, "scroll_depth", "range")
    rejects({**BASE, "e": "long"}, "engagement_time", "type")


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (b"\xff\xfe", "utf8"),
        (b"{", "json"),
        (b"[1]", "json_object"),
        (b'{"a": NaN}', "json"),
        (b"[" * 100_000 + b"]" * 100_000, "max_bytes"),
        (b"[" * 30_000 + b"]" * 30_000, "json"),
        (b" " * (64 * 1024 + 1), "max_bytes"),
    ],
)
def test_body_decoding_rejects_bad_bodies(body: bytes, rule: str) -> None:
    with pytest.raises(PayloadError) as err:
        decode_body(body)
    assert err.value.rule == rule


@pytest.mark.parametrize("bad", ["\x00", "\ud800"])
def test_every_text_field_of_a_beacon_is_checked_for_nul_and_lone_surrogates(bad: str) -> None:
    from dataclasses import fields, replace

    from beaconlake.ingest.payload import _SOURCE_FIELD, Beacon, _check_text

    beacon = parse_beacon(
        {
            **BASE,
            "referrer": "https://r.example/",
            "props": {"k": "v"},
            "revenue": {"amount": 1, "currency": "EUR"},
            "user_id": "u1",
        }
    )
    _check_text(beacon)
    checked = set()
    for f in fields(Beacon):
        value = getattr(beacon, f.name)
        if isinstance(value, str):
            variants = [value + bad]
        elif isinstance(value, tuple):
            variants = [(*value, bad)]
        elif isinstance(value, dict):
            variants = [{**value, bad: "v"}, {**value, "k": bad}]
        else:
            continue
        for variant in variants:
            with pytest.raises(PayloadError) as err:
                _check_text(replace(beacon, **{f.name: variant}))
            assert (err.value.field, err.value.rule) == (
                _SOURCE_FIELD.get(f.name, f.name),
                "unicode",
            )
        checked.add(f.name)
    assert checked == {
        "name",
        "domains",
        "hostname",
        "pathname",
        "query",
        "referrer",
        "props",
        "revenue_currency",
        "user_id",
    }
