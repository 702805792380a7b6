"""`beaconlake serve` puts Arrow on the system allocator and caps glibc's malloc arenas before
it starts, so a long run gives freed memory back (the soak in bench/ measures the effect), and
freezes what it built before serving, so the garbage collector skips it."""

from __future__ import annotations

import gc
import os
import platform
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
import uvicorn

from beaconlake.local import server


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
