"""How the figures grow with the data: `serve`'s memory while it answers the dashboard (figure 8,
both scales), and the opt-in scales beyond the default run (`bench/run --scale 100m`).

An opt-in scale measures, on one dataset of that many events: generation (in a fresh
interpreter, its own peak RSS), `serve`'s first dashboard on the new files (rollups written
during it; peak RSS with its anonymous and file-backed parts), the rollup time, the DuckDB
dashboard set and funnel (bench/queries, as figure 4 runs them; no PostgreSQL) and Parquet
bytes per event. It writes bench/out/results-<scale>.json, which a default run leaves alone;
bench/scale_report.py turns results-100m.json and results.json into the doc's tables.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import httpx

from beaconlake.adapters.file_keys import FileKeyStore
from beaconlake.adapters.parquet_sink import ROLLUP_DIR
from beaconlake.keys import create_key
from beaconlake.ports import QueryTooLarge
from beaconlake.wiring import local_engine
from bench import datagen, queries
from bench.procs import ROOT, VENV_BIN, PeakSampler, free_port, run_json, stop, wait_port

OUT = ROOT / "bench" / "out"
MEMORY_LIMIT = "256MB"  # the product's default
GENERATE_TIMEOUT_S = 3 * 3600
RUNS = 3  # medians of the dashboard set and funnel, after one untimed pass


def parse_scale(text: str) -> int:
    """'100m' → 100,000,000 events ('3m', '500k' too)."""
    units = {"k": 1_000, "m": 1_000_000}
    number, unit = text[:-1], text[-1:].lower()
    if unit not in units or not number.isdigit() or int(number) == 0:
        raise ValueError(f"scale {text!r}: a whole number of events with k or m, as 100m")
    return int(number) * units[unit]


def _key(data_dir: Path) -> str:
    token, _ = create_key(FileKeyStore(data_dir / "keys.json"), ("*",), "bench")
    return token


def serve_dashboard(ds: datagen.Dataset, limit: str) -> dict[str, Any]:
    """`beaconlake serve` over the dataset answering the dashboard's eight requests, first
    start on these files: the session rollup is written during the load. Its memory is
    sampled from its start (PeakSampler): peak RSS and its anonymous and file-backed parts."""
    token = _key(ds.root)
    shutil.rmtree(ds.root / ROLLUP_DIR, ignore_errors=True)
    port = free_port()
    env = {**os.environ, "BEACONLAKE_SITES": ds.site, "BEACONLAKE_DUCKDB_MEMORY_LIMIT": limit}
    proc = subprocess.Popen(
        [str(VENV_BIN / "beaconlake"), "serve", "--port", str(port), "--data-dir", str(ds.root)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with PeakSampler(proc.pid) as sampler:
            wait_port(port, proc)
            started = time.perf_counter()
            statuses = []
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=3600) as client:
                for path, query in queries.dashboard_requests(ds.site, ds.first, ds.last):
                    auth = {"authorization": f"Bearer {token}"}
                    statuses.append(client.get(f"{path}?{query}", headers=auth).status_code)
            seconds = time.perf_counter() - started
    finally:
        stop(proc)
    memory = sampler.result()
    return {
        "seconds": seconds,
        "statuses": statuses,
        "peak_rss_mb": memory["rss_mb"],
        "memory": memory,
        "memory_limit": limit,
    }


@dataclass(frozen=True)
class Budgeted:
    """A query whose stop by the engine's time budget (QueryTooLarge) counts as a time-out,
    which run_set records with the time it ran, instead of ending the run."""

    query: queries.Query

    @property
    def label(self) -> str:
        return self.query.label

    def run(self, engine: Any) -> Any:
        try:
            return self.query.run(engine)
        except QueryTooLarge as e:
            raise TimeoutError(str(e)) from e


def engine_figures(ds: datagen.Dataset, limit: str, runs: int = RUNS) -> dict[str, Any]:
    """Rollup time from scratch, then the dashboard set and funnel, as figure 4 times them."""
    qs: list[Any] = [
        Budgeted(q)
        for q in (
            *queries.dashboard(ds.site, ds.first, ds.last),
            queries.funnel(ds.site, ds.first, ds.last),
        )
    ]
    engine = local_engine(ds.root, memory_limit=limit, cached_answers=0)
    shutil.rmtree(ds.root / ROLLUP_DIR, ignore_errors=True)
    started = time.perf_counter()
    engine.session_rollup(ds.site, ds.first, ds.last)
    build_s = time.perf_counter() - started
    sessions = engine.query(
        "SELECT count(*) AS n FROM session_rollup WHERE site_id = ?", [ds.site]
    )[0]["n"]
    timings = queries.run_set(engine, qs, runs, warmup=True)
    per_query = {t.label: median(t.seconds) for t in timings}
    board = [t for t in timings if not t.label.startswith("funnel")]
    totals = [sum(t.seconds[min(i, len(t.seconds) - 1)] for t in board) for i in range(runs)]
    return {
        "rollup": {
            "build_s": build_s,
            "sessions": sessions,
            "bytes": sum(f.stat().st_size for f in (ds.root / ROLLUP_DIR).rglob("*.parquet")),
        },
        "duckdb": {
            "runs": runs,
            "per_query_s": per_query,
            "dashboard_s": median(totals),
            "dashboard_all_s": totals,
            "funnel_s": next(v for k, v in per_query.items() if k.startswith("funnel")),
            "timed_out": [t.label for t in timings if t.timed_out],
        },
    }


def results_path(label: str) -> Path:
    return OUT / f"results-{label.lower()}.json"


def run(label: str) -> dict[str, Any]:
    """Measure one opt-in scale and write results-<label>.json."""
    events = parse_scale(label)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "scale": label.lower(),
        "target": events,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "load_average_before": os.getloadavg()[0],
        "stages_s": {},
        "memory_limit": MEMORY_LIMIT,
    }

    def stage(name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        print(f"==> {label}: {name}", flush=True)
        value = fn(*args, **kwargs)
        results["stages_s"][name] = time.perf_counter() - t
        return value

    root = OUT / f"events-{label.upper()}"
    shutil.rmtree(root, ignore_errors=True)
    generated = stage(
        "generate",
        run_json,
        "bench.datagen",
        args=[str(root), str(events)],
        sample_memory=True,
        timeout=GENERATE_TIMEOUT_S,
    )
    memory = generated.pop("memory")
    ds = datagen.from_json(generated)
    results["dataset"] = {
        "rows": ds.rows,
        "files": ds.files,
        "parquet_bytes": ds.parquet_bytes,
        "bytes_per_event": ds.parquet_bytes / ds.rows,
        "generate_s": results["stages_s"]["generate"],
        "generate_peak_rss_mb": memory["rss_mb"],
    }
    results["serve_dashboard"] = stage("serve dashboard", serve_dashboard, ds, MEMORY_LIMIT)
    results.update(stage("rollup and queries", engine_figures, ds, MEMORY_LIMIT))
    results["load_average_after"] = os.getloadavg()[0]
    results["total_s"] = time.perf_counter() - started
    OUT.mkdir(parents=True, exist_ok=True)
    results_path(label).write_text(json.dumps(results, indent=1))
    return results
