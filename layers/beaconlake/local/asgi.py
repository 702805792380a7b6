"""The local stand-in for API Gateway: an ASGI app that turns each HTTP request into an
API Gateway HTTP API v2 event and calls the very handler functions Lambda runs.

Ingest (POST /api/event, GET /e.gif) skips the Lambda emulation: it calls the collector's
`answer_event` / `answer_pixel`, as its handler does, on the event loop (the sink only
appends to its spool), and waits for the spool's fsync, if any, in a worker thread."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
import uuid
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import anyio

from beaconlake.adapters.spool import Wait, syncs_deferred
from beaconlake.ingest.http import (
    CollectorPorts,
    Reply,
    answer_event,
    answer_pixel,
    counted,
    encoded,
    not_synced,
)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

MAX_BODY = 1024 * 1024
BODY_TIMEOUT_S = 10.0
_INGEST = {("POST", "/api/event"), ("GET", "/e.gif")}
_TEXT_TYPES = ("application/json", "text/", "application/javascript")


class LambdaContext:
    """Enough of Lambda's context object for Powertools and Mangum."""

    function_name = "beaconlake-local"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:beaconlake-local"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _invoke(handler: Handler, event: dict[str, Any]) -> dict[str, Any]:
    """Call a handler in a worker thread. Mangum wants an event loop of its own there, as it
    has in Lambda's single-threaded runtime."""
    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())
    return handler(event, LambdaContext())


def scope_headers(scope: Scope) -> tuple[dict[str, str], list[str]]:
    """Headers as API Gateway passes them (lower-case names, repeats joined by commas) and
    the cookies, which it passes apart."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers, cookies


def query_params(query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for k, v in parse_qsl(query, keep_blank_values=True):
        params[k] = f"{params[k]},{v}" if k in params else v
    return params


def source_ip(scope: Scope) -> str:
    return str((scope.get("client") or ("127.0.0.1", 0))[0])


def to_apigw_event(scope: Scope, body: bytes) -> dict[str, Any]:
    headers, cookies = scope_headers(scope)
    query = scope.get("query_string", b"").decode("latin-1")
    params = query_params(query)
    content_type = headers.get("content-type", "")
    is_text = any(content_type.startswith(t) for t in _TEXT_TYPES)
    try:
        text = body.decode("utf-8") if is_text else None
    except UnicodeDecodeError:
        text = None
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": scope["path"],
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": headers.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {
                "method": scope["method"],
                "path": scope["path"],
                "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
                "sourceIp": source_ip(scope),
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": text is None and bool(body),
        "body": text if text is not None else base64.b64encode(body).decode(),
    }
    if cookies:
        event["cookies"] = cookies
    if params:
        event["queryStringParameters"] = params
    return event


class BodyTimeout(Exception):
    """The request body did not arrive within the gateway's deadline."""


async def _read_body(receive: Receive, timeout_s: float = BODY_TIMEOUT_S) -> bytes | None:
    """The whole body, None past MAX_BODY; BodyTimeout unless all of it came in `timeout_s`
    (a client sending a byte now and then would otherwise hold its connection forever)."""
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                message = await receive()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > MAX_BODY:
                    return None
                chunks.append(chunk)
                if not message.get("more_body"):
                    return b"".join(chunks)
    except TimeoutError:
        raise BodyTimeout from None


async def _too_large(send: Send) -> None:
    await _send(
        send,
        413,
        {"content-type": "application/json"},
        b'{"error":"the body is too large","field":"body","rule":"max_bytes"}',
    )


_TOO_SLOW = b'{"error":"the body took too long to arrive","field":"body","rule":"timeout"}'


async def _too_slow(send: Send) -> None:
    headers = {"content-type": "application/json", "content-length": str(len(_TOO_SLOW))}
    await _send(send, 408, {**headers, "connection": "close"}, _TOO_SLOW)


def _wait_all(waits: list[Wait]) -> None:
    for wait in waits:
        wait()


async def ingest(
    ports: CollectorPorts,
    scope: Scope,
    receive: Receive,
    send: Send,
    timeout_s: float = BODY_TIMEOUT_S,
) -> None:
    """POST /api/event or GET /e.gif, answered as the collector's Lambda handler would."""
    try:
        body = await _read_body(receive, timeout_s)
    except BodyTimeout:
        await _too_slow(send)
        return
    if body is None:
        await _too_large(send)
        return
    headers, _ = scope_headers(scope)
    with syncs_deferred() as waits:
        if scope["path"] == "/e.gif":
            query = query_params(scope.get("query_string", b"").decode("latin-1"))
            reply = answer_pixel(ports, headers, source_ip(scope), query)
        else:
            reply = answer_event(ports, headers, source_ip(scope), body)
    if waits:
        try:
            await anyio.to_thread.run_sync(_wait_all, waits)
        except OSError as exc:
            reply = not_synced(reply, exc)
    raw, data = _encoded_reply(counted(reply))
    await send({"type": "http.response.start", "status": reply.status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


def _encoded_reply(reply: Reply) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """An ingest reply's ASGI headers (its own, its content type and length) and body."""
    content_type, data = encoded(reply)
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers.items()]
    raw += [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(data))]
    return raw, data


async def _send(send: Send, status: int, headers: dict[str, str], body: bytes) -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _from_lambda(result: dict[str, Any]) -> tuple[int, dict[str, str], bytes, list[str]]:
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
    for k, values in (result.get("multiValueHeaders") or {}).items():
        headers[k] = ",".join(values)
    return int(result.get("statusCode", 500)), headers, raw, list(result.get("cookies") or [])


class StaticFile:
    """A file served with an ETag and a cache policy (the tracker, the demo page)."""

    def __init__(self, path: Path, content_type: str, cache: str) -> None:
        self.path = path
        self.content_type = content_type
        self.cache = cache

    def response(self, if_none_match: str) -> tuple[int, dict[str, str], bytes]:
        data = self.path.read_bytes()
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        headers = {
            "content-type": self.content_type,
            "cache-control": self.cache,
            "etag": etag,
            # pages on other origins load the tracker with integrity= and crossorigin=
            "access-control-allow-origin": "*",
        }
        if if_none_match == etag:
            return 304, headers, b""
        return 200, headers, data


class LocalGateway:
    """Routes like the CDK app's HTTP API: ingest → collect, /api/* → stats, plus files."""

    def __init__(
        self,
        collect: Handler,
        stats: Handler,
        files: dict[str, StaticFile] | None = None,
        on_shutdown: Callable[[], None] | None = None,
        ingest_ports: Callable[[], CollectorPorts] | None = None,
        body_timeout_s: float = BODY_TIMEOUT_S,
    ) -> None:
        """With `ingest_ports`, ingest is answered by `ingest` rather than `collect`."""
        self.body_timeout_s = body_timeout_s
        self.collect = collect
        self.ingest_ports = ingest_ports
        self.stats = stats
        self.files = files or {}
        self.on_shutdown = on_shutdown
        self.limiter = anyio.CapacityLimiter(8)

    def route(self, method: str, path: str) -> Handler | None:
        if path in ("/api/event", "/e.gif"):
            return self.collect
        if path.startswith("/api/") or path == "/health":
            return self.stats
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        static = self.files.get(path)
        if static is not None and scope["method"] in ("GET", "HEAD"):
            headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
            status, out_headers, data = static.response(headers.get("if-none-match", ""))
            await _send(send, status, out_headers, data)
            return
        if path == "/" and scope["method"] in ("GET", "HEAD"):
            await _send(send, 302, {"location": "/api/dashboard"}, b"")
            return
        if self.ingest_ports and (scope["method"], path) in _INGEST:
            await ingest(self.ingest_ports(), scope, receive, send, self.body_timeout_s)
            return
        handler = self.route(scope["method"], path)
        if handler is None:
            await _send(send, 404, {"content-type": "application/json"}, b'{"error":"not found"}')
            return
        try:
            body = await _read_body(receive, self.body_timeout_s)
        except BodyTimeout:
            await _too_slow(send)
            return
        if body is None:
            await _too_large(send)
            return
        event = to_apigw_event(scope, body)
        result = await anyio.to_thread.run_sync(_invoke, handler, event, limiter=self.limiter)
        status, headers, data, cookies = _from_lambda(result)
        await _send_with_cookies(send, status, headers, data, cookies)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.on_shutdown:
                    await anyio.to_thread.run_sync(self.on_shutdown)
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _send_with_cookies(
    send: Send, status: int, headers: dict[str, str], body: bytes, cookies: list[str]
) -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw += [(b"set-cookie", c.encode("latin-1")) for c in cookies]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def package_file(name: str) -> Path:
    return Path(str(resources.files("beaconlake").joinpath(name)))
