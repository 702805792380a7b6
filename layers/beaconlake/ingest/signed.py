"""Events sent by a server (docs/SENDING.md): `Authorization: Bearer <key>` with the scope
`events:send:*`, an optional Stripe-style `X-Beaconlake-Signature: t=<unix s>,v1=<hex>`
(HMAC-SHA256 of "<t>.<body>", keyed with the hex SHA-256 of the key's secret: the hash the
key store holds, so the server can check it without the secret), and a body of one event or
a JSON array of up to MAX_BATCH. Only a signed request may set an event's `ip`, `ua` and
`ts` (a back end forwarding its own visitors). Pure: the clock and the stores are handed in."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from beaconlake.ingest.payload import PayloadError
from beaconlake.ingest.service import CollectPolicy, CountryLookup, SaltFor, collect
from beaconlake.keys import verify_key
from beaconlake.model import Event, RequestMeta
from beaconlake.ports import EVENTS_SEND, ApiKey, KeyStore

MAX_BATCH = 100
MAX_SIGNED_BODY_BYTES = 512 * 1024
REPLAY_WINDOW_S = 300  # a signature's t may be this far from the server's clock
TS_MAX_AGE_S = 24 * 3600  # an event's own `ts` may be this old ...
TS_MAX_AHEAD_S = 60  # ... or this far in the future
SIGNED_ONLY = ("ip", "ua", "ts")
_SIGNATURE = re.compile(r"^t=(\d{1,12}),v1=([0-9a-f]{64})$")
_KEY_SECRET = re.compile(r"^bl_[0-9a-f]{12}_(.+)$")


class Refused(Exception):
    """A request the collector answers with `status` (401/403) and a JSON reason."""

    def __init__(self, status: int, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.status, self.field, self.rule = status, field, rule

    def as_body(self) -> dict[str, str]:
        return {"error": str(self), "field": self.field, "rule": self.rule}


@dataclass(frozen=True)
class Sender:
    key: ApiKey
    signed: bool


def signing_key(token: str) -> bytes:
    """What a sender keys its HMAC with: the hex SHA-256 of the token's secret part."""
    match = _KEY_SECRET.match(token)
    secret = match.group(1) if match else token
    return hashlib.sha256(secret.encode()).hexdigest().encode()


def sign(token: str, body: bytes, t: int) -> str:
    """The X-Beaconlake-Signature value for `body` sent at `t` (unix seconds)."""
    mac = hmac.new(signing_key(token), f"{t}.".encode() + body, hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"


def refuse_signed_fields(data: object, where: str = "") -> None:
    """400 for `ip`, `ua` or `ts` in a beacon that is not signed."""
    if isinstance(data, dict):
        for name in SIGNED_ONLY:
            if name in data:
                raise PayloadError(
                    f"{where}{name}",
                    "requires_signature",
                    f"{name} may only be sent in a signed request (X-Beaconlake-Signature)",
                )


def authenticate(
    keys: KeyStore, authorization: str, signature: str, body: bytes, now: float
) -> Sender:
    """The key a request is sent with, its signature checked (401 with the reason), and the
    signature remembered for the replay window."""
    scheme, _, token = authorization.strip().partition(" ")
    found = verify_key(keys, token.strip()) if scheme.lower() == "bearer" else None
    if found is None:
        raise Refused(401, "authorization", "api_key", "the ingest key is invalid or revoked")
    if not found.can(EVENTS_SEND):
        raise Refused(
            403, "authorization", "scope", f"the key lacks the scope {EVENTS_SEND} to send events"
        )
    if not signature:
        return Sender(found, signed=False)
    stored = keys.secret_hash(found.key_id)
    match = _SIGNATURE.match(signature.strip())
    if match is None or stored is None:
        raise Refused(
            401, "x-beaconlake-signature", "format", "the signature must be t=<unix s>,v1=<hex>"
        )
    t, given = int(match.group(1)), match.group(2)
    mac = hmac.new(stored[1].encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, given):
        raise Refused(
            401, "x-beaconlake-signature", "mismatch", "signature does not match the body"
        )
    if abs(now - t) > REPLAY_WINDOW_S:
        raise Refused(
            401,
            "x-beaconlake-signature",
            "replay_window",
            f"too old: replay window (t must be within {REPLAY_WINDOW_S} s of the server clock)",
        )
    seen = hashlib.sha256(f"{found.key_id}.{given}".encode()).hexdigest()[:32]
    if not keys.first_use(seen, t + REPLAY_WINDOW_S + 1):
        raise Refused(401, "x-beaconlake-signature", "replay", "already received")
    return Sender(found, signed=True)


def decode_events(body: bytes) -> list[dict[str, Any]]:
    """One JSON object or an array of 1..MAX_BATCH of them."""
    if len(body) > MAX_SIGNED_BODY_BYTES:
        raise PayloadError(
            "body", "max_bytes", f"the body is larger than {MAX_SIGNED_BODY_BYTES} bytes"
        )
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise PayloadError("body", "json", "the body is not valid UTF-8 JSON") from None
    items = data if isinstance(data, list) else [data]
    if not 1 <= len(items) <= MAX_BATCH:
        raise PayloadError("body", "batch_size", f"send 1 to {MAX_BATCH} events at once")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise PayloadError(f"events[{i}]", "json_object", "each event must be a JSON object")
    return items


def _sent_ts(value: object, now: datetime, where: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(where, "type", "ts must be a number of unix seconds")
    age = now.timestamp() - float(value)
    if not -TS_MAX_AHEAD_S <= age <= TS_MAX_AGE_S:
        raise PayloadError(
            where,
            "window",
            f"ts must be at most {TS_MAX_AGE_S // 3600} h old and {TS_MAX_AHEAD_S} s ahead",
        )
    return datetime.fromtimestamp(float(value), UTC)


def _sent_text(value: object, where: str, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise PayloadError(where, "type", f"must be a non-empty string of at most {limit} chars")
    return value


def event_meta(
    item: dict[str, Any], sender: Sender, meta: RequestMeta, now: datetime, where: str = ""
) -> tuple[dict[str, Any], RequestMeta, datetime]:
    """The beacon without `ip`/`ua`/`ts`, the request metadata it stands for and its time.
    A forwarded `ip` replaces the sending server's address and its country header."""
    if not sender.signed:
        refuse_signed_fields(item, where)
        return item, meta, now
    beacon = {k: v for k, v in item.items() if k not in SIGNED_ONLY}
    if "ip" in item:
        ip = _sent_text(item["ip"], f"{where}ip", 64)
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise PayloadError(f"{where}ip", "ip_address", "ip must be an IP address") from None
        meta = replace(meta, ip=ip, country_header=None)
    if "ua" in item:
        meta = replace(meta, user_agent=_sent_text(item["ua"], f"{where}ua", 1024))
    at = _sent_ts(item["ts"], now, f"{where}ts") if "ts" in item else now
    return beacon, meta, at


@dataclass(frozen=True)
class Sent:
    events: tuple[Event, ...]
    dropped: tuple[str, ...]  # the reason for each event that was dropped (bot, dnt, ...)


def collect_sent(
    sender: Sender,
    body: bytes,
    meta: RequestMeta,
    policy: CollectPolicy,
    salt_for: SaltFor,
    now: datetime,
    country_lookup: CountryLookup | None = None,
    arrival: Callable[[], int | None] = lambda: None,
) -> Sent:
    """Every event of a sent body, or PayloadError/Refused for the first bad one (then none
    is stored): a batch is all or nothing. Fields of a batch's events are named events[i].x;
    `arrival` numbers them in the order of the batch (ingest.http's arrival counter)."""
    items = decode_events(body)
    events: list[Event] = []
    dropped: list[str] = []
    for i, item in enumerate(items):
        where = f"events[{i}]." if len(items) > 1 else ""
        data, event_request, at = event_meta(item, sender, meta, now, where)
        try:
            outcome = collect(data, event_request, policy, salt_for, at, country_lookup, arrival())
        except PayloadError as exc:
            raise PayloadError(where + exc.field, exc.rule, exc.message) from None
        for event in outcome.events:
            if not sender.key.allows(event.site_id):
                raise Refused(
                    403, f"{where}domain", "key_sites", f"the key may not send for {event.site_id}"
                )
        events.extend(outcome.events)
        if outcome.dropped:
            dropped.append(outcome.dropped)
    return Sent(tuple(events), tuple(dropped))
