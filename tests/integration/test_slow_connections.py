"""Slow connections against the real `beaconlake serve` (issue 26): the small, fast version of
`bench/slow_connections.py`: more slow sockets than the server has file descriptors, and a
well-behaved client that must still get every answer, while the server stays within its
descriptors and keeps its log small. The deadlines are the server's own (1 s here)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.slow_connections import free_port, measure, start_server

pytestmark = pytest.mark.slow


def test_1200_slow_connections_do_not_stop_a_well_behaved_client(tmp_path: Path) -> None:
    result = measure(1200, 8, fd_limit=1024, workdir=tmp_path)
    assert result.probes >= 10, result  # was 1: each probe waited for the attack to end
    assert result.answered == result.probes, result  # how fast: bench/resource_checks.py
    assert result.attacker["closed_by_server"] > 0, result  # was 0: held forever
    assert result.server_fds_peak < 1024, result  # was 1,024: every descriptor in use
    assert result.server_log_bytes < 20_000, result  # was 31 MB of tracebacks


@pytest.fixture(scope="module")
def quick_timeouts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    root = tmp_path_factory.mktemp("quick")
    port = free_port()
    env = {"BEACONLAKE_REQUEST_TIMEOUT_S": "1"}
    proc = start_server(root / "data", root / "server.log", port, None, env)
    yield port
    proc.terminate()
    proc.wait(timeout=30)


def closed_after(sock: socket.socket, limit_s: float = 10) -> tuple[bytes, float]:
    """What the server sent before closing, and after how many seconds."""
    started, data = time.monotonic(), b""
    sock.settimeout(limit_s)
    while chunk := sock.recv(4096):
        data += chunk
    return data, time.monotonic() - started


def test_a_request_head_that_never_ends_is_closed_at_the_deadline(quick_timeouts: int) -> None:
    with socket.create_connection(("127.0.0.1", quick_timeouts)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-a: b")
        data, seconds = closed_after(sock)
    assert data == b"" and 0.5 < seconds < 4


def test_a_silent_connection_is_closed_at_the_deadline(quick_timeouts: int) -> None:
    with socket.create_connection(("127.0.0.1", quick_timeouts)) as sock:
        data, seconds = closed_after(sock)
    assert data == b"" and seconds < 4


@pytest.mark.parametrize("path", ["/api/event", "/api/v1/stats/aggregate"])
def test_a_body_that_never_ends_gets_408_json(quick_timeouts: int, path: str) -> None:
    with socket.create_connection(("127.0.0.1", quick_timeouts)) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
        sock.sendall(head.encode() + b"{")
        data, seconds = closed_after(sock)
    assert data.startswith(b"HTTP/1.1 408"), data
    assert data.endswith(
        b'{"error":"the body took too long to arrive","field":"body","rule":"timeout"}'
    )
    assert seconds < 4
