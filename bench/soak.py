"""Bounded soak on loopback: `beaconlake serve` takes steady ingest plus dashboard-style
`POST /api/v2/query` calls for a few minutes. Reported: the server's RSS over time, ingest
latency (p50/p99), error rates, and every event that got a 202 looked for in the Parquet
files after a graceful stop. Queries over today read the engine's live day (one row per visit,
and per visitor and page), so RSS must not climb with the day's stored events; after the
ingest stops, the dashboard goes on for --hold minutes over the now fixed data, which shows
whether anything grows without new events. Inside `serve`, bench/memprobe.py samples glibc's
heap and DuckDB's buffer pool and eviction queues every 10 s (bench/out/soak/probe.jsonl).

    .venv/bin/python -m bench.soak --minutes 2 [--hold 1] [--rate 200] [--write-docs]
    .venv/bin/python -m bench.soak --durability 3 [--write-docs]   # needs wrk, like bench/run

Rate limits stay at their defaults: each sender cycles through 2,000 client addresses
(x-forwarded-for), so no address goes over its limit. With --write-docs the table replaces
the `soak` (or `durability`) block of docs/RELIABILITY.md (bench/docblocks.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean, median
from typing import Any

import httpx
import pyarrow.dataset as ds

from beaconlake.schema import arrow_schema
from bench import http_ingest
from bench.docblocks import replace_generated, table
from bench.procs import (
    ROOT,
    VENV_BIN,
    free_port,
    rss_mb,
    stop,
    wait_port,
)

SITE = "soak.example"
DOC = ROOT / "docs" / "RELIABILITY.md"
BLOCKS = ("soak", "durability")  # written with --write-docs (markdown, durability_markdown)
WARMUP_S = 30  # imports, first DuckDB queries and caches: RSS is judged after this
# DuckDB's eviction queues keep a node per freed block until a queue is purged, which bounds
# them (docs/RELIABILITY.md); "full" is their first sample at this share of their most nodes
QUEUES_FULL = 0.9
PAGES = ["/", "/pricing", "/blog/a", "/blog/b", "/docs", "/docs/install", "/signup", "/about"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
]
DASHBOARD: list[dict[str, Any]] = [
    {"metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["time:hour"]},
    {"metrics": ["visitors"], "dimensions": ["event:page"], "pagination": {"limit": 10}},
    {"metrics": ["visitors", "bounce_rate"], "dimensions": ["visit:source"]},
    {"metrics": ["visitors"], "dimensions": ["visit:browser"]},
]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (t, y)."""
    if len(points) < 2:
        return 0.0
    mt, my = mean(t for t, _ in points), mean(y for _, y in points)
    var = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (y - my) for t, y in points) / var if var else 0.0


class Soak:
    def __init__(self, base: str, key: str, rate: float, senders: int, query_every: float):
        self.base, self.key = base, key
        self.rate, self.senders, self.query_every = rate, senders, query_every
        self.stop = threading.Event()
        self.stop_ingest = threading.Event()
        self.lock = threading.Lock()
        self.accepted: list[str] = []
        self.ingest_ms: list[float] = []
        self.ingest_status: dict[int, int] = {}
        self.query_ms: list[float] = []
        self.query_status: dict[int, int] = {}

    def sender(self, worker: int) -> None:
        interval = self.senders / self.rate
        start = time.monotonic()
        with httpx.Client(timeout=10) as client:
            i = 0
            while not self.stop_ingest.is_set():
                delay = start + i * interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                seq = f"{worker}-{i}"
                body: dict[str, Any] = {
                    "n": "pageview",
                    "u": f"https://{SITE}{PAGES[i % len(PAGES)]}",
                    "d": SITE,
                    "p": {"seq": seq},
                }
                if i % 3 == 0:
                    body["r"] = "https://www.google.com/"
                headers = {
                    "content-type": "application/json",
                    "user-agent": AGENTS[(worker + i) % len(AGENTS)],
                    "x-forwarded-for": f"10.{worker}.{i % 250}.{(i // 250) % 8 + 1}",
                }
                t = time.perf_counter()
                try:
                    res = client.post(f"{self.base}/api/event", json=body, headers=headers)
                    status = res.status_code
                except httpx.HTTPError:
                    status = 0
                elapsed = (time.perf_counter() - t) * 1000
                with self.lock:
                    self.ingest_ms.append(elapsed)
                    self.ingest_status[status] = self.ingest_status.get(status, 0) + 1
                    if status == 202:
                        self.accepted.append(seq)
                i += 1

    def dashboard(self) -> None:
        headers = {"authorization": f"Bearer {self.key}"}
        with httpx.Client(timeout=60) as client:
            while not self.stop.wait(self.query_every):
                for query in DASHBOARD:
                    body = {"site_id": SITE, "date_range": "day", **query}
                    t = time.perf_counter()
                    try:
                        status = client.post(
                            f"{self.base}/api/v2/query", json=body, headers=headers
                        ).status_code
                    except httpx.HTTPError:
                        status = 0
                    with self.lock:
                        self.query_ms.append((time.perf_counter() - t) * 1000)
                        self.query_status[status] = self.query_status.get(status, 0) + 1


def stored_seqs(data_dir: Path) -> list[str]:
    files = [str(f) for f in (data_dir / "events").glob("site_id=*/dt=*/*.parquet")]
    if not files:
        return []
    props = ds.dataset(files, schema=arrow_schema()).to_table(columns=["props"]).column(0)
    return [dict(p)["seq"] for p in props.to_pylist()]


def run(
    minutes: float, hold: float, rate: float, senders: int, query_every: float, out: Path
) -> dict[str, Any]:
    data_dir = out / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    probe_file = out / "probe.jsonl"
    probe_file.unlink(missing_ok=True)
    port = free_port()
    log = open(out / "serve.log", "wb")  # noqa: SIM115 - the child writes to it
    env = {
        **os.environ,
        "BEACONLAKE_BACKEND": "local",
        "BEACONLAKE_SITES": SITE,
        "BEACONLAKE_CLIENT_IP_HEADER": "x-forwarded-for",
        # bench/memprobe.py inside serve: what its memory is made of, every 10 s
        "PYTHONPATH": os.pathsep.join([str(ROOT / "bench" / "soak_probe"), str(ROOT)]),
        "BEACONLAKE_SOAK_PROBE": str(probe_file),
    }
    proc = subprocess.Popen(
        [str(VENV_BIN / "beaconlake"), "serve", "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        wait_port(port, proc)
        found = re.search(r"(bl_[0-9a-f]{12}_[A-Za-z0-9_-]+)", (out / "serve.log").read_text())
        assert found, "serve did not print a stats API key"
        soak = Soak(f"http://127.0.0.1:{port}", found.group(1), rate, senders, query_every)
        threads = [threading.Thread(target=soak.sender, args=(w,)) for w in range(senders)]
        threads.append(threading.Thread(target=soak.dashboard))
        began = time.monotonic()
        for t in threads:
            t.start()
        rss: list[tuple[float, float]] = []
        events: list[tuple[float, int]] = []  # (RSS, events accepted so far)
        while time.monotonic() - began < minutes * 60:
            rss.append((round(time.monotonic() - began, 1), round(rss_mb(proc.pid), 1)))
            with soak.lock:
                events.append((rss[-1][1], len(soak.accepted)))
            time.sleep(5)
        soak.stop_ingest.set()
        for t in threads[:-1]:
            t.join(timeout=70)
        duration = time.monotonic() - began
        held: list[tuple[float, float]] = []
        while time.monotonic() - began < (minutes + hold) * 60:
            held.append((round(time.monotonic() - began, 1), round(rss_mb(proc.pid), 1)))
            time.sleep(5)
        soak.stop.set()
        threads[-1].join(timeout=70)
        day_files = len(list((data_dir / "events").glob("site_id=*/dt=*/*.parquet")))
    finally:
        exit_code = stop(proc)
        log.close()
    stored = stored_seqs(data_dir)
    accepted = set(soak.accepted)
    sent = sum(soak.ingest_status.values())
    queries = sum(soak.query_status.values())
    warm = [(t, mb) for t, mb in rss if t >= WARMUP_S] or rss
    second_half = [(t, mb) for t, mb in rss if t >= duration / 2]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "minutes": round(duration / 60, 2),
        "target_rate": rate,
        "senders": senders,
        "query_every_s": query_every,
        "sent": sent,
        "events_per_s": round(sent / duration, 1),
        "accepted": len(accepted),
        "ingest_status": soak.ingest_status,
        "ingest_error_rate": round(1 - len(accepted) / sent, 5) if sent else 0.0,
        "ingest_p50_ms": round(percentile(soak.ingest_ms, 0.5), 1),
        "ingest_p99_ms": round(percentile(soak.ingest_ms, 0.99), 1),
        "queries": queries,
        "query_status": soak.query_status,
        "query_p50_ms": round(percentile(soak.query_ms, 0.5), 1),
        "query_p99_ms": round(percentile(soak.query_ms, 0.99), 1),
        "rss_mb": rss,
        "rss_after_warmup_mb": warm[0][1],
        "rss_end_mb": warm[-1][1],
        "rss_slope_mb_per_min": round(slope(warm) * 60, 1),
        "rss_second_half_slope_mb_per_min": round(slope(second_half) * 60, 1),
        "rss_mb_per_100k_events": round(slope([(n, mb) for mb, n in events if n]) * 100_000, 1),
        "hold_minutes": hold,
        "rss_held_mb": held,
        "rss_held_slope_mb_per_min": round(slope(held) * 60, 1),
        "rss_max_mb": max(mb for _, mb in rss + held),
        "parquet_files": day_files,
        "stored": len(stored),
        "stored_twice": len(stored) - len(set(stored)),
        "lost": len(accepted - set(stored)),
        "exit_code": exit_code,
        **probe_summary(probe_file, duration),
    }


def probe_summary(path: Path, ingest_s: float) -> dict[str, Any]:
    """glibc's heap and DuckDB's eviction queues while the events came in (bench/memprobe)."""
    samples = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    ingest = [s for s in samples if WARMUP_S <= s["t"] <= ingest_s and "glibc_in_use_mb" in s]
    if not ingest:
        return {"probe": samples}
    first, last = ingest[0], ingest[-1]
    half = [(s["t"], s["glibc_in_use_mb"]) for s in ingest if s["t"] >= ingest_s / 2]
    most_nodes = max(s.get("eviction_queue_nodes", 0) for s in ingest)
    full_at = next(
        s["t"] for s in ingest if s.get("eviction_queue_nodes", 0) >= QUEUES_FULL * most_nodes
    )
    full = [s for s in ingest if s["t"] >= full_at]
    anon = [(s["t"], s["rss_anon_mb"]) for s in full if "rss_anon_mb" in s]
    return {
        "probe": samples,
        "glibc_in_use_mb": (first["glibc_in_use_mb"], last["glibc_in_use_mb"]),
        "glibc_second_half_slope_mb_per_min": round(slope(half) * 60, 1),
        "eviction_queue_nodes": (
            first.get("eviction_queue_nodes", 0),
            last.get("eviction_queue_nodes", 0),
        ),
        "eviction_queue_dead_nodes": last.get("eviction_queue_dead_nodes", 0),
        "queues_full_s": full_at,
        "rss_queues_full_mb": (full[0]["rss_mb"], full[-1]["rss_mb"]),
        "rss_queues_full_slope_mb_per_min": round(
            slope([(s["t"], s["rss_mb"]) for s in full]) * 60, 1
        ),
        **(
            {
                "rss_anon_queues_full_mb": (anon[0][1], anon[-1][1]),
                "rss_anon_queues_full_slope_mb_per_min": round(slope(anon) * 60, 1),
            }
            if anon
            else {}
        ),
    }


def ingest_run(sync_ms: int, requests: Path, out: Path) -> dict[str, Any]:
    """Figure 3's wrk load (bench/http_ingest.py) on one `serve`, rate limits off; the
    server's CPU time per request over the measured 10 s."""
    data_dir = out / f"ingest-{sync_ms}"
    shutil.rmtree(data_dir, ignore_errors=True)
    env = {**http_ingest.SERVE_ENV, "BEACONLAKE_SPOOL_SYNC_MS": str(sync_ms)}
    measured = http_ingest.load(http_ingest.serve_command(data_dir), env, requests)["measured"]
    cpu_ms = sum(measured["cpu_us_per_request"].values()) / 1000
    return {**measured, "cpu_ms_per_request": cpu_ms}


def durability(out: Path, rounds: int) -> dict[str, Any]:
    """Ingest rate with the spool synced every 20 ms (default) and before every 202,
    alternating, `rounds` times each; medians."""
    requests = out / "wrk_requests.txt"
    http_ingest.write_requests(requests)
    runs: dict[int, list[dict[str, Any]]] = {20: [], 0: []}
    for _ in range(rounds):
        for sync_ms in runs:
            runs[sync_ms].append(ingest_run(sync_ms, requests, out))
    keys = ("events_per_s", "p50_ms", "p99_ms", "cpu_ms_per_request")
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "rounds": rounds,
        "median": {ms: {k: median(r[k] for r in rs) for k in keys} for ms, rs in runs.items()},
    }


def durability_markdown(r: dict[str, Any], command: str) -> str:
    """The `durability` block: the run, then one row per setting."""
    run = table(
        ["run", "value"],
        [
            ["command", f"`{command}`"],
            ["date", r["date"]],
            [
                "load",
                f"figure 3's wrk load: 1 thread, {http_ingest.CONNECTIONS} connections, "
                f"{http_ingest.MEASURE_S} s after a {http_ingest.WARMUP_S} s warm-up, demo "
                "beacons, rate limits off",
            ],
            ["runs", f"medians of {r['rounds']} alternating runs per setting"],
        ],
    )
    settings = table(
        ["`BEACONLAKE_SPOOL_SYNC_MS`", "events/s", "p50", "p99", "server CPU per request"],
        [
            [
                f"`{ms}`",
                f"{m['events_per_s']:,.0f}",
                f"{m['p50_ms']:.1f} ms",
                f"{m['p99_ms']:.1f} ms",
                f"{m['cpu_ms_per_request']:.2f} ms",
            ]
            for ms, m in r["median"].items()
        ],
    )
    return f"{run}\n\n{settings}"


def markdown(r: dict[str, Any], command: str) -> str:
    """The `soak` block: one table, the run's settings first."""
    errors = r["sent"] - r["accepted"]
    query_errors = r["queries"] - r["query_status"].get(200, 0)
    rss = ", ".join(f"{mb:.0f}" for _, mb in r["rss_mb"][:: max(1, len(r["rss_mb"]) // 12)])
    held = ", ".join(
        f"{mb:.0f}" for _, mb in r["rss_held_mb"][:: max(1, len(r["rss_held_mb"]) // 6)]
    )
    return (
        "| figure | value |\n|---|---|\n"
        f"| command | `{command}` |\n"
        f"| run | {r['minutes']} min, {r['date']}, {r['cores']} cores |\n"
        f"| load | {r['senders']} senders paced to {r['target_rate']:.0f} events/s in all "
        f"(2,000 client addresses each, default rate limits), a 5-query dashboard every "
        f"{r['query_every_s']:g} s |\n"
        f"| events sent / answered 202 | {r['sent']:,} / {r['accepted']:,} "
        f"({r['events_per_s']} events/s) |\n"
        f"| ingest errors (not 202) | {errors} ({100 * r['ingest_error_rate']:.3f} %); "
        f"statuses {r['ingest_status']} |\n"
        f"| ingest latency p50 / p99 | {r['ingest_p50_ms']} ms / {r['ingest_p99_ms']} ms |\n"
        f"| dashboard queries / errors | {r['queries']:,} / {query_errors} |\n"
        f"| query latency p50 / p99 | {r['query_p50_ms']} ms / {r['query_p99_ms']} ms |\n"
        f"| server RSS at {WARMUP_S} s / at the end / max | {r['rss_after_warmup_mb']} / "
        f"{r['rss_end_mb']} / {r['rss_max_mb']} MB |\n"
        f"| RSS trend after {WARMUP_S} s (least squares) | {r['rss_slope_mb_per_min']:+} MB/min |\n"
        "| RSS trend over the second half of the ingest (least squares) | "
        f"{r['rss_second_half_slope_mb_per_min']:+} MB/min |\n"
        f"| RSS samples (MB, every ~{5 * max(1, len(r['rss_mb']) // 12)} s) | {rss} |\n"
        f"| RSS per 100,000 events stored (least squares, while ingesting) | "
        f"{r['rss_mb_per_100k_events']:+} MB |\n"
        f"| then {r['hold_minutes']:g} min of dashboards only: RSS samples / trend | {held} MB / "
        f"{r['rss_held_slope_mb_per_min']:+} MB/min |\n"
        f"{probe_markdown(r)}"
        f"| Parquet files in the day's partition at the end (one flush every 5 s) | "
        f"{r['parquet_files']} |\n"
        f"| accepted events found in Parquet after SIGTERM | {r['accepted'] - r['lost']:,} "
        f"of {r['accepted']:,} (lost: {r['lost']}, stored twice: {r['stored_twice']}) |"
    )


def probe_markdown(r: dict[str, Any]) -> str:
    if "glibc_in_use_mb" not in r:
        return ""
    (heap_at, heap_end), (nodes_at, nodes_end) = r["glibc_in_use_mb"], r["eviction_queue_nodes"]
    rss_full = r["rss_queues_full_mb"]
    return (
        f"| inside serve (bench/memprobe.py): glibc heap in use at {WARMUP_S} s / at the end of "
        f"the ingest; trend over its second half | {heap_at} / {heap_end} MB; "
        f"{r['glibc_second_half_slope_mb_per_min']:+} MB/min |\n"
        f"| inside serve: nodes in DuckDB's eviction queues at {WARMUP_S} s / at the end of the "
        f"ingest (dead at the end) | {nodes_at:,} / {nodes_end:,} "
        f"({r['eviction_queue_dead_nodes']:,}) |\n"
        f"| RSS from when the eviction queues were full ({r['queues_full_s'] / 60:.0f} min, at "
        f"{QUEUES_FULL:.0%} of their most nodes) to the end of the ingest; trend | "
        f"{rss_full[0]} / {rss_full[1]} MB; {r['rss_queues_full_slope_mb_per_min']:+} MB/min |\n"
        + (
            "| the same for anonymous RSS (RSS without the shared libraries' file pages) | "
            f"{anon[0]} / {anon[1]} MB; {r['rss_anon_queues_full_slope_mb_per_min']:+} MB/min |\n"
            if (anon := r.get("rss_anon_queues_full_mb"))
            else ""
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="of ingest and dashboards")
    parser.add_argument("--hold", type=float, default=1.0, help="then minutes of dashboards only")
    parser.add_argument("--rate", type=float, default=200.0, help="events/s, all senders")
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--query-every", type=float, default=3.0, help="seconds between dashboards")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "soak")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument(
        "--durability", type=int, metavar="ROUNDS", help="instead: the cost of syncing the spool"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.durability:
        cost = durability(args.out, args.durability)
        (args.out / "durability.json").write_text(json.dumps(cost, indent=1))
        text = durability_markdown(
            cost, f".venv/bin/python -m bench.soak --durability {args.durability}"
        )
        print(text)
        if args.write_docs:
            replace_generated(DOC, BLOCKS[1], text)
        return
    result = run(args.minutes, args.hold, args.rate, args.senders, args.query_every, args.out)
    (args.out / "soak.json").write_text(json.dumps(result, indent=1))
    command = (
        f".venv/bin/python -m bench.soak --minutes {args.minutes:g} --hold {args.hold:g} "
        f"--rate {args.rate:g}"
    )
    section = markdown(result, command)
    print(section)
    if args.write_docs:
        replace_generated(DOC, BLOCKS[0], section)
    if result["lost"]:
        raise SystemExit(f"{result['lost']} accepted events were lost")


if __name__ == "__main__":
    main()
