"""Collector Lambda: POST /api/event (Plausible Events API payload) and GET /e.gif (pixel)."""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from beaconlake.ingest.http import Reply, answer_event, answer_pixel, counted
from beaconlake.wiring import ports

logger = Logger(service="beaconlake-collect")
app = APIGatewayHttpResolver()


def _headers() -> dict[str, str]:
    return {k.lower(): v for k, v in (app.current_event.headers or {}).items()}


def _source_ip() -> str:
    return str(app.current_event.request_context.http.source_ip)


def _response(reply: Reply) -> Response:
    counted(reply)
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
    return _response(answer_event(ports(), _headers(), _source_ip(), body))


@app.get("/e.gif")
def pixel() -> Response:
    query = dict(app.current_event.query_string_parameters or {})
    return _response(answer_pixel(ports(), _headers(), _source_ip(), query))


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
