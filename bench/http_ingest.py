"""Figure 3: events/s through `beaconlake serve` on loopback, with wrk, against a bare uvicorn
app that only answers 202, both running at once and measured in turns; then every accepted
event is looked for in the Parquet files, and the servers' peak RSS is read. A py-spy profile
of `serve` under the same load is taken afterwards (not during the measured runs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import pyarrow.parquet as pq

from beaconlake.local import demo
from bench.docblocks import table
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
ROUNDS = 3


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


class Server:
    """`cmd --port N` started with `env`, listening once constructed; `close` stops it
    gracefully and keeps its exit code and peak RSS."""

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [*cmd, "--port", str(self.port)],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(self.port, self.proc)
        except BaseException:
            stop(self.proc)
            raise
        self.peak_rss_mb = 0.0
        self.exit_code: int | None = None

    def measure(self, requests: Path, seconds: int = MEASURE_S) -> dict[str, Any]:
        """wrk for `seconds`: events/s, latency, and the server's CPU time per request (event
        loop and other threads)."""
        before = thread_cpu_s(self.proc.pid)
        measured = wrk(self.port, seconds, requests)
        after = thread_cpu_s(self.proc.pid)
        measured["cpu_us_per_request"] = {
            k: 1e6 * (after[k] - before[k]) / max(1, measured["completed"]) for k in after
        }
        return measured

    def settle(self, idle_cpu_s: float = 0.02, every_s: float = 0.5, limit_s: float = 20) -> None:
        """Wait until the server's background work (Parquet writes, compaction) is done, so
        that it does not take CPU from another server being measured."""
        deadline = time.monotonic() + limit_s
        used = sum(thread_cpu_s(self.proc.pid).values())
        while time.monotonic() < deadline:
            time.sleep(every_s)
            now = sum(thread_cpu_s(self.proc.pid).values())
            if now - used < idle_cpu_s:
                return
            used = now

    def close(self) -> None:
        if self.exit_code is None:
            self.peak_rss_mb = peak_rss_mb(self.proc.pid)
            self.exit_code = stop(self.proc)


def load(cmd: list[str], env: dict[str, str], requests: Path) -> dict[str, Any]:
    """Start `cmd --port N`, warm it up with wrk, then measure; stopped gracefully."""
    server = Server(cmd, env)
    try:
        runs = [wrk(server.port, WARMUP_S, requests), server.measure(requests)]
    finally:
        server.close()
    return {
        "measured": runs[1],
        "runs": runs,
        "peak_rss_mb": server.peak_rss_mb,
        "exit_code": server.exit_code,
    }


def _profile(
    server: Server, requests: Path, raw_out: Path
) -> tuple[list[tuple[str, float]], dict[str, Any]]:
    """py-spy on the server under the same load: its hotspots, and the wrk run that made it."""
    spy = py_spy(server.proc.pid, PROFILE_S, raw_out)
    run = wrk(server.port, PROFILE_S, requests)
    spy.wait(timeout=60)
    return summarise_profile(raw_out, top=14), run


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over measured runs (CPU per request by thread kind)."""
    figures = ("events_per_s", "p50_ms", "p99_ms")
    result: dict[str, Any] = {k: median(r[k] for r in runs) for k in figures}
    result["cpu_us_per_request"] = {
        k: median(r["cpu_us_per_request"][k] for r in runs) for k in ("main", "other")
    }
    return result


def _parquet_rows(data_dir: Path) -> int:
    return sum(pq.read_metadata(p).num_rows for p in (data_dir / "events").rglob("*.parquet"))


BARE_COMMAND = [
    str(VENV_BIN / "python"), "-m", "uvicorn", "bench.bare_app:app", "--host", "127.0.0.1",
    "--log-level", "warning", "--no-access-log",
]  # fmt: skip


def side_by_side(
    cmd: list[str],
    env: dict[str, str],
    requests: Path,
    rounds: int = ROUNDS,
    profile: Path | None = None,
) -> dict[str, Any]:
    """The bare app and `cmd` up at once, warmed up, then measured in turns, `rounds` times
    each, each turn once the other server's background work has settled; the ratio is the
    median of each round's `cmd` against bare. Optionally a profile of `cmd` afterwards.
    Both are stopped gracefully. `cmd_runs`: every wrk run at `cmd`, warm-up included."""
    bare = Server(BARE_COMMAND, {})
    try:
        other = Server(cmd, env)
    except BaseException:
        bare.close()
        raise
    measured: dict[str, list[dict[str, Any]]] = {"bare": [], "cmd": []}
    try:
        cmd_runs = [wrk(other.port, WARMUP_S, requests)]
        wrk(bare.port, WARMUP_S, requests)
        for _ in range(rounds):
            other.settle()
            measured["bare"].append(bare.measure(requests))
            bare.settle()
            measured["cmd"].append(other.measure(requests))
        cmd_runs += measured["cmd"]
        hotspots: list[tuple[str, float]] = []
        if profile is not None:
            other.settle()
            hotspots, profiled = _profile(other, requests, profile)
            cmd_runs.append(profiled)
    finally:
        bare.close()
        other.close()
    paired = [
        c["events_per_s"] / b["events_per_s"]
        for b, c in zip(measured["bare"], measured["cmd"], strict=True)
    ]
    result: dict[str, Any] = {
        name: {
            "measured": medians(runs),
            "rounds": runs,
            "peak_rss_mb": server.peak_rss_mb,
            "exit_code": server.exit_code,
        }
        for (name, runs), server in zip(measured.items(), (bare, other), strict=True)
    }
    result["cmd"]["profile"] = hotspots
    return {**result, "cmd_runs": cmd_runs, "ratios": paired, "ratio": median(paired)}


def run(out: Path, rounds: int = ROUNDS) -> dict[str, Any]:
    """`side_by_side` with `serve`, then every event it accepted looked for in Parquet."""
    requests = out / "wrk_requests.txt"
    write_requests(requests)
    data_dir = out / "http-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    compared = side_by_side(
        serve_command(data_dir), SERVE_ENV, requests, rounds, out / "serve_profile.txt"
    )
    serve_runs = compared["cmd_runs"]
    accepted = sum(r["accepted"] for r in serve_runs)
    rows = _parquet_rows(data_dir)
    return {
        "bare": compared["bare"],
        "serve": compared["cmd"],
        "connections": CONNECTIONS,
        "seconds": MEASURE_S,
        "rounds": rounds,
        "ratios": compared["ratios"],
        "ratio": compared["ratio"],
        "accepted": accepted,
        "sent": sum(r["sent"] for r in serve_runs),
        "rows": rows,
        "lost": max(0, accepted - rows),
    }


def per_core(server: dict[str, Any]) -> dict[str, float]:
    """A server's events/s per core: one second of CPU over its CPU per request (all threads),
    and the cores it kept busy at the rate wrk measured."""
    m = server["measured"]
    cpu_us = m["cpu_us_per_request"]["main"] + m["cpu_us_per_request"]["other"]
    return {
        "events_per_s": m["events_per_s"],
        "cpu_us": cpu_us,
        "cores_busy": m["events_per_s"] * cpu_us / 1e6,
        "per_core": 1e6 / cpu_us,
    }


def peers_markdown(h: dict[str, Any], published: list[dict[str, Any]]) -> str:
    """The `ingest-peers` block: our two servers' events/s per core, measured in this run,
    beside the peers' published figures (bench/peers.json's `ingest`)."""
    rows = []
    for key, label in (("serve", "Beaconlake `serve`"), ("bare", "bare uvicorn app (202 only)")):
        c = per_core(h[key])
        rows.append(
            [
                label,
                f"**{c['per_core']:,.0f}**",
                f"measured here: {c['events_per_s']:,.0f} events/s over loopback keeping "
                f"{c['cores_busy']:.2f} cores busy ({c['cpu_us']:.0f} µs of CPU per request)",
                "figure 3, this run",
            ]
        )
    for p in published:
        low, high = p["per_core_low"], p["per_core_high"]
        rate = f"{low:,}" if low == high else f"{low:,} to {high:,}"
        rows.append(
            [
                p["name"],
                f"**{rate}**",
                f"published figure, not measured here: {p['figure']}, "
                f"divided by {p['cores']} core{'s' if p['cores'] > 1 else ''}",
                p["source"],
            ]
        )
    return table(["ingest", "events/s per core", "how", "source"], rows)


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
    ratios = ", ".join(f"{r:.0%}" for r in result["ratios"])
    print(
        f"ratio {result['ratio']:.0%} (rounds: {ratios}); accepted {result['accepted']}, rows {result['rows']}"
    )
    print(f"lost {result['lost']}; serve profile:")
    for frame, share in result["serve"]["profile"]:
        print(f"  {share:5.1f} %  {frame}")
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
