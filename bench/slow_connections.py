"""Slow connections (slowloris) against `beaconlake serve`, on loopback only.

An attacker process opens --connections sockets and sends each a partial request head, one
more byte every --byte-every seconds, reopening a socket as soon as the server closes it,
for --seconds. Meanwhile a well-behaved client opens a new connection every --probe-every
seconds and asks for `GET /health` or sends a beacon (`POST /api/event`), each with a 10 s
timeout. Reported: how many of its requests were answered and how fast, how often the server
closed a slow socket, its open file descriptors (peak), and how much its log grew.

    .venv/bin/python -m bench.slow_connections --connections 20000 --seconds 40
    .venv/bin/python -m bench.slow_connections --connections 500 --seconds 8 --fd-limit 400

--fd-limit starts the server with that many file descriptors (soft and hard), to see fd
exhaustion with fewer sockets. This script raises its own limit to fit --connections (as
root, the hard limit too). `tests/integration/test_slow_connections.py` runs the small one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent / "beaconlake"
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
# a request head that never ends: a header value grows by a byte at a time
PARTIAL_HEAD = b"POST /api/event HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nX-a: "


def raise_own_fd_limit(wanted: int) -> int:
    """Raise this process's limit on open files to `wanted` if it can; the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- the attacker (its own process) --------------------------------------------------------


class _Slow(asyncio.Protocol):
    def __init__(self, closed: asyncio.Future[None]) -> None:
        self.closed = closed
        self.transport: asyncio.Transport | None = None
        self.sent = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def next_byte(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        byte = PARTIAL_HEAD[self.sent : self.sent + 1] or b"a"
        self.transport.write(byte)
        self.sent += 1


async def attack(host: str, port: int, connections: int, seconds: float, byte_every: float) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    live: set[_Slow] = set()
    counts = {"opened": 0, "closed_by_server": 0, "connect_failures": 0, "peak_open": 0}
    connecting = asyncio.Semaphore(256)

    async def hold() -> None:
        while loop.time() < deadline:
            closed: asyncio.Future[None] = loop.create_future()
            try:
                async with connecting:
                    _, proto = await asyncio.wait_for(
                        loop.create_connection(partial(_Slow, closed), host, port), 5
                    )
            except (OSError, TimeoutError):
                counts["connect_failures"] += 1
                await asyncio.sleep(0.5)
                continue
            counts["opened"] += 1
            proto.next_byte()
            live.add(proto)
            counts["peak_open"] = max(counts["peak_open"], len(live))
            try:
                await asyncio.wait_for(closed, max(0.0, deadline - loop.time()))
                counts["closed_by_server"] += 1
            except TimeoutError:
                pass
            finally:
                live.discard(proto)
                if proto.transport is not None:
                    proto.transport.abort()

    async def trickle() -> None:
        while loop.time() < deadline:
            await asyncio.sleep(byte_every)
            for proto in list(live):
                proto.next_byte()

    await asyncio.gather(trickle(), *(hold() for _ in range(connections)))
    return counts


# --- the server, the well-behaved client, the report ---------------------------------------


@dataclass
class Result:
    connections: int
    seconds: float
    probes: int = 0
    answered: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    attacker: dict[str, Any] = field(default_factory=dict)
    server_fds_peak: int = 0
    server_log_bytes: int = 0
    server_log_lines: int = 0


def start_server(
    data_dir: Path, log_path: Path, port: int, fd_limit: int | None, env: dict
) -> subprocess.Popen:
    def limit_fds() -> None:
        if fd_limit:
            resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))

    full_env = {
        **os.environ,
        "BEACONLAKE_BACKEND": "local",
        "BEACONLAKE_DATA_DIR": str(data_dir),
        "BEACONLAKE_SITES": "example.com",
        **env,
    }
    log = open(log_path, "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port)],
        env=full_env,
        stdout=log,
        stderr=log,
        preexec_fn=limit_fds,  # only setrlimit, before exec
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text()}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start in 30 s")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def probe(base: str, stop: threading.Event, every: float, out: list[tuple[str, float]]) -> None:
    """A new connection per request (the harder case: it must get in), full request at once."""
    n = 0
    beacon = json.dumps({"n": "pageview", "u": "https://example.com/probe", "d": "example.com"})
    while not stop.wait(every):
        n += 1
        started = time.monotonic()
        try:
            with httpx.Client(timeout=10) as client:
                if n % 2:
                    res = client.get(f"{base}/health")
                else:
                    headers = {"content-type": "text/plain", "user-agent": FIREFOX_UA}
                    res = client.post(f"{base}/api/event", content=beacon, headers=headers)
            outcome = str(res.status_code)
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        out.append((outcome, (time.monotonic() - started) * 1000))


def count_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def measure(
    connections: int,
    seconds: float,
    *,
    byte_every: float = 1.0,
    probe_every: float = 0.25,
    fd_limit: int | None = None,
    env: dict[str, str] | None = None,
    workdir: Path | None = None,
) -> Result:
    raise_own_fd_limit(connections + 1024)
    with tempfile.TemporaryDirectory() as tmp:
        root = workdir or Path(tmp)
        log_path = root / "server.log"
        port = free_port()
        proc = start_server(root / "data", log_path, port, fd_limit, env or {})
        log_start = log_path.stat().st_size
        result = Result(connections, seconds)
        outcomes: list[tuple[str, float]] = []
        stop = threading.Event()
        try:
            attacker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.slow_connections",
                    "--attack",
                    str(port),
                    "--connections",
                    str(connections),
                    "--seconds",
                    str(seconds),
                    "--byte-every",
                    str(byte_every),
                ],
                stdout=subprocess.PIPE,
                cwd=Path(__file__).resolve().parent.parent,
            )
            time.sleep(min(2.0, seconds / 4))  # let the slow sockets pile up first
            prober = threading.Thread(
                target=probe, args=(f"http://127.0.0.1:{port}", stop, probe_every, outcomes)
            )
            prober.start()
            while attacker.poll() is None:
                result.server_fds_peak = max(result.server_fds_peak, count_fds(proc.pid))
                time.sleep(0.5)
            stop.set()
            prober.join()
            out, _ = attacker.communicate(timeout=30)
            result.attacker = json.loads(out.decode() or "{}")
        finally:
            stop.set()
            proc.terminate()
            proc.wait(timeout=30)
        log = log_path.read_bytes()[log_start:]
        result.server_log_bytes = len(log)
        result.server_log_lines = log.count(b"\n")
    result.probes = len(outcomes)
    ok = [ms for status, ms in outcomes if status in ("200", "202")]
    result.answered = len(ok)
    for status, _ in outcomes:
        if status not in ("200", "202"):
            result.failures[status] = result.failures.get(status, 0) + 1
    if ok:
        ok.sort()
        result.latency_ms = {
            "p50": round(statistics.median(ok), 1),
            "p99": round(ok[min(len(ok) - 1, int(len(ok) * 0.99))], 1),
            "max": round(ok[-1], 1),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--byte-every", type=float, default=1.0)
    parser.add_argument("--probe-every", type=float, default=0.25)
    parser.add_argument("--fd-limit", type=int, default=None)
    parser.add_argument("--attack", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.attack:
        raise_own_fd_limit(args.connections + 1024)
        counts = asyncio.run(
            attack("127.0.0.1", args.attack, args.connections, args.seconds, args.byte_every)
        )
        print(json.dumps(counts))
        return
    result = measure(
        args.connections,
        args.seconds,
        byte_every=args.byte_every,
        probe_every=args.probe_every,
        fd_limit=args.fd_limit,
    )
    print(json.dumps(asdict(result), indent=2))


if __name__ == "__main__":
    main()
