"""beaconlake.send against a stand-in collector on 127.0.0.1: batching, signing, retries,
never raising, and the WSGI/ASGI/Django middleware."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from beaconlake.ingest.signed import sign
from beaconlake.send import Sender, asgi_middleware, django_middleware, signature, wsgi_middleware

KEY = "bl_0123456789ab_" + "s" * 43


class Collector:
    """Answers each POST with the next planned status (202 when the plan is used up)."""

    def __init__(self) -> None:
        self.plan: list[int] = []
        self.requests: list[tuple[dict[str, str], bytes]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                collector.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = collector.plan.pop(0) if collector.plan else 202
                reply = b'{"error":"already received"}' if status == 401 else b"{}"
                self.send_response(status)
                if status == 429:
                    self.send_header("retry-after", "0")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/event"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [e for _, body in self.requests for e in json.loads(body)]


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    yield c
    c.server.shutdown()


def sender(url: str, **kw: Any) -> Sender:
    s = Sender(url, KEY, interval=60, backoff=0.01, timeout=2, **kw)
    s.sleep = lambda seconds: None
    return s


def test_the_signature_is_the_one_the_collector_checks() -> None:
    body = b'[{"n":"pageview"}]'
    assert signature(KEY, body, 1700000000) == sign(KEY, body, 1700000000)
    assert signature(KEY, body, 1700000000) != signature(KEY, body + b" ", 1700000000)


def test_events_go_in_signed_batches_of_batch_size(collector: Collector) -> None:
    s = sender(collector.url, batch_size=2)
    for i in range(5):
        s.event("pageview", f"https://www.example.com/{i}", ip="198.51.100.1", ua="UA", ts=100.0)
    s.close()
    sizes = [len(json.loads(body)) for _, body in collector.requests]
    assert sorted(sizes) == [1, 2, 2] and s.sent == 5 and s.lost == 0
    assert [e["u"] for e in collector.events()] == [
        f"https://www.example.com/{i}" for i in range(5)
    ]
    first = collector.events()[0]
    assert first == {
        "n": "pageview",
        "u": "https://www.example.com/0",
        "d": "example.com",
        "ts": 100.0,
        "ip": "198.51.100.1",
        "ua": "UA",
    }
    for headers, body in collector.requests:
        assert headers["authorization"] == f"Bearer {KEY}"
        t = int(headers["x-beaconlake-signature"].split(",")[0][2:])
        assert headers["x-beaconlake-signature"] == sign(KEY, body, t)


def test_unsigned_events_leave_out_ip_ua_and_ts(collector: Collector) -> None:
    s = sender(collector.url, sign=False)
    s.event("Signup", "https://example.com/", ip="198.51.100.1", ua="UA", props={"plan": "pro"})
    s.flush()
    headers, _ = collector.requests[0]
    assert "x-beaconlake-signature" not in headers
    assert collector.events() == [
        {"n": "Signup", "u": "https://example.com/", "d": "example.com", "p": {"plan": "pro"}}
    ]


def test_5xx_and_429_are_retried_with_the_same_signature(collector: Collector) -> None:
    collector.plan = [503, 429, 500]
    s = sender(collector.url)
    s.event("pageview", "https://example.com/")
    s.flush()
    assert len(collector.requests) == 4 and s.sent == 1
    assert len({h["x-beaconlake-signature"] for h, _ in collector.requests}) == 1


def test_already_received_counts_as_sent_and_a_400_is_given_up(collector: Collector) -> None:
    collector.plan = [503, 401]  # the first attempt arrived; its reply was lost
    s = sender(collector.url)
    s.event("pageview", "https://example.com/")
    s.flush()
    assert (s.sent, s.lost) == (1, 0)
    collector.plan = [400]
    s.event("pageview", "https://example.com/")
    s.flush()
    assert (s.sent, s.lost, len(collector.requests)) == (1, 1, 3)


def test_network_errors_are_retried_then_given_up_without_raising() -> None:
    s = sender("http://127.0.0.1:9/api/event", retries=2)
    s.event("pageview", "https://example.com/")
    s.flush()
    assert (s.sent, s.lost) == (0, 1)
    s.event("pageview", object())  # type: ignore[arg-type]  # a bad call never raises


def test_the_background_thread_sends_when_the_batch_is_full(collector: Collector) -> None:
    s = sender(collector.url, batch_size=3)
    for _ in range(3):
        s.event("pageview", "https://example.com/")
    for _ in range(100):
        if s.sent == 3:
            break
        threading.Event().wait(0.05)
    assert s.sent == 3 and len(collector.requests) == 1


def test_wsgi_middleware_sends_a_pageview_per_successful_get(collector: Collector) -> None:
    s = sender(collector.url)

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK" if environ["PATH_INFO"] != "/missing" else "404 Not Found", [])
        return [b"ok"]

    wrapped = wsgi_middleware(app, s, ip_header="X-Forwarded-For")
    for path in ("/pricing", "/missing"):
        environ: dict[str, Any] = {
            "PATH_INFO": path,
            "HTTP_HOST": "example.com",
            "HTTP_USER_AGENT": "UA",
            "HTTP_X_FORWARDED_FOR": "198.51.100.7, 10.0.0.1",
        }
        setup_testing_defaults(environ)
        assert wrapped(environ, lambda *a: None) == [b"ok"]
    s.flush()
    (event,) = collector.events()
    assert (event["u"], event["ip"], event["ua"]) == (
        "http://example.com/pricing",
        "198.51.100.7",
        "UA",
    )


def test_asgi_middleware_sends_a_pageview_per_successful_get(collector: Collector) -> None:
    s = sender(collector.url)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def noop(message: dict[str, Any]) -> None:
        pass

    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "https",
        "path": "/docs",
        "client": ("198.51.100.8", 5000),
        "headers": [(b"host", b"example.com"), (b"user-agent", b"UA")],
    }
    # a loop of its own: asyncio.run() would leave the main thread without a current loop,
    # which breaks Mangum (the Lambda handlers) in later tests of this process
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(asgi_middleware(app, s)(scope, None, noop))
        loop.run_until_complete(asgi_middleware(app, s)({**scope, "method": "POST"}, None, noop))
    finally:
        loop.close()
    s.flush()
    (event,) = collector.events()
    assert (event["u"], event["ip"], event["ua"]) == (
        "https://example.com/docs",
        "198.51.100.8",
        "UA",
    )


def test_django_middleware_sends_a_pageview(collector: Collector) -> None:
    s = sender(collector.url)

    class Request:
        method = "GET"
        path = "/blog"
        META = {"REMOTE_ADDR": "198.51.100.9", "HTTP_USER_AGENT": "UA"}

        def build_absolute_uri(self, path: str) -> str:
            return f"https://example.com{path}"

    class Response:
        status_code = 200

    response = Response()
    assert django_middleware(s)(lambda request: response)(Request()) is response
    s.flush()
    (event,) = collector.events()
    assert (event["u"], event["ip"]) == ("https://example.com/blog", "198.51.100.9")
