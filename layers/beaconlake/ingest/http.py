"""HTTP concerns of the collector, shared by POST /api/event and GET /e.gif: what the
handler hands in (body, headers, client address) and what it sends back."""

from __future__ import annotations

import ipaddress
import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from aws_lambda_powertools import Logger

from beaconlake import telemetry
from beaconlake.config import Settings
from beaconlake.domains import normalise_domain
from beaconlake.ingest.payload import (
    MAX_BODY_BYTES,
    MAX_DOMAINS,
    PayloadError,
    decode_body,
    normalise_keys,
)
from beaconlake.ingest.ratelimit import Limits, hashed, limits_for
from beaconlake.ingest.service import CollectPolicy, CountryLookup, Outcome, collect
from beaconlake.ingest.signed import Refused, authenticate, collect_sent, refuse_signed_fields
from beaconlake.model import Event, RequestMeta
from beaconlake.ports import KeyStore, SaltStore, Sink, SinkUnavailable
from beaconlake.schema import REQUEST_HEADERS
from beaconlake.site_ports import Sightings

logger = Logger(service="beaconlake-collect")

# The smallest transparent GIF: 43 bytes.
PIXEL_GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
ACCEPTED_CONTENT_TYPES = ("application/json", "text/plain")
# API Gateway refuses more than 10 KB of headers; the local server would take up to ~1 MB
MAX_HEADER_BYTES = 16 * 1024
_compact_json = json.JSONEncoder(separators=(",", ":")).encode


class CollectorPorts(Protocol):
    """What answering a beacon needs from outside; the composition root's `Ports` is one."""

    @property
    def settings(self) -> Settings: ...

    @property
    def policy(self) -> CollectPolicy: ...

    @property
    def salts(self) -> SaltStore: ...

    @property
    def sink(self) -> Sink: ...

    @property
    def country_lookup(self) -> CountryLookup | None: ...

    @property
    def sightings(self) -> Sightings | None: ...

    @property
    def keys(self) -> KeyStore: ...


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] | bytes
    headers: dict[str, str] = field(default_factory=dict)


ACCEPTED = Reply(202, {"status": "accepted"})
_ACCEPTED_JSON = _compact_json(ACCEPTED.body).encode()


class RateLimited(Exception):
    """Over a token bucket's limit: `scope` is 'client' or 'site'."""

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(scope)
        self.scope = scope
        self.retry_after = retry_after

    def reply(self) -> Reply:
        return Reply(
            429,
            {"error": "too many requests; retry later", "field": self.scope, "rule": "rate_limit"},
            {"retry-after": str(self.retry_after)},
        )


def headers_too_large(headers: dict[str, str]) -> Reply | None:
    """431 when the request's headers add up to more than MAX_HEADER_BYTES."""
    size = sum(len(k) + len(v) + 4 for k, v in headers.items())
    if size <= MAX_HEADER_BYTES:
        return None
    return Reply(
        431,
        {
            "error": f"the request headers are larger than {MAX_HEADER_BYTES} bytes",
            "field": "headers",
            "rule": "max_bytes",
        },
    )


# Proxy headers whose value is always "address:port" (CloudFront-Viewer-Address sends
# `198.51.100.7:51234` and `2001:db8::1:51234`: no brackets, the last field is the port).
HEADERS_WITH_PORT = frozenset({"cloudfront-viewer-address"})


def _parsed_address(text: str) -> str | None:
    """`text` as one canonical IP address (IPv4-mapped IPv6 as IPv4, no zone), or None."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def client_address(value: str, with_port: bool = False) -> str | None:
    """The client's IP address in a proxy header's value, or None if it holds none.

    The first of a comma-separated list is the client's (X-Forwarded-For). It may be bare
    (`198.51.100.7`, `2001:db8::1`), bracketed (`[2001:db8::1]`, `[2001:db8::1]:443`), IPv4
    with a port (`198.51.100.7:51234`) or, when `with_port`, IPv6 with a port and no
    brackets (`2001:db8::1:51234`). The same address always comes back in the same form, so
    a new connection (another port) never makes a new visitor."""
    text = value.split(",", 1)[0].strip().strip('"')
    if text.startswith("["):
        inside, bracket, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
        if not bracket or (rest and not (rest.startswith(":") and port.isdigit())):
            return None
        return _parsed_address(inside)
    host, colon, port = text.rpartition(":")
    if colon and port.isdigit() and (with_port or host.count(":") == 0):
        without_port = _parsed_address(host)
        if without_port is not None:
            return without_port
    return _parsed_address(text)


def client_ip(headers: dict[str, str], source_ip: str, client_ip_header: str = "") -> str:
    """The client's address: the first one in a trusted proxy header, or the connection's
    (also when the header holds no address)."""
    if client_ip_header and headers.get(client_ip_header):
        forwarded = client_address(
            headers[client_ip_header], with_port=client_ip_header in HEADERS_WITH_PORT
        )
        if forwarded is not None:
            return forwarded
    return client_address(source_ip) or source_ip


def request_meta(
    headers: dict[str, str], source_ip: str, client_ip_header: str = ""
) -> RequestMeta:
    """Client address, UA and privacy signals. Header names must be lower-case."""
    return RequestMeta(
        ip=client_ip(headers, source_ip, client_ip_header),
        user_agent=headers.get("user-agent", ""),
        dnt=headers.get("dnt", "").strip() == "1",
        gpc=headers.get("sec-gpc", "").strip() == "1",
        country_header=headers.get("cloudfront-viewer-country"),
        headers={h: headers[h] for h in REQUEST_HEADERS if h in headers},
    )


def origin_allows(origin: str, site: str) -> bool:
    """An Origin header (`https://host[:port]`) belongs to the site or one of its subdomains."""
    try:
        host = urlsplit(origin.strip()).hostname
    except ValueError:
        return False
    host = normalise_domain(host) if host else ""
    return host == site or host.endswith("." + site)


def _check_client(limits: Limits, meta: RequestMeta) -> None:
    bucket = limits.ingest_ip
    if bucket is None:
        return
    key = hashed(meta.ip)
    if not bucket.allow(key):
        raise RateLimited("client", bucket.retry_after(key))


def _charge_events(limits: Limits, meta: RequestMeta, outcome: Outcome) -> None:
    """The limits count events: a beacon naming several sites stores one event per site, so
    the client pays one token per event (one was taken before parsing) and each site one per
    event it gets. A cost is capped at the bucket's burst, so no beacon is refused forever."""
    if not outcome.events:
        return
    client_bucket = limits.ingest_ip
    extra = len(outcome.events) - 1
    if client_bucket is not None and extra > 0:
        key = hashed(meta.ip)
        if not client_bucket.allow(key, min(extra, client_bucket.burst)):
            raise RateLimited("client", client_bucket.retry_after(key))
    site_bucket = limits.ingest_site
    if site_bucket is not None:
        per_site = Counter(e.site_id for e in outcome.events)
        for site in sorted(per_site):
            if not site_bucket.allow(site, min(per_site[site], site_bucket.burst)):
                raise RateLimited("site", site_bucket.retry_after(site))


# Each event's `seq`: increasing in order of arrival within this process (a new process starts
# above the last one's, from the clock in microseconds), so events of one visitor in the same
# millisecond keep their order (entry and exit page, journeys, funnels).
_arrival = itertools.count(time.time_ns() // 1000)


def next_arrival() -> int:
    """The next `seq`: the collector numbers each beacon (and each event of a sent batch) as
    it arrives, before it is collected."""
    return next(_arrival)


def _store(
    ports: CollectorPorts, limits: Limits, data: dict[str, Any], meta: RequestMeta, origin: str = ""
) -> Outcome:
    """Validate and anonymise, apply the origin check and the per-site limit, then store."""
    try:
        outcome = collect(
            data,
            meta,
            ports.policy,
            ports.salts.salt_for,
            datetime.now(UTC),
            ports.country_lookup,
            next_arrival(),
        )
    except PayloadError:
        note_sightings(ports.sightings, data, Outcome(dropped="invalid"))
        raise
    if outcome.events and origin and ports.settings.check_origin:
        kept = tuple(e for e in outcome.events if origin_allows(origin, e.site_id))
        outcome = Outcome(events=kept) if kept else Outcome(dropped="origin")
    note_sightings(ports.sightings, data, outcome)
    _charge_events(limits, meta, outcome)
    if outcome.events:
        ports.sink.put(outcome.events)
    else:
        logger.debug("beacon dropped", extra={"reason": outcome.dropped})
    return outcome


def _named_hosts(data: dict[str, Any]) -> list[str]:
    """The site domains a beacon names (its `d`), normalised: the hosts a dropped beacon is
    noted under (for unknown_site, the hosts that are not sites)."""
    raw = normalise_keys(data).get("domain") if isinstance(data, dict) else None
    if not isinstance(raw, str):
        return []
    hosts = dict.fromkeys(normalise_domain(d) for d in raw.split(",")[:MAX_DOMAINS] if d.strip())
    return [h for h in hosts if len(h) <= 253]


def note_sightings(sightings: Sightings | None, data: dict[str, Any], outcome: Outcome) -> None:
    """Tell `sightings` what became of a beacon, per host: "accepted" for each site it was
    stored for, else the reason it was dropped. Never fails the beacon."""
    if sightings is None:
        return
    at = int(time.time())
    try:
        if outcome.events:
            for site in dict.fromkeys(e.site_id for e in outcome.events):
                sightings.note(site, "accepted", at)
        elif outcome.dropped:
            for host in _named_hosts(data):
                sightings.note(host, outcome.dropped, at)
    except Exception as exc:  # a sighting is best effort; the beacon is not
        logger.warning("could not note a sighting", extra={"error": type(exc).__name__})


def receive_event(
    ports: CollectorPorts, body: bytes, content_type: str, meta: RequestMeta, origin: str = ""
) -> Reply:
    """POST /api/event: 202 stored, 202 + x-beaconlake-dropped, 400, 413, 415, 429 or 503."""
    mime = content_type.split(";")[0].strip().lower()
    if mime and mime not in ACCEPTED_CONTENT_TYPES:
        return Reply(
            415,
            {
                "error": "Content-Type must be application/json or text/plain",
                "field": "content-type",
                "rule": "media_type",
            },
        )
    if len(body) > MAX_BODY_BYTES:
        return Reply(
            413,
            {
                "error": f"the body is larger than {MAX_BODY_BYTES} bytes",
                "field": "body",
                "rule": "max_bytes",
            },
        )
    limits = limits_for(ports.settings)
    try:
        _check_client(limits, meta)
        data = decode_body(body)
        refuse_signed_fields(data)
        outcome = _store(ports, limits, data, meta, origin)
    except RateLimited as exc:
        return exc.reply()
    except PayloadError as exc:
        return Reply(400, exc.as_body())
    except SinkUnavailable:
        return unavailable()
    if outcome.dropped:
        return Reply(
            202,
            {"status": "dropped", "reason": outcome.dropped},
            {"x-beaconlake-dropped": outcome.dropped},
        )
    return ACCEPTED


def _charge_sites(limits: Limits, events: tuple[Event, ...]) -> None:
    """A keyed sender pays per site only: its own address is one server's for many visitors."""
    if limits.ingest_site is not None:
        for site, count in sorted(Counter(e.site_id for e in events).items()):
            if not limits.ingest_site.allow(site, min(count, limits.ingest_site.burst)):
                raise RateLimited("site", limits.ingest_site.retry_after(site))


def receive_sent(
    ports: CollectorPorts, headers: dict[str, str], body: bytes, meta: RequestMeta
) -> Reply:
    """POST /api/event with `Authorization: Bearer <ingest key>` (ingest.signed): one event
    or a batch, stored together; 202, 400, 401, 403, 413, 429 or 503."""
    now = datetime.now(UTC)
    signature = headers.get("x-beaconlake-signature", "")
    try:
        sender = authenticate(
            ports.keys, headers["authorization"], signature, body, now.timestamp()
        )
    except Refused as exc:
        logger.info("sent events refused", extra={"field": exc.field, "rule": exc.rule})
        return Reply(exc.status, exc.as_body())
    except Exception as exc:  # the key store could not be read (DynamoDB, the key file)
        logger.error("key store unavailable", extra={"error": type(exc).__name__})
        return unavailable()
    try:
        policy, salt_for, lookup = ports.policy, ports.salts.salt_for, ports.country_lookup
        sent = collect_sent(sender, body, meta, policy, salt_for, now, lookup, next_arrival)
        _charge_sites(limits_for(ports.settings), sent.events)
        if sent.events:
            ports.sink.put(sent.events)
    except Refused as exc:
        return Reply(exc.status, exc.as_body())
    except PayloadError as exc:
        return Reply(413 if exc.rule == "max_bytes" else 400, exc.as_body())
    except RateLimited as exc:
        return exc.reply()
    except SinkUnavailable:
        return unavailable()
    body_out = {"status": "accepted", "accepted": len(sent.events), "dropped": len(sent.dropped)}
    if sent.dropped:
        return Reply(202, body_out, {"x-beaconlake-dropped": ",".join(sorted(set(sent.dropped)))})
    return Reply(202, body_out)


def unavailable() -> Reply:
    logger.error("event store unavailable; answered 503")
    return Reply(
        503, {"error": "the event store is unavailable; retry later"}, {"retry-after": "5"}
    )


def pixel(dropped: str | None = None) -> Reply:
    headers = {"cache-control": "no-store, max-age=0"}
    if dropped:
        headers["x-beaconlake-dropped"] = dropped
    return Reply(200, PIXEL_GIF, headers)


def receive_pixel(ports: CollectorPorts, query: dict[str, str], meta: RequestMeta) -> Reply:
    """GET /e.gif: always the GIF; a bad or dropped beacon is only counted."""
    # an empty parameter (a template's blank field) counts as absent: n= is still a pageview
    data: dict[str, Any] = {
        k: v for k, v in query.items() if k in {"d", "u", "r", "n", "p"} and v != ""
    }
    data.setdefault("n", "pageview")
    limits = limits_for(ports.settings)
    try:
        _check_client(limits, meta)
        outcome = _store(ports, limits, data, meta)
        dropped = outcome.dropped
    except RateLimited:
        dropped = "rate_limited"
    except PayloadError as exc:
        dropped = "invalid"
        logger.info("pixel beacon rejected", extra={"field": exc.field, "rule": exc.rule})
    except SinkUnavailable:
        dropped = "unavailable"
        logger.error("event store unavailable; pixel event lost")
    return pixel(dropped)


def answer_event(
    ports: CollectorPorts, headers: dict[str, str], source_ip: str, body: bytes
) -> Reply:
    """POST /api/event from the request as API Gateway hands it over (header names in lower
    case, repeats joined by commas, cookies apart). The Lambda handler and the local
    gateway both answer through here."""
    if too_large := headers_too_large(headers):
        return too_large
    meta = request_meta(headers, source_ip, ports.settings.client_ip_header)
    content_type = headers.get("content-type", "")
    if "authorization" in headers:
        return receive_sent(ports, headers, body, meta)
    return receive_event(ports, body, content_type, meta, headers.get("origin", ""))


def answer_pixel(
    ports: CollectorPorts, headers: dict[str, str], source_ip: str, query: dict[str, str]
) -> Reply:
    """GET /e.gif, like `answer_event`."""
    return receive_pixel(
        ports, query, request_meta(headers, source_ip, ports.settings.client_ip_header)
    )


def not_synced(reply: Reply, exc: OSError) -> Reply:
    """What `reply` becomes when the spool's fsync for its events failed after it was made
    (see `spool.syncs_deferred`): the events may still be stored, so 503, as the sink says."""
    logger.error("could not fsync the spool", extra={"error": exc.strerror or repr(exc)})
    if reply.body == PIXEL_GIF:
        logger.error("event store unavailable; pixel event lost")
        return pixel("unavailable")
    return unavailable()


def counted(reply: Reply) -> Reply:
    """Count a dropped beacon (by reason) in the metrics."""
    if dropped := reply.headers.get("x-beaconlake-dropped"):
        telemetry.count("BeaconsDropped", 1, "collector", reason=dropped)
    return reply


def encoded(reply: Reply) -> tuple[str, bytes]:
    """Content type and body, as the Lambda handler and the local server both send them."""
    if reply is ACCEPTED:
        return "application/json", _ACCEPTED_JSON
    if isinstance(reply.body, bytes):
        return "image/gif", reply.body
    return "application/json", _compact_json(reply.body).encode()
