"""`beaconlake serve` puts Arrow on the system allocator and caps glibc's malloc arenas before
it starts and trims glibc's heap every minute, so a long run gives freed memory back (the soak
in bench/ measures the effect), and freezes what it built before serving, so the garbage
collector skips it."""

from __future__ import annotations

import ctypes
import gc
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import uvicorn

from beaconlake import cli
from beaconlake.local import server


@pytest.fixture
def arrow_pool() -> Iterator[None]:
    before = pa.default_memory_pool()
    yield
    pa.set_memory_pool(before)


def test_serve_runs_uvicorn_with_metric_lines_off_and_its_start_up_frozen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}

    def run(app: Any, **kwargs: Any) -> None:
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
    assert seen == {"port": 18999, "metrics_disabled": "true", "frozen": True}


def test_the_serve_command_returns_freed_memory_before_it_builds_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def ports() -> None:
        calls.append("ports")
        raise RuntimeError("stop here")

    monkeypatch.setattr(server, "return_freed_memory", lambda: calls.append("memory"))
    monkeypatch.setattr(cli.wiring, "ports", ports)
    with pytest.raises(RuntimeError, match="stop here"):
        cli.main(["serve", "--port", "18999"])
    assert calls == ["memory", "ports"]


ARROW_WORK = """
import sys
from beaconlake.local.server import return_freed_memory
return_freed_memory()
import pyarrow as pa, pyarrow.dataset as ds, pyarrow.parquet as pq
pq.write_table(pa.table({"n": list(range(200_000))}), sys.argv[1], compression="zstd")
ds.dataset(sys.argv[1]).to_table()
print(pa.mimalloc_memory_pool().max_memory(), pa.system_memory_pool().max_memory())
"""


def test_arrows_parquet_writer_and_scanner_allocate_from_the_system_pool(tmp_path: Path) -> None:
    """Not only pyarrow's Python functions: `pa.set_memory_pool` alone left these on mimalloc."""
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    out = subprocess.run(
        [sys.executable, "-c", ARROW_WORK, str(tmp_path / "t.parquet")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    mimalloc_bytes, system_bytes = map(int, out.stdout.split())
    assert mimalloc_bytes == 0
    assert system_bytes > 1_000_000


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


def test_the_default_trim_is_glibcs_malloc_trim(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no trim given, the thread calls glibc's `malloc_trim(0)`: what DuckDB's churn
    leaves (small blocks freed all over the heap, a few kept between them) is given back.
    How much RSS that returns: bench/resource_checks.py."""
    calls: list[tuple[str, tuple[Any, ...]]] = []

    class Libc:
        def __init__(self, name: str) -> None:
            self.name = name

        def malloc_trim(self, *args: Any) -> int:
            calls.append((self.name, args))
            return 1

    monkeypatch.setattr(ctypes, "CDLL", Libc)
    stop = threading.Event()
    thread = server.keep_freed_memory_returned(stop, every_s=0.01)
    assert thread is not None
    deadline = time.monotonic() + 5
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join(timeout=5)
    assert calls[:2] == [("libc.so.6", (0,)), ("libc.so.6", (0,))]


def test_without_glibc_there_is_no_trim_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> None:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", missing)
    assert server.keep_freed_memory_returned(threading.Event(), every_s=0.01) is None
