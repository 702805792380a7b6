"""Figure 3: events/s through `beaconlake serve` on loopback, with wrk, against a bare uvicorn
app that only answers 202, in the same run; then every accepted event is looked for in the
Parquet files, and the server's peak RSS is read. A py-spy profile of `serve` under the same
load is taken afterwards (not during the measured run)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from beaconlake.local import demo
from bench.procs import (
    NO_RATE_LIMITS,
    VENV_BIN,
    free_port,
    peak_rss_mb,
    py_spy,
    stop,
    summarise_profile,
    thread_cpu_s,
    wait_port,
)

SITE = "bench.example"
CONNECTIONS = 32
WARMUP_S, MEASURE_S, PROFILE_S = 3, 10, 6


def write_requests(path: Path, count: int = 2000) -> None:
    """Demo beacons (its UA mix, bots included) as 'user-agent<TAB>body' lines."""
    lines = []
    for b in demo.generate(SITE, 1, 1000, 11, datetime(2026, 1, 1, 23, 59, tzinfo=UTC)):
        lines.append(f"{b.meta.user_agent}\t{json.dumps(b.data)}")
        if len(lines) == count:
            break
    path.write_text("\n".join(lines) + "\n")


def wrk(port: int, seconds: int, requests: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(Path(__file__).with_name("wrk_events.lua")),
            f"http://127.0.0.1:{port}/api/event",
            "--",
            str(requests),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["events_per_s"] = result["completed"] / result["duration_s"]
    return result


def serve_command(data_dir: Path) -> list[str]:
    return [
        str(VENV_BIN / "beaconlake"),
        "serve",
        "--host",
        "127.0.0.1",
        "--data-dir",
        str(data_dir),
    ]


SERVE_ENV = {"BEACONLAKE_SITES": SITE, "BEACONLAKE_BACKEND": "local", **NO_RATE_LIMITS}


def load(
    cmd: list[str], env: dict[str, str], requests: Path, profile: Path | None = None
) -> dict[str, Any]:
    """Start `cmd --port N`, warm it up with wrk, then measure: events/s, latency, and the
    server's CPU time per request (event loop and other threads); optionally a py-spy profile
    under the same load afterwards. Stopped gracefully at the end."""
    port = free_port()
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, proc)
        warmup = wrk(port, WARMUP_S, requests)
        before = thread_cpu_s(proc.pid)
        measured = wrk(port, MEASURE_S, requests)
        after = thread_cpu_s(proc.pid)
        measured["cpu_us_per_request"] = {
            k: 1e6 * (after[k] - before[k]) / max(1, measured["completed"]) for k in after
        }
        hotspots: list[tuple[str, float]] = []
        profiled: dict[str, Any] = {}
        if profile is not None:
            spy = py_spy(proc.pid, PROFILE_S, profile)
            profiled = wrk(port, PROFILE_S, requests)
            spy.wait(timeout=60)
            hotspots = summarise_profile(profile, top=14)
        rss = peak_rss_mb(proc.pid)
    finally:
        code = stop(proc)
    runs = [warmup, measured] + ([profiled] if profiled else [])
    return {
        "measured": measured,
        "runs": runs,
        "peak_rss_mb": rss,
        "exit_code": code,
        "profile": hotspots,
    }


def _parquet_rows(data_dir: Path) -> int:
    return sum(pq.read_metadata(p).num_rows for p in (data_dir / "events").rglob("*.parquet"))


def run(out: Path) -> dict[str, Any]:
    requests = out / "wrk_requests.txt"
    write_requests(requests)
    data_dir = out / "http-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    python = str(VENV_BIN / "python")
    bare = load(
        [
            python,
            "-m",
            "uvicorn",
            "bench.bare_app:app",
            "--host",
            "127.0.0.1",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        {},
        requests,
        None,
    )
    serve = load(serve_command(data_dir), SERVE_ENV, requests, out / "serve_profile.txt")
    accepted = sum(r["accepted"] for r in serve["runs"])
    sent = sum(r["sent"] for r in serve["runs"])
    rows = _parquet_rows(data_dir)
    return {
        "connections": CONNECTIONS,
        "seconds": MEASURE_S,
        "bare": bare,
        "serve": serve,
        "ratio": serve["measured"]["events_per_s"] / bare["measured"]["events_per_s"],
        "accepted": accepted,
        "sent": sent,
        "rows": rows,
        "lost": max(0, accepted - rows),
    }


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Figure 3 alone: serve vs bare uvicorn (wrk).")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("out") / "http")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    result = run(args.out)
    for name in ("bare", "serve"):
        m = result[name]["measured"]
        cpu = m["cpu_us_per_request"]
        print(
            f"{name}: {m['events_per_s']:,.0f} events/s p50 {m['p50_ms']} ms p99 {m['p99_ms']} ms"
            f"; CPU per request {cpu['main']:.0f} µs event loop + {cpu['other']:.0f} µs other"
        )
    print(f"ratio {result['ratio']:.0%}; accepted {result['accepted']}, rows {result['rows']}")
    print(f"lost {result['lost']}; serve profile:")
    for frame, share in result["serve"]["profile"]:
        print(f"  {share:5.1f} %  {frame}")
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
