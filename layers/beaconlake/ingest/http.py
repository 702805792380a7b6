"""HTTP concerns of the collector, shared by POST /api/event and GET /e.gif: what the
handler hands in (body, headers, client address) and what it sends back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from beaconlake.ingest.payload import MAX_BODY_BYTES, PayloadError, decode_body
from beaconlake.ingest.service import Outcome, collect
from beaconlake.model import RequestMeta
from beaconlake.ports import SinkUnavailable
from beaconlake.wiring import Ports

logger = Logger(service="beaconlake-collect")

# The smallest transparent GIF: 43 bytes.
PIXEL_GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
ACCEPTED_CONTENT_TYPES = ("application/json", "text/plain")


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] | bytes
    headers: dict[str, str] = field(default_factory=dict)


def request_meta(
    headers: dict[str, str], source_ip: str, client_ip_header: str = ""
) -> RequestMeta:
    """Client address, UA and privacy signals. Header names must be lower-case."""
    ip = source_ip
    if client_ip_header and headers.get(client_ip_header):
        forwarded = headers[client_ip_header].split(",")[0].strip()
        # CloudFront-Viewer-Address is "ip:port" (IPv6 addresses contain colons too)
        ip = (
            forwarded.rsplit(":", 1)[0]
            if forwarded.count(":") == 1 or "]" in forwarded
            else forwarded
        )
        ip = ip.strip("[]")
    return RequestMeta(
        ip=ip,
        user_agent=headers.get("user-agent", ""),
        dnt=headers.get("dnt", "").strip() == "1",
        gpc=headers.get("sec-gpc", "").strip() == "1",
        country_header=headers.get("cloudfront-viewer-country"),
    )


def _store(ports: Ports, data: dict[str, Any], meta: RequestMeta) -> Outcome:
    outcome = collect(
        data,
        meta,
        ports.policy,
        ports.salts.salt_for,
        datetime.now(UTC),
        ports.country_lookup,
    )
    if outcome.events:
        ports.sink.put(outcome.events)
    else:
        logger.debug("beacon dropped", extra={"reason": outcome.dropped})
    return outcome


def receive_event(ports: Ports, body: bytes, content_type: str, meta: RequestMeta) -> Reply:
    """POST /api/event: 202 stored, 202 + x-beaconlake-dropped, 400, 413, 415 or 503."""
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
    try:
        outcome = _store(ports, decode_body(body), meta)
    except PayloadError as exc:
        return Reply(400, exc.as_body())
    except SinkUnavailable:
        logger.error("event store unavailable; answered 503")
        return Reply(
            503, {"error": "the event store is unavailable; retry later"}, {"retry-after": "5"}
        )
    if outcome.dropped:
        return Reply(
            202,
            {"status": "dropped", "reason": outcome.dropped},
            {"x-beaconlake-dropped": outcome.dropped},
        )
    return Reply(202, {"status": "accepted"})


def receive_pixel(ports: Ports, query: dict[str, str], meta: RequestMeta) -> Reply:
    """GET /e.gif: always the GIF; a bad or dropped beacon is only counted."""
    headers = {"cache-control": "no-store, max-age=0"}
    data: dict[str, Any] = {k: v for k, v in query.items() if k in {"d", "u", "r", "n", "p"}}
    data.setdefault("n", "pageview")
    try:
        outcome = _store(ports, data, meta)
        dropped = outcome.dropped
    except PayloadError as exc:
        dropped = "invalid"
        logger.info("pixel beacon rejected", extra={"field": exc.field, "rule": exc.rule})
    except SinkUnavailable:
        dropped = "unavailable"
        logger.error("event store unavailable; pixel event lost")
    if dropped:
        headers["x-beaconlake-dropped"] = dropped
    return Reply(200, PIXEL_GIF, headers)


def json_body(reply: Reply) -> str:
    return json.dumps(reply.body)
