"""`bench/run`: every figure of docs/BENCHMARKS.md's sections 1-8, then their tables
(bench/report.py), the package sizes and the resource checks.

Stages run one after another (the machine has two cores; nothing is measured while another
stage runs). Heavy children run in fresh interpreters so their peak RSS is their own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import duckdb
import pyarrow

from beaconlake.adapters.file_keys import FileKeyStore
from beaconlake.adapters.parquet_sink import ROLLUP_DIR
from beaconlake.keys import create_key
from beaconlake.wiring import local_engine
from bench import (
    clickhouse_figures,
    coldstart,
    datagen,
    fake_aws,
    http_ingest,
    postgres,
    queries,
    report,
    scale,
    scale_report,
    storage,
    tracker_peers,
)
from bench.procs import (
    NO_RATE_LIMITS,
    ROOT,
    free_port,
    run_json,
)

OUT = ROOT / "bench" / "out"
RESULTS = OUT / "results.json"
SCALES = (1_000_000, 10_000_000)
DUCKDB_RUNS = {1_000_000: 5, 10_000_000: 3}
PG_RUNS = {1_000_000: 2, 10_000_000: 1}
# A statement PostgreSQL has not answered by then is cut off and shown as "> N s". Its funnel
# does not end in 300 s even at 1 M events; its slowest dashboard statement takes about 3 s at
# 1 M and 38 s at 10 M: these keep every dashboard figure exact and the funnel's a lower bound
PG_STATEMENT_TIMEOUT_S = {1_000_000: 20, 10_000_000: 45}
# ClickHouse side by side: a statement of chDB, or of DuckDB without rollups, is cut off after
# this (docs/BENCHMARKS.md, section 4)
CHDB_TIMEOUT_S = {1_000_000: 60, 10_000_000: 30}
# runs of the dashboard and funnel without rollups, either engine (each statement takes seconds)
CHDB_RAW_RUNS = {1_000_000: 3, 10_000_000: 1}
MEMORY_LIMITS = ("256MB", "512MB", "1GB")  # the default first
COLDSTART_ROUNDS = 12


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "postgres": postgres.server_version(),
        "wrk": (wrk.stdout or wrk.stderr).split()[1],
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _key(data_dir: Path) -> str:
    token, _ = create_key(FileKeyStore(data_dir / "keys.json"), ("*",), "bench")
    return token


def cold_start() -> dict[str, Any]:
    """The handlers on the AWS back end, their AWS calls answered by `bench.fake_aws`."""
    data_dir = OUT / "coldstart-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    token = _key(data_dir)
    key_id, row = next(iter(json.loads((data_dir / "keys.json").read_text()).items()))
    key_item = {
        "key_id": {"S": key_id},
        "hash": {"S": row["hash"]},
        "sites": {"L": [{"S": s} for s in row["sites"]]},
        "label": {"S": row["label"]},
        "created": {"S": row["created"]},
    }
    events = coldstart.write_events(OUT, datagen.SITE, token)
    with fake_aws.serve(key_item) as endpoint:
        env = {
            "AWS_ENDPOINT_URL": endpoint,
            "BEACONLAKE_BACKEND": "aws",
            "BEACONLAKE_SITES": datagen.SITE,
            "BEACONLAKE_FIREHOSE_STREAM": "beaconlake-events",
            "BEACONLAKE_KEYS_TABLE": "beaconlake-keys",
            "BEACONLAKE_ATHENA_WORKGROUP": "beaconlake",
            "BEACONLAKE_ATHENA_DATABASE": "beaconlake",
            **NO_RATE_LIMITS,
        }
        return coldstart.run(events, env, COLDSTART_ROUNDS)


def stats_handler(ds: datagen.Dataset) -> dict[str, Any]:
    """The stats Lambda handler over the dataset: the smallest DuckDB limit that answers,
    each time writing the session rollup as a first load on new files does."""
    token = _key(ds.root)
    tried = []
    for limit in MEMORY_LIMITS:
        shutil.rmtree(ds.root / ROLLUP_DIR, ignore_errors=True)
        env = {
            "BEACONLAKE_DATA_DIR": str(ds.root),
            "BEACONLAKE_SITES": ds.site,
            "BEACONLAKE_DUCKDB_MEMORY_LIMIT": limit,
        }
        args = [ds.site, str(ds.first), str(ds.last), token]
        result = run_json("bench.stats_memory", env, args=args, sample_memory=True)
        result["memory_limit"] = limit
        tried.append(result)
        if all(s == 200 for s in result["statuses"]):
            break
    return {"tried": tried, "answered": tried[-1]}


def _medians(timings: list[queries.Timing]) -> dict[str, Any]:
    per_query = {t.label: median(t.seconds) for t in timings}
    timed_out = [t.label for t in timings if t.timed_out]
    dashboard = [t for t in timings if not t.label.startswith("funnel")]
    runs = len(timings[0].seconds)
    totals = [sum(t.seconds[min(i, len(t.seconds) - 1)] for t in dashboard) for i in range(runs)]
    return {
        "runs": runs,
        "per_query_s": per_query,
        "dashboard_s": median(totals),
        "dashboard_all_s": totals,
        "funnel_s": next(v for k, v in per_query.items() if k.startswith("funnel")),
        "timed_out": timed_out,
    }


def query_scale(ds: datagen.Dataset, pg: postgres.Server, limit: str) -> dict[str, Any]:
    qs = [
        *queries.dashboard(ds.site, ds.first, ds.last),
        queries.funnel(ds.site, ds.first, ds.last),
    ]
    engine = local_engine(ds.root, memory_limit=limit, cached_answers=0)  # time the engine
    shutil.rmtree(ds.root / ROLLUP_DIR, ignore_errors=True)  # earlier stages rolled up
    started = time.perf_counter()
    engine.session_rollup(ds.site, ds.first, ds.last)
    rollup = {
        "build_s": time.perf_counter() - started,
        "bytes": sum(f.stat().st_size for f in (ds.root / ROLLUP_DIR).rglob("*.parquet")),
        "sessions": engine.query(
            "SELECT count(*) AS n FROM session_rollup WHERE site_id = ?", [ds.site]
        )[0]["n"],
    }
    warmup = True  # one untimed pass at each scale: a second of DuckDB time, even at 10 M
    duck = queries.run_set(engine, qs, DUCKDB_RUNS[ds.target], warmup=warmup)
    del engine
    slowest = max(duck, key=lambda t: median(t.seconds))
    profile = queries.operator_profile(
        ds.root, limit, next(q for q in qs if q.label == slowest.label)
    )
    load = postgres.load(pg, ds.root, OUT)
    pg_engine = postgres.PostgresEngine(pg, PG_STATEMENT_TIMEOUT_S[ds.target])
    try:
        pg_timings = queries.run_set(pg_engine, qs, PG_RUNS[ds.target], warmup=False)
    finally:
        pg_engine.close()
    differ = [
        d.label
        for d, p in zip(duck, pg_timings, strict=True)
        if not p.timed_out and d.result != p.result
    ]
    return {
        "rows": ds.rows,
        "rollup": rollup,
        "duckdb": _medians(duck),
        "duckdb_warmup": warmup,
        "postgres": _medians(pg_timings),
        "pg_statement_timeout_s": PG_STATEMENT_TIMEOUT_S[ds.target],
        "pg_load": load.__dict__,
        "results_differ": differ,
        "duckdb_profile": profile,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument(
        "--scale",
        type=scale.parse_scale,
        metavar="EVENTS",
        help="instead of the default run: the opt-in figures at this many events (100m: "
        "docs/BENCHMARKS.md's 100 M section; smaller ones, as 3m, to try it)",
    )
    args = parser.parse_args(argv)
    if args.scale:
        opt_in(args.scale)
        return
    started = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": machine(), "stages_s": {}}

    def stage(name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        print(f"==> {name}", flush=True)
        value = fn(*args, **kwargs)
        results["stages_s"][name] = time.perf_counter() - t
        return value

    results["collector"] = stage(
        "1 collector per beacon", run_json, "bench.collector", sample_memory=True
    )
    results["coldstart"] = stage("2 cold start", cold_start)
    results["http"] = stage("3 HTTP ingest", http_ingest.run, OUT)
    datasets = {}
    for n in SCALES:
        root = OUT / f"events-{n // 1_000_000}M"
        shutil.rmtree(root, ignore_errors=True)
        datasets[n] = stage(f"4 generate {n:,} events", datagen.write_dataset, root, n)
    big = datasets[SCALES[-1]]
    results["datasets"] = {
        n: {"rows": ds.rows, "files": ds.files, "parquet_bytes": ds.parquet_bytes}
        for n, ds in datasets.items()
    }
    results["stats_handler"] = stage("8 stats handler memory", stats_handler, big)
    limit = results["stats_handler"]["answered"]["memory_limit"]
    results["serve_dashboard"] = stage(
        "8 serve memory (dashboard)", scale.serve_dashboard, big, limit
    )
    results["queries"] = {}
    with postgres.server(OUT / "pg", free_port()) as pg:
        for n, ds in datasets.items():
            results["queries"][n] = stage(f"4 queries at {n:,}", query_scale, ds, pg, limit)
    results["duckdb_memory_limit"] = limit
    results["clickhouse"] = {
        n: stage(f"4 ClickHouse (chDB) at {n:,}", chdb_scale, ds, limit, results["queries"][n])
        for n, ds in datasets.items()
    }
    results["storage"] = stage("5 storage", storage_figures, big, results["queries"][SCALES[-1]])
    results["athena"] = stage("6 Athena scans", athena_figures, big)
    results["tracker_peers"] = stage("tracker bytes vs peers", tracker_peers.run, OUT)
    results["total_s"] = time.perf_counter() - started
    (OUT / "results.json").write_text(json.dumps(results, indent=1, default=str))
    report.write(results)
    tracker_peers.write(results)
    t = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "bench" / "package_sizes.py")], cwd=ROOT, check=True)
    # a missed bound is marked in the table; the run goes on
    checks = [sys.executable, "-m", "bench.resource_checks", "--write-docs"]
    subprocess.run(checks, cwd=ROOT, check=False)
    results["stages_s"]["package sizes, resource checks"] = time.perf_counter() - t
    results["wall_s"] = time.perf_counter() - started
    (OUT / "results.json").write_text(json.dumps(results, indent=1, default=str))
    report.write(results)  # the run block again, now with the wall time
    print(
        f"done in {results['wall_s']:.0f} s: docs/BENCHMARKS.md's tables "
        "(docs/COST.md's: python -m bench.cost_tables)",
        flush=True,
    )


def opt_in(events: int) -> None:
    """`bench/run --scale 100m`: results-100m.json, then the doc's 100 M tables (from it and
    the default run's results.json); other scales write their results file only."""
    label = f"{events // 1_000_000}m" if events % 1_000_000 == 0 else f"{events // 1000}k"
    r = scale.run(label)
    if RESULTS.exists() and scale.results_path(label) == scale_report.RESULTS_100M:
        scale_report.write(json.loads(RESULTS.read_text()), report.DOC)
    print(f"done in {r['total_s']:.0f} s: {scale.results_path(label)}", flush=True)


def chdb_scale(ds: datagen.Dataset, limit: str, duck: dict[str, Any]) -> dict[str, Any]:
    """chDB and DuckDB, with and without rollups (bench/clickhouse_figures.py): after
    query_scale, whose rollup files chDB loads and whose DuckDB figures it reuses."""
    runs, raw_runs = DUCKDB_RUNS[ds.target], CHDB_RAW_RUNS[ds.target]
    timeout_s = CHDB_TIMEOUT_S[ds.target]
    return clickhouse_figures.run(ds, limit, runs, raw_runs, timeout_s, OUT, duck["duckdb"])


def storage_figures(ds: datagen.Dataset, big_queries: dict[str, Any]) -> dict[str, Any]:
    load = big_queries["pg_load"]
    return {
        "rows": ds.rows,
        "files": ds.files,
        "parquet_bytes_per_event": ds.parquet_bytes / ds.rows,
        "json": storage.json_lines(ds.root, ds.site),
        "pg_table_bytes_per_event": load["table_bytes"] / load["rows"],
        "pg_index_bytes_per_event": load["index_bytes"] / load["rows"],
    }


def athena_figures(ds: datagen.Dataset) -> list[dict[str, Any]]:
    statements = [(q.label, *q.statement()) for q in queries.dashboard(ds.site, ds.first, ds.last)]
    return storage.athena_scans(ds.root, ds.site, ds.first, ds.last, statements)


if __name__ == "__main__":
    main()
