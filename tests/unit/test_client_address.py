"""The client address behind a proxy: one address (and so one visitor) whatever the port,
the brackets or the IPv4-mapped form it arrives in."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beaconlake.ingest.anonymise import visitor_id
from beaconlake.ingest.http import client_address, client_ip, request_meta
from tests.conftest import CHROME_UA

VIEWER = "cloudfront-viewer-address"
SALT = bytes(32)

ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).filter(lambda a: a.ipv4_mapped is None).map(str)
ports = st.integers(min_value=0, max_value=65535)


@pytest.mark.parametrize(
    ("value", "with_port", "address"),
    [
        ("198.51.100.7:51234", True, "198.51.100.7"),
        ("2001:db8::1:51234", True, "2001:db8::1"),
        ("2001:db8::1:443", True, "2001:db8::1"),
        ("2001:DB8:0:0::1:443", True, "2001:db8::1"),
        ("[2001:db8::1]:443", True, "2001:db8::1"),
        ("[2001:db8::1]:443", False, "2001:db8::1"),
        ("[2001:db8::1]", False, "2001:db8::1"),
        ("2001:db8::1", False, "2001:db8::1"),
        ("2001:db8::1", True, "2001:db8::1"),  # no port after all: the whole value
        ("198.51.100.7", False, "198.51.100.7"),
        ("198.51.100.7", True, "198.51.100.7"),
        ("198.51.100.7:8080", False, "198.51.100.7"),
        ("::ffff:198.51.100.7", False, "198.51.100.7"),
        ("[::ffff:198.51.100.7]:443", True, "198.51.100.7"),
        ("::ffff:198.51.100.7:51234", True, "198.51.100.7"),
        ("fe80::1%eth0", False, "fe80::1"),
        (" 198.51.100.7 , 10.0.0.1", False, "198.51.100.7"),
        ("2001:db8::1, 10.0.0.1", False, "2001:db8::1"),
        ("unknown", False, None),
        ("", False, None),
        ("[2001:db8::1", False, None),
        ("[2001:db8::1]:http", False, None),
        ("198.51.100.7:port", True, None),
        ("999.1.1.1:80", True, None),
    ],
)
def test_header_values_of_both_families(value: str, with_port: bool, address: str | None) -> None:
    assert client_address(value, with_port=with_port) == address


def test_an_ipv6_viewer_keeps_one_address_across_connections() -> None:
    """The bug: CloudFront's unbracketed IPv6 `address:port` kept its port."""
    first = client_ip({VIEWER: "2001:db8::1:51234"}, "203.0.113.9", VIEWER)
    second = client_ip({VIEWER: "2001:db8::1:51235"}, "203.0.113.9", VIEWER)
    assert first == second == "2001:db8::1"


def test_a_header_without_an_address_falls_back_to_the_connection() -> None:
    assert client_ip({VIEWER: "not-an-address"}, "203.0.113.9", VIEWER) == "203.0.113.9"
    assert client_ip({}, "::ffff:203.0.113.9", VIEWER) == "203.0.113.9"
    assert client_ip({}, "testclient") == "testclient"  # a test transport's name stays
    assert client_ip({"x-forwarded-for": "198.51.100.1"}, "203.0.113.9") == "203.0.113.9"


def same_visitor(header_values: list[str]) -> None:
    hashes = {
        visitor_id(SALT, "example.com", request_meta(h, "203.0.113.9", VIEWER).ip, CHROME_UA)
        for h in ({VIEWER: value, "user-agent": CHROME_UA} for value in header_values)
    }
    assert len(hashes) == 1


@given(ipv6, ports, ports)
def test_ipv6_with_different_ports_is_one_visitor(address: str, port: int, other: int) -> None:
    same_visitor(
        [
            f"{address}:{port}",
            f"{address}:{other}",
            f"[{address}]:{port}",
            ipaddress.IPv6Address(address).exploded + f":{other}",
        ]
    )
    assert client_address(f"{address}:{port}", with_port=True) == address


@given(ipv4, ports, ports)
def test_ipv4_with_different_ports_is_one_visitor(address: str, port: int, other: int) -> None:
    same_visitor([f"{address}:{port}", f"{address}:{other}", f"[::ffff:{address}]:{port}"])
    assert client_address(f"{address}:{port}", with_port=True) == address


@given(st.one_of(ipv4, ipv6))
def test_a_bare_forwarded_address_is_kept_whole(address: str) -> None:
    assert client_ip({"x-forwarded-for": f"{address}, 10.0.0.1"}, "", "x-forwarded-for") == (
        address
    )
