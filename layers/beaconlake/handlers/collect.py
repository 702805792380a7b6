"""The collector's handler: POST /api/event (Plausible Events API payload) and GET /e.gif.

The HTTP API routes only these two requests here (infra_cdk.api), so the handler reads them
straight from the payload v2.0 event. Powertools' event resolver would add nothing but its
import (every resolver kind, about 35 ms), a third of the cold start above the floor
(docs/BENCHMARKS.md, figure 2).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from beaconlake.ingest.http import Reply, answer_event, answer_pixel, counted, encoded
from beaconlake.wiring import ports

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="beaconlake-collect")


def _body(event: dict[str, Any]) -> bytes:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(raw)
    return raw.encode("utf-8", "surrogatepass")


def _reply(event: dict[str, Any]) -> Reply:
    http = event["requestContext"]["http"]
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    route = (http["method"], event.get("rawPath") or http["path"])
    if route == ("POST", "/api/event"):
        return answer_event(ports(), headers, http["sourceIp"], _body(event))
    if route == ("GET", "/e.gif"):
        query = dict(event.get("queryStringParameters") or {})
        return answer_pixel(ports(), headers, http["sourceIp"], query)
    return Reply(404, {"error": "the collector answers POST /api/event and GET /e.gif only"})


def _response(reply: Reply) -> dict[str, Any]:
    content_type, data = encoded(counted(reply))
    binary = isinstance(reply.body, bytes)
    return {
        "statusCode": reply.status,
        "headers": {**reply.headers, "Content-Type": content_type},
        "body": base64.b64encode(data).decode() if binary else data.decode(),
        "isBase64Encoded": binary,
    }


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _response(_reply(event))
