"""The `clickhouse` table of docs/BENCHMARKS.md (figure 4, ClickHouse side by side), from
bench/clickhouse_figures.py's results (`results["clickhouse"]`, one entry per scale)."""

from __future__ import annotations

from typing import Any

from bench.clickhouse import HAND_TUNINGS
from bench.docblocks import table

MODES = ("without rollups", "with rollups")  # bench.clickhouse_figures.MODES


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def ratio(ch: float, duck: float, cut: bool = False) -> str:
    """chDB's time over DuckDB's: above 1, DuckDB is the faster (at least, if chDB was cut
    off)."""
    return f"{'≥ ' if cut else ''}{ch / duck:.2f} x"


def _cut(seconds: float, cut: bool) -> str:
    return f"> {_ms(seconds)} (cut off)" if cut else _ms(seconds)


def _was_cut(figures: dict[str, Any], key: str) -> bool:
    """Whether a statement counted in `key` (the funnel, or the dashboard set) was cut off."""
    return any(t.startswith("funnel") == (key == "funnel_s") for t in figures["timed_out"])


def _profile(p: dict[str, Any]) -> str:
    operators = ", ".join(f"{name} {pct:.0f} %" for name, pct in p["duckdb"][:4])
    return (
        f"{p['label']} ({_ms(abs(p['lead_s']))} {'ahead' if p['lead_s'] > 0 else 'behind'}): "
        f"{', '.join(p['pipeline'][:5])}; {operators}"
    )


def block(r: dict[str, Any]) -> str:
    """The block from a run's results (their JSON keys are strings)."""
    return markdown({int(n): c for n, c in r["clickhouse"].items()})


def markdown(by_scale: dict[int, dict[str, Any]]) -> str:
    """The `clickhouse` block: one row per scale and query (the dashboard set, the funnel),
    each engine with and without rollups, and the chDB / DuckDB ratio of each mode."""
    rows = []
    for n, c in sorted(by_scale.items()):
        for key, label in (("dashboard_s", "dashboard set"), ("funnel_s", "funnel (4 steps)")):
            cells = [f"{n // 1_000_000} M", label]
            for mode in MODES:
                duck, ch = c["duckdb"][mode], c["chdb"][mode]
                duck_cut, ch_cut = _was_cut(duck, key), _was_cut(ch, key)
                # a ratio over a cut-off DuckDB figure says nothing: shown as "—"
                rate = "—" if duck_cut else ratio(ch[key], duck[key], ch_cut)
                cells += [_cut(duck[key], duck_cut), _cut(ch[key], ch_cut), rate]
            rows.append(cells)
    header = ["events", "query"]
    for mode in MODES:
        header += [f"DuckDB, {mode}", f"chDB, {mode}", "chDB / DuckDB"]
    timings = table(header, rows)
    facts = []
    for n, c in sorted(by_scale.items()):
        scale = f"{n // 1_000_000} M"
        bad = {k: v for k, v in c["results_differ"].items() if v}
        facts.append(
            [
                scale,
                f"chDB {c['version']}: {c['load']['seconds']:.0f} s, "
                f"{c['load']['bytes_on_disk'] / 1e6:.0f} MB",
                f"{c['runs']} with rollups, {c['raw_runs']} without; after a warm-up pass",
                "agree (where chDB finished)"
                if not bad
                else "**differ**: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in bad.items()),
                _profile(c["chdb_profile"]),
            ]
        )
    about = table(
        [
            "events",
            "ClickHouse version: load time, MergeTree on disk (events, rollups)",
            "runs (medians)",
            "results vs DuckDB",
            "chDB's largest lead with rollups: its processors; DuckDB's operators",
        ],
        facts,
    )
    tunings = table(["statements", "rewrite", "why"], [list(t) for t in HAND_TUNINGS])
    return f"{timings}\n\n{about}\n\n{tunings}"
