"""`beaconlake serve` puts Arrow on the system allocator and caps glibc's malloc arenas before
it starts and trims glibc's heap every minute, so a long run gives freed memory back (the soak
in bench/ measures the effect), and freezes what it built before serving, so the garbage
collector skips it."""

from __future__ import annotations

import ctypes
import gc
import os
import platform
import threading
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
import uvicorn

from beaconlake.local import server
from bench.procs import rss_mb


@pytest.fixture
def arrow_pool() -> Iterator[None]:
    before = pa.default_memory_pool()
    yield
    pa.set_memory_pool(before)


def test_serve_returns_freed_memory_before_it_starts(
    arrow_pool: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    seen: dict[str, Any] = {}

    def run(app: Any, **kwargs: Any) -> None:
        seen["pool"] = pa.default_memory_pool().backend_name
        seen["port"] = kwargs["port"]
        seen["metrics_disabled"] = os.environ.get("POWERTOOLS_METRICS_DISABLED")
        seen["frozen"] = gc.get_freeze_count() > 0

    # serve switches metric lines off in its own environment: undone after the test, so later
    # tests still see the metrics they count
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "unset below")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    monkeypatch.setattr(server, "build_gateway", lambda: object())
    monkeypatch.setattr(uvicorn, "run", run)
    gc.unfreeze()
    try:
        server.serve("127.0.0.1", 18999)
    finally:
        gc.unfreeze()
    assert seen == {"pool": "system", "port": 18999, "metrics_disabled": "true", "frozen": True}


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the arena cap is glibc's")
def test_the_malloc_arena_cap_applies_on_glibc(arrow_pool: None) -> None:
    assert server.return_freed_memory() is True


def test_freed_memory_is_given_back_on_a_timer_until_stopped() -> None:
    calls: list[float] = []
    stop = threading.Event()
    thread = server.keep_freed_memory_returned(stop, every_s=0.01, trim=lambda: calls.append(1))
    assert thread is not None and thread.name == "malloc-trim"
    deadline = time.monotonic() + 5
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join(timeout=5)
    assert len(calls) >= 3 and not thread.is_alive()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_the_trim_returns_pages_freed_between_live_blocks() -> None:
    """What DuckDB's churn leaves: small blocks freed all over the heap, a few kept between
    them, so glibc cannot shrink the heap from its top. The server's trim gives the pages back."""
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(1000) for _ in range(100_000)]
    for i, block in enumerate(blocks):
        if i % 10:
            libc.free(block)
    kept = blocks[::10]
    before = rss_mb()
    stop = threading.Event()
    server.keep_freed_memory_returned(stop, every_s=0.01)
    try:
        deadline = time.monotonic() + 5
        while before - rss_mb() < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        given_back = before - rss_mb()
    finally:
        stop.set()
        for block in kept:
            libc.free(block)
    assert given_back >= 40, f"RSS fell by {given_back:.1f} MB only"
