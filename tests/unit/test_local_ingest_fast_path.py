"""`beaconlake serve` answers POST /api/event and GET /e.gif without the Lambda emulation:
the replies, the stored rows and the dropped-beacon counts are those of the collector's
Lambda handler behind the same gateway, and a 202 still waits for the spool's fsync (off
the event loop) when the spool syncs before each answer."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from beaconlake import telemetry, wiring
from beaconlake.ingest.http import PIXEL_GIF
from beaconlake.local.asgi import LocalGateway
from functions.collect.app import handler
from tests.conftest import BOT_UA, CHROME_UA, FIREFOX_UA
from tests.server import parquet_rows

Headers = list[tuple[str, str]]
BEACON = {"n": "pageview", "u": "https://example.com/a?utm_source=news", "d": "example.com"}


def no_stats(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise AssertionError("no stats request is sent")


def lambda_gateway() -> LocalGateway:
    return LocalGateway(collect=handler, stats=no_stats)


def fast_gateway() -> LocalGateway:
    return LocalGateway(collect=handler, stats=no_stats, ingest_ports=wiring.ports)


async def call(
    gateway: LocalGateway,
    method: str,
    target: str,
    headers: Headers,
    body: bytes = b"",
    client: str = "203.0.113.9",
) -> tuple[int, dict[str, str], bytes]:
    """One request as uvicorn hands it over; the reply's status, headers and body."""
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "http_version": "1.1",
        "client": (client, 40000),
        "headers": [(k.encode(), v.encode()) for k, v in headers],
    }
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)] or [b""]
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await gateway(scope, receive, send)
    start, reply = sent
    out = {k.decode(): v.decode() for k, v in start["headers"]}
    if "content-length" in out:
        assert int(out.pop("content-length")) == len(reply["body"])
    return start["status"], out, reply["body"]


def run(coro: Any) -> Any:
    loop = asyncio.new_event_loop()  # not asyncio.run: it would unset the main thread's loop,
    try:  # which the Lambda path's worker threads do not need but Mangum's tests do
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def stored_since(count: int) -> list[dict[str, Any]]:
    """The rows the sink accepted after the first `count`, without their timestamps."""
    pending = wiring.ports().pending
    assert pending is not None
    return [{**dataclasses.asdict(e), "ts": None, "seq": None} for e in pending()[count:]]


def pending_count() -> int:
    pending = wiring.ports().pending
    assert pending is not None
    return len(pending())


def tallied() -> dict[tuple[str, tuple[str, ...]], int]:
    return {k: n for k, n in telemetry.tally().items() if k[0] == "BeaconsDropped"}


@pytest.fixture
def env(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("BEACONLAKE_CLIENT_IP_HEADER", "x-forwarded-for")
    monkeypatch.setenv("BEACONLAKE_CHECK_ORIGIN", "true")
    monkeypatch.setenv("BEACONLAKE_INGEST_IP_RATE", "0.001")
    monkeypatch.setenv("BEACONLAKE_INGEST_IP_BURST", "2")
    wiring.reset()
    wiring.ports()
    yield local_env
    wiring.reset()


def post(body: bytes | str, content_type: str = "text/plain", ua: str = CHROME_UA) -> Headers:
    return [("host", "collector.test"), ("content-type", content_type), ("user-agent", ua)]


JSON = json.dumps(BEACON).encode()
# (name, method, target, headers, body); a client may send 2 (the burst), so each case is
# sent once through each path
CASES: list[tuple[str, str, str, Headers, bytes]] = [
    ("accepted", "POST", "/api/event", post(JSON), JSON),
    ("json type", "POST", "/api/event", post(JSON, "application/json; charset=utf-8"), JSON),
    ("no type", "POST", "/api/event", [("user-agent", FIREFOX_UA)], JSON),
    ("invalid", "POST", "/api/event", post(b""), b'{"n":"pageview"}'),
    ("not json", "POST", "/api/event", post(b""), b"\xff\xfe not utf-8"),
    ("binary type", "POST", "/api/event", post(b"", "application/octet-stream"), b"\x00\x01"),
    ("wrong type", "POST", "/api/event", post(b"", "image/png"), JSON),
    ("body > 64 KB", "POST", "/api/event", post(b""), b'{"n":"' + b"x" * 70_000 + b'"}'),
    ("body > 1 MB", "POST", "/api/event", post(b""), b"x" * (1024 * 1024 + 1)),
    ("bot", "POST", "/api/event", post(JSON, ua=BOT_UA), JSON),
    ("dnt", "POST", "/api/event", [*post(JSON), ("dnt", "1")], JSON),
    ("gpc", "POST", "/api/event", [*post(JSON), ("sec-gpc", "1")], JSON),
    ("foreign origin", "POST", "/api/event", [*post(JSON), ("origin", "https://evil.test")], JSON),
    (
        "own origin",
        "POST",
        "/api/event",
        [*post(JSON), ("origin", "https://www.example.com")],
        JSON,
    ),
    ("big headers", "POST", "/api/event", [*post(JSON), ("x-pad", "p" * 17_000)], JSON),
    ("cookies apart", "POST", "/api/event", [*post(JSON), ("cookie", "a=" + "c" * 17_000)], JSON),
    ("repeated header", "POST", "/api/event", [*post(JSON), ("dnt", "0"), ("dnt", "1")], JSON),
    ("pixel", "GET", "/e.gif?d=example.com&u=https%3A%2F%2Fexample.com%2Fp&r=", post(b""), b""),
    ("pixel event", "GET", "/e.gif?d=example.com&u=https://example.com/&n=Signup", post(b""), b""),
    ("pixel twice", "GET", "/e.gif?d=example.com&u=https://example.com/&d=x.test", post(b""), b""),
    ("bad pixel", "GET", "/e.gif?d=example.com&u=data:text/html,x", post(b""), b""),
    ("pixel bot", "GET", "/e.gif?d=example.com&u=https://example.com/", post(b"", ua=BOT_UA), b""),
    ("head pixel", "HEAD", "/e.gif?d=example.com&u=https://example.com/", post(b""), b""),
    ("options", "OPTIONS", "/api/event", [("origin", "https://example.com")], b""),
    ("get event", "GET", "/api/event", post(b""), b""),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_the_fast_path_answers_and_stores_as_the_lambda_handler_does(
    env: Path, case: tuple[str, str, str, Headers, bytes]
) -> None:
    _, method, target, headers, body = case
    answers, rows, counts = [], [], []
    forwarded = [*headers, ("x-forwarded-for", "198.51.100.1, 10.0.0.1")]  # one for both
    for gateway in (lambda_gateway(), fast_gateway()):
        before, tally = pending_count(), tallied()
        answers.append(run(call(gateway, method, target, forwarded, body)))
        rows.append(stored_since(before))
        counts.append({k: n - tally.get(k, 0) for k, n in tallied().items() if n != tally.get(k)})
    (status, headers_out, data), fast = answers
    assert fast == answers[0]
    assert rows[1] == rows[0]
    assert counts[1] == counts[0]
    assert 200 <= status < 500
    if headers_out["content-type"] == "application/json":
        assert json.loads(data)
    else:
        assert (headers_out["content-type"], data) == ("image/gif", PIXEL_GIF)


def test_the_limits_and_the_forwarded_address_apply_as_through_the_lambda_handler(
    env: Path,
) -> None:
    def send(gateway: LocalGateway, address: str) -> tuple[int, dict[str, str], bytes]:
        headers = [*post(JSON), ("x-forwarded-for", address)]
        return run(call(gateway, "POST", "/api/event", headers, JSON, client="127.0.0.1"))

    fast = fast_gateway()
    assert [send(fast, "192.0.2.1")[0] for _ in range(3)] == [202, 202, 429]
    assert send(fast, "192.0.2.2")[0] == 202  # another client's own bucket
    limited = send(fast, "192.0.2.1")
    assert limited == send(lambda_gateway(), "192.0.2.1")
    assert limited[1]["retry-after"] and json.loads(limited[2])["rule"] == "rate_limit"


def test_concurrent_beacons_on_the_fast_path_are_each_stored_once(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEACONLAKE_INGEST_IP_RATE", "0")
    wiring.reset()
    gateway = fast_gateway()
    paths = [f"/c{i}" for i in range(300)]

    async def send_all() -> list[int]:
        answers = await asyncio.gather(
            *(
                call(gateway, "POST", "/api/event", post(b""), json.dumps(beacon).encode())
                for beacon in ({**BEACON, "u": f"https://example.com{p}"} for p in paths)
            )
        )
        return [status for status, _, _ in answers]

    assert run(send_all()) == [202] * len(paths)
    wiring.reset()
    assert sorted(r["pathname"] for r in parquet_rows(env)) == sorted(paths)


SLOW_SYNC_S = 0.2


@pytest.fixture
def sync_each(env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, float]]]:
    """The spool syncs before each 202; every fdatasync is logged (thread, end time) and
    takes 0.2 s, as on a slow disk."""
    monkeypatch.setenv("BEACONLAKE_SPOOL_SYNC_MS", "0")
    monkeypatch.setenv("BEACONLAKE_INGEST_IP_RATE", "0")
    wiring.reset()
    wiring.ports()
    syncs: list[tuple[str, float]] = []
    real = os.fdatasync

    def slow_fdatasync(fd: int) -> None:
        time.sleep(SLOW_SYNC_S)
        real(fd)
        syncs.append((threading.current_thread().name, time.monotonic()))

    monkeypatch.setattr(os, "fdatasync", slow_fdatasync)
    yield syncs
    wiring.reset()


def test_with_a_sync_before_each_202_the_loop_never_waits_and_requests_share_syncs(
    sync_each: list[tuple[str, float]],
) -> None:
    gateway = fast_gateway()
    answered: list[float] = []

    async def one(i: int) -> int:
        beacon = {**BEACON, "u": f"https://example.com/s{i}"}
        status, _, _ = await call(
            gateway, "POST", "/api/event", post(b""), json.dumps(beacon).encode()
        )
        answered.append(time.monotonic())
        return status

    async def send_all() -> tuple[list[int], float]:
        ticks = [time.monotonic()]

        async def tick() -> None:  # runs only while the loop is free
            while True:
                await asyncio.sleep(0.005)
                ticks.append(time.monotonic())

        ticker = asyncio.ensure_future(tick())
        statuses = await asyncio.gather(*(one(i) for i in range(40)))
        ticker.cancel()
        ticks.append(time.monotonic())
        return list(statuses), max(b - a for a, b in zip(ticks, ticks[1:], strict=False))

    statuses, longest_stall = run(send_all())
    assert statuses == [202] * 40
    main = threading.main_thread().name
    assert sync_each and all(name != main for name, _ in sync_each)
    assert len(sync_each) < 20  # 40 requests, far fewer fdatasyncs: they were shared
    assert longest_stall < SLOW_SYNC_S  # the loop kept running while the disk synced
    assert min(answered) >= min(t for _, t in sync_each)  # no 202 before a sync ended


def test_a_failed_deferred_sync_is_a_503_or_a_gif_marked_unavailable(
    sync_each: list[tuple[str, float]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "fdatasync", failing)
    before = tallied().get(("BeaconsDropped", ("collector", "unavailable")), 0)
    fast, lam = fast_gateway(), lambda_gateway()
    event = run(call(fast, "POST", "/api/event", post(JSON), JSON))
    assert event == run(call(lam, "POST", "/api/event", post(JSON), JSON))
    assert event[0] == 503 and event[1]["retry-after"] == "5"
    pixel = run(call(fast, "GET", "/e.gif?d=example.com&u=https://example.com/", post(b"")))
    assert pixel[0] == 200 and pixel[2] == PIXEL_GIF
    assert pixel[1]["x-beaconlake-dropped"] == "unavailable"
    assert tallied()[("BeaconsDropped", ("collector", "unavailable"))] == before + 1


def test_serve_answers_ingest_without_the_lambda_handler(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from beaconlake.local import asgi, server

    def no_lambda(*args: Any) -> dict[str, Any]:
        raise AssertionError("ingest went through the Lambda emulation")

    gateway = server.build_gateway()
    assert gateway.on_shutdown is not None
    assert "malloc-trim" in {t.name for t in threading.enumerate()}
    monkeypatch.setattr(asgi, "_invoke", no_lambda)
    try:
        status, _, _ = run(call(gateway, "POST", "/api/event", post(JSON), JSON))
        pixel = run(call(gateway, "GET", "/e.gif?d=example.com&u=https://example.com/", post(b"")))
    finally:
        gateway.on_shutdown()
    assert (status, pixel[0]) == (202, 200)
    assert sorted(r["pathname"] for r in parquet_rows(env)) == ["/", "/a"]
