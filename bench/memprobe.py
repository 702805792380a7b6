"""What `beaconlake serve`'s memory is made of, sampled inside it during a soak.

RSS alone cannot say whether a climb is a leak or a cache filling up to its bound. Every
10 s the probe appends one JSON line: RSS; glibc's heap in use and free (mallinfo2), which
holds native allocations outside DuckDB's buffer pool (Arrow on the system allocator,
DuckDB's own C++ objects); DuckDB's buffer pool by tag (duckdb_memory()); and DuckDB's
eviction queues (duckdb_eviction_queues()). Each query's temporary blocks leave "dead"
nodes in those queues, and a dead node keeps its block's bookkeeping allocated in glibc's
heap until DuckDB purges the queue, which it does only once a queue holds 32,768 nodes: a
bounded climb that takes a soak's first many minutes to level off (docs/RELIABILITY.md).

Loaded through bench/soak_probe/sitecustomize.py when BEACONLAKE_SOAK_PROBE names the file
to write; bench/soak.py does that for the `serve` it starts."""

from __future__ import annotations

import ctypes
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import duckdb

from bench.procs import status_mb

MB = 2**20
SAMPLE_EVERY_S = 10.0


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in [
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        ]
    ]


def glibc_heap_mb() -> tuple[float, float] | None:
    """(in use, free) in glibc's malloc arenas, or None where libc has no mallinfo2."""
    try:
        mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return round(info.uordblks / MB, 1), round(info.fordblks / MB, 1)


def duckdb_figures(db: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    cursor = db.cursor()
    try:
        tags = cursor.execute(
            "SELECT tag, memory_usage_bytes FROM duckdb_memory() WHERE memory_usage_bytes > 0"
        ).fetchall()
        nodes, dead = cursor.execute(
            "SELECT coalesce(sum(approximate_size), 0), coalesce(sum(dead_nodes), 0) "
            "FROM duckdb_eviction_queues()"
        ).fetchone() or (0, 0)
    finally:
        cursor.close()
    return {
        "duckdb_mb": {tag: round(size / MB, 1) for tag, size in tags},
        "eviction_queue_nodes": int(nodes),
        "eviction_queue_dead_nodes": int(dead),
    }


def sample(db: duckdb.DuckDBPyConnection | None) -> dict[str, Any]:
    heap = glibc_heap_mb()
    status = status_mb()
    # RssFile is mostly the shared libraries' pages (DuckDB's, Arrow's): clean, shared, and
    # resident as far as the page cache happens to hold them, so it differs between machines
    # and checkouts; RssAnon is what the process itself allocated.
    out: dict[str, Any] = {
        name: round(status.get(field, 0.0), 1)
        for name, field in (
            ("rss_mb", "VmRSS"),
            ("rss_anon_mb", "RssAnon"),
            ("rss_file_mb", "RssFile"),
        )
    }
    if heap is not None:
        out["glibc_in_use_mb"], out["glibc_free_mb"] = heap
    if db is not None:
        out.update(duckdb_figures(db))
    return out


def _serve_db() -> duckdb.DuckDBPyConnection | None:
    """The DuckDB database of the process's engine, once serve has built it."""
    from beaconlake import wiring

    if not wiring.engine.built:
        return None
    return getattr(wiring.engine(), "_db", None)


def _loop(path: Path) -> None:
    began = time.monotonic()
    while True:
        time.sleep(SAMPLE_EVERY_S)
        record = {"t": round(time.monotonic() - began, 1), **sample(_serve_db())}
        with path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")


def start() -> None:
    """Sample in a daemon thread if BEACONLAKE_SOAK_PROBE names a file."""
    target = os.environ.get("BEACONLAKE_SOAK_PROBE")
    if target:
        threading.Thread(target=_loop, args=(Path(target),), name="soak-probe", daemon=True).start()
