"""The collector's service: a decoded beacon plus request metadata → rows, or a drop reason.

Pure: the salt, the clock and the country look-up are passed in. The IP and the User-Agent
are used for the hash and the UA fields, and go no further.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from beaconlake.config import Privacy
from beaconlake.domains import is_local_host
from beaconlake.ingest.anonymise import visitor_id
from beaconlake.ingest.payload import parse_beacon
from beaconlake.ingest.privacy import (
    EventId,
    coarsen,
    dropped_by_privacy,
    hashed_address,
    random_event_id,
)
from beaconlake.ingest.referrer import referrer_source
from beaconlake.ingest.useragent import parse_user_agent
from beaconlake.model import Event, RequestMeta
from beaconlake.schema import header_columns

CountryLookup = Callable[[str], str | None]
SaltFor = Callable[[str], bytes]
UserIdSecret = Callable[[str], bytes]

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


@dataclass(frozen=True)
class CollectPolicy:
    # the tracked domains: a set, or the site catalogue itself (asked per domain, from its
    # in-process snapshot, so a site added through the API is accepted without a restart)
    sites: Container[str]
    honour_dnt: bool = True
    drop_localhost: bool = True
    # sites whose beacons may carry a user_id, and the per-site secret its hash is keyed with
    user_id_sites: frozenset[str] = frozenset()
    user_id_secret: UserIdSecret | None = None
    # minimal mode and its flags (docs/PRIVACY.md); the id of each event without a visitor id
    privacy: Privacy = field(default_factory=Privacy)
    event_id: EventId = random_event_id


@dataclass(frozen=True)
class Outcome:
    events: tuple[Event, ...] = ()
    dropped: str | None = None


def _country(meta: RequestMeta, lookup: CountryLookup | None, ip: str) -> str | None:
    header = (meta.country_header or "").strip().upper()
    if len(header) == 2 and header.isalpha() and header != "XX":
        return header
    return lookup(ip) if lookup else None


def user_id_hash(secret: bytes, user_id: str) -> str:
    """HMAC-SHA256 keyed with the site's secret, 128 bits as hex. Pseudonymous: whoever holds
    the secret and a user id can recompute it, so the secret never leaves its store."""
    digest = hmac.new(secret, user_id.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return digest.hexdigest()[:32]


def _user_id(user_id: str | None, site: str, policy: CollectPolicy) -> str | None:
    if user_id is None or policy.user_id_secret is None or site not in policy.user_id_sites:
        return None
    return user_id_hash(policy.user_id_secret(site), user_id)


def collect(
    data: dict[str, Any],
    meta: RequestMeta,
    policy: CollectPolicy,
    salt_for: SaltFor,
    now: datetime,
    country_lookup: CountryLookup | None = None,
    seq: int | None = None,
) -> Outcome:
    """Validate (raises PayloadError), then drop or anonymise into one row per tracked site.
    `seq`: the beacon's place in the order of arrival (ingest.http numbers them as they
    come), which orders a visitor's events within one millisecond."""
    beacon = parse_beacon(data)
    if policy.honour_dnt and (meta.dnt or meta.gpc):
        return Outcome(dropped="dnt" if meta.dnt else "gpc")
    if policy.drop_localhost and is_local_host(beacon.hostname):
        return Outcome(dropped="localhost")
    sites = [d for d in beacon.domains if d in policy.sites]
    if not sites:
        return Outcome(dropped="unknown_site")
    agent = parse_user_agent(meta.user_agent)
    if agent.is_bot:
        return Outcome(dropped="bot")
    if reason := dropped_by_privacy(beacon.name, policy.privacy):
        return Outcome(dropped=reason)
    ts = now.astimezone(UTC).replace(tzinfo=None, microsecond=now.microsecond // 1000 * 1000)
    day = ts.date().isoformat()
    salt = salt_for(day)
    ip = hashed_address(meta.ip, policy.privacy)
    country = _country(meta, country_lookup, ip)
    utm = {k: (beacon.query.get(k) or None) for k in UTM_KEYS}
    source = referrer_source(beacon.referrer, beacon.hostname, beacon.query)
    from_headers = header_columns(meta.headers)
    events = tuple(
        Event(
            ts=ts,
            name=beacon.name,
            hostname=beacon.hostname,
            pathname=beacon.pathname,
            referrer_source=source,
            referrer=beacon.referrer,
            visitor_id=visitor_id(salt, site, ip, meta.user_agent),
            browser=agent.browser,
            browser_version=agent.browser_version,
            os=agent.os,
            os_version=agent.os_version,
            device=agent.device,
            country=country,
            props=beacon.props,
            revenue_amount=beacon.revenue_amount,
            revenue_currency=beacon.revenue_currency,
            interactive=beacon.interactive,
            scroll_depth=beacon.scroll_depth,
            engaged_ms=beacon.engaged_ms,
            user_id=_user_id(beacon.user_id, site, policy),
            seq=seq,
            site_id=site,
            dt=day,
            **utm,
            **from_headers,
        )
        for site in sites
    )
    return Outcome(events=tuple(coarsen(e, policy.privacy, policy.event_id) for e in events))
