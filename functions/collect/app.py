"""Collector Lambda: POST /api/event (Plausible Events API payload) and GET /e.gif (pixel)."""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from beaconlake import metrics
from beaconlake.ingest.http import (
    Reply,
    headers_too_large,
    receive_event,
    receive_pixel,
    request_meta,
)
from beaconlake.wiring import ports

logger = Logger(service="beaconlake-collect")
app = APIGatewayHttpResolver()


def _meta() -> Any:
    event = app.current_event
    headers = {k.lower(): v for k, v in (event.headers or {}).items()}
    source_ip = event.request_context.http.source_ip
    return request_meta(headers, source_ip, ports().settings.client_ip_header)


def _response(reply: Reply) -> Response:
    if dropped := reply.headers.get("x-beaconlake-dropped"):
        metrics.count("BeaconsDropped", 1, "collector", reason=dropped)
    if isinstance(reply.body, bytes):
        return Response(reply.status, "image/gif", reply.body, reply.headers)
    return Response(reply.status, "application/json", reply.body, reply.headers)


@app.post("/api/event")
def post_event() -> Response:
    event = app.current_event
    raw = event.get("body") or ""
    body = (
        base64.b64decode(raw) if event.is_base64_encoded else raw.encode("utf-8", "surrogatepass")
    )
    headers = event.headers or {}
    if too_large := headers_too_large(headers):
        return _response(too_large)
    content_type = headers.get("content-type", "")
    origin = headers.get("origin", "")
    return _response(receive_event(ports(), body, content_type, _meta(), origin))


@app.get("/e.gif")
def pixel() -> Response:
    query = dict(app.current_event.query_string_parameters or {})
    return _response(receive_pixel(ports(), query, _meta()))


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
