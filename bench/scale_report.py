"""docs/BENCHMARKS.md's 100 M section: the opt-in run's figures (`scale-100m`, from
bench/out/results-100m.json) and how each figure grows from 1 M to 10 M to 100 M events
(`growth`, with the default run's bench/out/results.json for 1 M and 10 M).

bench/report.py writes these blocks after its own when results-100m.json exists; the verdicts
(near-linear, flat, worse) and their reasons are hand-written prose beside the tables.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.docblocks import replace_generated, table

BLOCKS = ("scale-100m", "growth")
RESULTS_100M = Path(__file__).resolve().parent / "out" / "results-100m.json"
TARGETS = {"dashboard_s": 2.0, "funnel_s": 5.0, "anon_mb": 400.0}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def _mb(value: float) -> str:
    return f"{value:,.0f} MB"


def _funnel(d: dict[str, Any]) -> str:
    """Its median, or the time it ran before the engine's time budget stopped it."""
    stopped = any(label.startswith("funnel") for label in d.get("timed_out", []))
    return f"> {_ms(d['funnel_s'])} (stopped by the time budget)" if stopped else _ms(d["funnel_s"])


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def _millions(events: int) -> str:
    return f"{events / 1e6:g} M"


def scale_block(big: dict[str, Any]) -> str:
    """The opt-in run: what it measured, then its targets."""
    ds, sd, d = big["dataset"], big["serve_dashboard"], big["duckdb"]
    mem = sd["memory"]
    failed = sum(s != 200 for s in sd["statuses"])
    facts = table(
        ["figure", "value"],
        [
            ["date", big["date"]],
            [
                "wall time of `bench/run --scale " + big["scale"] + "`",
                f"{big['total_s'] / 60:.1f} min",
            ],
            [
                "load average (1 min) before / after",
                f"{big['load_average_before']:.1f} / {big['load_average_after']:.1f}"
                f" on {big['cores']} cores",
            ],
            ["events", f"{ds['rows']:,} in {ds['files']} files"],
            [
                "generated in",
                f"{ds['generate_s']:.0f} s (generator's peak RSS {_mb(ds['generate_peak_rss_mb'])})",
            ],
            [
                "rollups written in",
                f"{big['rollup']['build_s']:.1f} s ({big['rollup']['sessions']:,} sessions, "
                f"{big['rollup']['bytes'] / 2**20:.1f} MB)",
            ],
            [
                "Parquet, ZSTD",
                f"{ds['bytes_per_event']:.1f} B/event ({ds['parquet_bytes'] / 2**30:.2f} GiB)",
            ],
            [
                "`serve`, first dashboard (rollups written during it)",
                f"{_ms(sd['seconds'])}"
                + (f", {failed} of {len(sd['statuses'])} failed" if failed else ""),
            ],
            [
                "`serve` peak RSS: anonymous / file-backed / shared",
                f"{_mb(mem['anon_mb'])} / {_mb(mem['file_mb'])} / {_mb(mem['shmem_mb'])} "
                f"(all: {_mb(sd['peak_rss_mb'])})",
            ],
            [
                "DuckDB memory limit, runs (medians)",
                f"{big['memory_limit']}, {d['runs']} after a warm-up pass",
            ],
        ],
    )
    targets = table(
        ["figure", "target", "measured", ""],
        [
            [
                "dashboard set",
                "≤ 2 s",
                _ms(d["dashboard_s"]),
                _verdict(d["dashboard_s"] <= TARGETS["dashboard_s"]),
            ],
            [
                "funnel (4 steps)",
                "≤ 5 s",
                _funnel(d),
                _verdict(d["funnel_s"] <= TARGETS["funnel_s"] and not d.get("timed_out")),
            ],
            [
                "`serve` peak RSS, anonymous part",
                "≤ 400 MB",
                _mb(mem["anon_mb"]),
                _verdict(mem["anon_mb"] <= TARGETS["anon_mb"]),
            ],
        ],
    )
    return f"{facts}\n\n{targets}"


def _at(r: dict[str, Any], n: int) -> dict[str, Any]:
    """The default run's figures at n events, in the opt-in run's shape (None: not measured)."""
    q = {int(k): v for k, v in r["queries"].items()}.get(n)
    datasets = {int(k): v for k, v in r.get("datasets", {}).items()}
    out: dict[str, Any] = {"generate_s": r.get("stages_s", {}).get(f"4 generate {n:,} events")}
    if q:
        out |= {
            "rollup_s": q["rollup"]["build_s"],
            "rollup_mb": q["rollup"]["bytes"] / 2**20,
            "dashboard_s": q["duckdb"]["dashboard_s"],
            "funnel_s": q["duckdb"]["funnel_s"],
        }
    if n in datasets:
        out["bytes_per_event"] = datasets[n]["parquet_bytes"] / datasets[n]["rows"]
    largest = n == max(int(k) for k in r["queries"])  # figures 5 and 8 are at the largest
    if n not in datasets and largest:
        out["bytes_per_event"] = r["storage"]["parquet_bytes_per_event"]
    sd = r["serve_dashboard"]
    if largest:
        out |= {"serve_s": sd["seconds"], "serve_mb": sd["peak_rss_mb"]}
        if "memory" in sd:
            out["serve_anon_mb"] = sd["memory"]["anon_mb"]
    return out


def _from_opt_in(big: dict[str, Any]) -> dict[str, Any]:
    sd = big["serve_dashboard"]
    return {
        "generate_s": big["dataset"]["generate_s"],
        "rollup_s": big["rollup"]["build_s"],
        "rollup_mb": big["rollup"]["bytes"] / 2**20,
        "dashboard_s": big["duckdb"]["dashboard_s"],
        "funnel_s": big["duckdb"]["funnel_s"],
        "bytes_per_event": big["dataset"]["bytes_per_event"],
        "serve_s": sd["seconds"],
        "serve_mb": sd["peak_rss_mb"],
        "serve_anon_mb": sd["memory"]["anon_mb"],
    }


ROWS: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("generation", "generate_s", lambda v: f"{v:,.1f} s"),
    ("rollups written", "rollup_s", lambda v: f"{v:,.1f} s"),
    ("rollup files", "rollup_mb", lambda v: f"{v:,.1f} MB"),
    ("dashboard set", "dashboard_s", _ms),
    ("funnel (4 steps)", "funnel_s", _ms),
    ("Parquet bytes per event", "bytes_per_event", lambda v: f"{v:.1f} B"),
    ("`serve`, first dashboard (rollups written)", "serve_s", _ms),
    ("`serve` peak RSS", "serve_mb", _mb),
    ("`serve` peak RSS, anonymous part", "serve_anon_mb", _mb),
)


def growth(figures: list[dict[str, Any]]) -> list[list[str]]:
    """One row per figure: its value at each scale and the factor per 10x between neighbours
    ("—" where a scale did not measure it)."""
    rows = []
    for label, key, fmt in ROWS:
        values = [f.get(key) for f in figures]
        cells = ["—" if v is None else fmt(v) for v in values]
        factors = [
            "—" if a is None or b is None or not a else f"x {b / a:.1f}"
            for a, b in itertools.pairwise(values)
        ]
        rows.append([label, *cells, *factors])
    return rows


def growth_block(r: dict[str, Any], big: dict[str, Any]) -> str:
    scales = (1_000_000, 10_000_000, big["target"])
    figures = [_at(r, scales[0]), _at(r, scales[1]), _from_opt_in(big)]
    names = [_millions(n) for n in scales]
    header = ["figure", *names, *(f"{a} → {b}" for a, b in itertools.pairwise(names))]
    return table(header, growth(figures))


def tables(r: dict[str, Any], big: dict[str, Any]) -> dict[str, str]:
    return {"scale-100m": scale_block(big), "growth": growth_block(r, big)}


def write(r: dict[str, Any], doc: Path, results_100m: Path = RESULTS_100M) -> None:
    """The blocks from results-100m.json, if an opt-in run wrote it; else left as they are."""
    if results_100m.exists():
        for name, markdown in tables(r, json.loads(results_100m.read_text())).items():
            replace_generated(doc, name, markdown)
