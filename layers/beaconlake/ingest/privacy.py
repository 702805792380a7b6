"""The collector's coarsening step (docs/PRIVACY.md): what minimal mode and its flags drop or
round, applied to a finished row, and the address truncation applied before the hash.

Pure but for `random_event_id`, the default id of an event when there is no visitor id.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlsplit

from beaconlake.config import Privacy
from beaconlake.model import Event

EventId = Callable[[], int]

IPV4_KEPT_BITS = 24  # the last 8 bits of an IPv4 address are cleared
IPV6_KEPT_BITS = 48  # the last 80 bits of an IPv6 address are cleared


def truncate_address(ip: str) -> str:
    """The address with its host part cleared: 203.0.113.77 → 203.0.113.0, 2001:db8:1:2:3::9
    → 2001:db8:1::. An IPv4-mapped IPv6 address is truncated as IPv4. Something that is not an
    address (a test's "unknown") is returned as it is: there is nothing to truncate."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    kept = IPV4_KEPT_BITS if address.version == 4 else IPV6_KEPT_BITS
    network = ipaddress.ip_network(f"{address}/{kept}", strict=False)
    return str(network.network_address)


def hashed_address(ip: str, privacy: Privacy) -> str:
    """The address the visitor hash and the country look-up see."""
    return truncate_address(ip) if privacy.truncate_addresses else ip


def random_event_id() -> int:
    """A fresh signed 63-bit id, unrelated to anything about the visitor: with no visitor id,
    every event is its own visitor and its own visit."""
    return secrets.randbits(63)


def _referrer_host(referrer: str | None) -> str | None:
    if not referrer:
        return referrer
    host = urlsplit(referrer if "//" in referrer else f"//{referrer}").hostname
    return host or None


def dropped_by_privacy(name: str, privacy: Privacy) -> str | None:
    """Why a beacon is not stored under `privacy`, or None. With no visitor id an engagement
    beacon (scroll depth, engaged time) is dropped: it refines a pageview of the same visitor,
    which nothing can find any more, and would count as a visitor of its own."""
    if privacy.no_visitor_id and name == "engagement":
        return "engagement"
    return None


def coarsen(event: Event, privacy: Privacy, event_id: EventId = random_event_id) -> Event:
    """The row with what `privacy` asks for rounded or left out. Country is the only place
    stored (there is no region or city column), so `country_only` has nothing more to drop."""
    if privacy == Privacy():
        return event
    changes: dict[str, object] = {}
    if privacy.hourly_timestamps:
        changes["ts"] = event.ts.replace(minute=0, second=0, microsecond=0)
    if privacy.no_versions:
        changes["browser_version"] = None
        changes["os_version"] = None
    if privacy.no_device:
        changes["device"] = None
    if privacy.referrer_host_only:
        changes["referrer"] = _referrer_host(event.referrer)
    if privacy.no_visitor_id:
        changes["visitor_id"] = event_id()
    return replace(event, **changes)  # type: ignore[arg-type]
