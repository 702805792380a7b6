"""Resource thresholds (wall-clock, RSS) that the test suite used to assert, measured here
instead: on a shared 2-core machine a time or memory bound in a unit test fails with the
load, not with the code. The behaviour each figure belongs to stays tested in tests/ without
the bound (the `test` column names the test).

    .venv/bin/python -m bench.resource_checks [--write-docs] [--skip-slow-connections]

Prints one row per check and exits 1 if any threshold is missed; with --write-docs the
table goes into docs/BENCHMARKS.md's `resource-checks` block (bench/docblocks.py). `bench/run`
runs it last, with --write-docs.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.docblocks import replace_generated, table
from bench.procs import ROOT, rss_mb

DOC = ROOT / "docs" / "BENCHMARKS.md"
BLOCK = "resource-checks"
SITE = "example.com"
CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
)
# the filter-taking POST entry points, each with a minimal valid body
QUERY: dict[str, Any] = {"site_id": SITE, "metrics": ["visitors"], "date_range": "7d"}
FUNNEL: dict[str, Any] = {"site_id": SITE, "date_range": "7d", "steps": [{"page": "/a"}]}
FILTERED = [
    ("/api/v2/query", QUERY),
    ("/api/v2/funnel", {**FUNNEL, "steps": [{"page": "/a"}, {"page": "/b"}]}),
    ("/api/v2/journeys", {"site_id": SITE, "date_range": "7d", "page": "/a"}),
    ("/api/v2/paths", {"site_id": SITE, "date_range": "7d"}),
    ("/api/v2/sequences", {**FUNNEL, "steps": [{"page": "/a"}, {"page": "/b"}]}),
]
# regexes the guard lets through, against texts a backtracking engine (Athena's Joni,
# Python's re) could be slow on
ORDINARY = [
    "^/blog/.*$",
    "/docs/(a|b)",
    "^/blog/.*",
    r"^/product/\d+/review/\d+$",
    "[a-z]+-[a-z]+-[a-z]+",
    ".*/edit/.*",
    r"^/blog/[^/]+/comments/[^/]*$",
    r"(\d{1,3}\.){3}\d{1,3}",
    "^/(en|de|fr)/",
    r"\.pdf$",
    "(?i)^/Docs/",
]
TEXTS = ["a" * 2000, "/" + "a/" * 1000, "1." * 1000 + "x", "-a" * 1000 + "!"]
SLOW_SQL = "SELECT count(*) AS n FROM range(100000000000) AS t(x) WHERE x % 7 = 3"


@dataclass(frozen=True)
class Check:
    name: str
    threshold: str
    measured: str
    met: bool
    test: str


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


@contextmanager
def stats_client() -> Iterator[Any]:
    """The stats API on a local back end in a temporary directory, four events stored, with a
    key for the site in its headers."""
    from fastapi.testclient import TestClient

    from beaconlake import wiring
    from beaconlake.handlers.stats import create_app
    from beaconlake.ingest.service import collect
    from beaconlake.keys import create_key
    from beaconlake.model import RequestMeta

    saved = dict(os.environ)
    with tempfile.TemporaryDirectory() as data_dir:
        os.environ.update(
            {
                "BEACONLAKE_BACKEND": "local",
                "BEACONLAKE_DATA_DIR": data_dir,
                "BEACONLAKE_SITES": SITE,
                "BEACONLAKE_FLUSH_SECONDS": "3600",
            }
        )
        wiring.reset()
        p = wiring.ports()
        now = datetime.now(UTC)
        for i, path in enumerate(["/a", "/b", "/a", "/c"]):
            data = {"n": "pageview", "u": f"https://{SITE}{path}", "d": SITE}
            meta = RequestMeta(f"192.0.2.{i}", CHROME_UA)
            p.sink.put(collect(data, meta, p.policy, p.salts.salt_for, now).events)
        p.sink.flush()
        token, _ = create_key(p.keys, (SITE,))
        try:
            with TestClient(create_app(), headers={"authorization": f"Bearer {token}"}) as c:
                yield c
        finally:
            wiring.reset()
            os.environ.clear()
            os.environ.update(saved)


def _nested(op: str, depth: int) -> list[Any]:
    leaf: list[Any] = ["is", "event:page", ["/a"]]
    for _ in range(depth):
        leaf = [op, [leaf]] if op in ("and", "or") else [op, leaf]
    return leaf


def query_limits() -> list[Check]:
    """A query over the limits is refused at once; the largest allowed ones are answered."""
    from beaconlake.stats.limits import LIMITS

    out = []
    with stats_client() as client:
        filters = ";".join(f"event:page~/p{i}" for i in range(1000))
        refusals = [
            _timed(lambda p=p: client.get(p, params={"site_id": SITE, "filters": filters}))
            for p in ("/api/v1/stats/aggregate", "/api/v1/stats/timeseries")
        ]
        worst = max(seconds for _, seconds in refusals)
        out.append(
            Check(
                "1,000 v1 filters refused (aggregate, timeseries)",
                "< 1 s each",
                f"{worst * 1000:,.0f} ms (slowest)",
                worst < 1.0 and all(r.status_code == 400 for r, _ in refusals),
                "test_security_query_limits.py::test_a_thousand_v1_filters_are_a_400_at_once",
            )
        )
        deepest = [_nested(op, LIMITS.depth - 1) for op in ("and", "or", "not")]
        deepest.append(["has_done", ["and", [["not", ["or", [_nested("not", LIMITS.depth - 5)]]]]]])
        values = LIMITS.values // LIMITS.filters
        widest = [
            ["contains", "event:page", [f"/{i}-{j}" for j in range(values)]]
            for i in range(LIMITS.filters)
        ]
        answers = [
            _timed(lambda p=p, b=b, f=f: client.post(p, json={**b, "filters": f}))
            for p, b in FILTERED
            for f in (deepest, widest)
        ]
        worst = max(seconds for _, seconds in answers)
        out.append(
            Check(
                f"deepest and widest allowed filter trees, {len(FILTERED)} endpoints",
                "< 5 s each",
                f"{worst * 1000:,.0f} ms (slowest)",
                worst < 5.0 and all(r.status_code == 200 for r, _ in answers),
                "test_security_query_limits.py::test_queries_at_the_limits_are_answered",
            )
        )
    return out


def time_budget() -> Check:
    """DuckDB interrupts a statement at its budget (0.3 s here) within a few seconds."""
    from beaconlake.ports import QueryTooLarge
    from beaconlake.wiring import local_engine

    with tempfile.TemporaryDirectory() as data_dir:
        engine = local_engine(Path(data_dir))
        engine.query_seconds = 0.3
        started = time.perf_counter()
        try:
            engine.query(SLOW_SQL, [])
            stopped = False
        except QueryTooLarge:
            stopped = True
        seconds = time.perf_counter() - started
        engine.close()
    return Check(
        "DuckDB statement past a 0.3 s budget stopped",
        "< 3 s",
        f"{seconds * 1000:,.0f} ms",
        stopped and seconds < 3,
        "test_security_query_limits.py::test_duckdb_stops_a_statement_past_its_time_budget",
    )


def regexes() -> Check:
    """Patterns the regex guard accepts stay fast on a backtracking engine (Python's re)."""
    from beaconlake.stats.regex_guard import check_regex

    worst, worst_case = 0.0, ""
    for pattern in ORDINARY:
        check_regex(pattern)
        compiled = re.compile(pattern)
        for text in TEXTS:
            _, seconds = _timed(lambda c=compiled, t=text: c.search(t))
            if seconds > worst:
                worst, worst_case = seconds, f"`{pattern}` on `{text[:6]}…`"
    return Check(
        f"{len(ORDINARY)} accepted regexes x {len(TEXTS)} 2,000-character texts, Python's re",
        "< 0.5 s each",
        f"{worst * 1000:,.1f} ms (slowest: {worst_case})",
        worst < 0.5,
        "test_security_regex.py::test_ordinary_patterns_pass_the_guard",
    )


def malloc_trim() -> Check | None:
    """`serve`'s trim thread gives back pages freed between live blocks (glibc only)."""
    if platform.libc_ver()[0] != "glibc":
        return None
    from beaconlake.local import server

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
    return Check(
        "RSS given back by the trim thread (90 % of 100,000 small blocks freed)",
        "≥ 40 MB",
        f"{given_back:.1f} MB",
        given_back >= 40,
        "test_serve_memory.py::test_the_default_trim_is_glibcs_malloc_trim",
    )


def slow_connections() -> Check:
    """A well-behaved client's slowest answer while 1,200 slow sockets hold the server."""
    from bench.slow_connections import measure

    with tempfile.TemporaryDirectory() as workdir:
        result = measure(1200, 8, fd_limit=1024, workdir=Path(workdir))
    slowest = result.latency_ms.get("max", float("inf"))
    return Check(
        "slowest answer to a well-behaved client, 1,200 slow sockets, 1,024 descriptors",
        "< 3 s",
        f"{slowest:,.0f} ms ({result.answered} of {result.probes} answered)",
        slowest < 3000 and result.answered == result.probes > 0,
        "test_slow_connections.py::test_1200_slow_connections_do_not_stop_a_well_behaved_client",
    )


def run(slow: bool = True) -> list[Check]:
    checks = [malloc_trim(), time_budget(), regexes(), *query_limits()]
    if slow:
        checks.append(slow_connections())
    return [c for c in checks if c is not None]


def markdown(checks: list[Check], command: str) -> str:
    rows = [
        [c.name, c.threshold, c.measured, "met" if c.met else "**missed**", f"`{c.test}`"]
        for c in checks
    ]
    results = table(["check", "threshold", "measured", "", "behaviour tested in"], rows)
    run = table(
        ["run", "value"],
        [
            ["command", f"`{command}`"],
            ["date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")],
            ["machine", f"{os.cpu_count()} cores, Python {platform.python_version()}"],
            ["1-minute load average at the end", f"{os.getloadavg()[0]:.1f}"],
        ],
    )
    return f"{results}\n\n{run}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--skip-slow-connections", action="store_true")
    args = parser.parse_args()
    checks = run(slow=not args.skip_slow_connections)
    command = ".venv/bin/python -m bench.resource_checks"
    if args.skip_slow_connections:
        command += " --skip-slow-connections"
    text = markdown(checks, command)
    print(text)
    if args.write_docs:
        replace_generated(DOC, BLOCK, text)
    return 0 if all(c.met for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
