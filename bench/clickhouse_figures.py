"""Figure 4's ClickHouse side by side: chDB and DuckDB on the same rows, each with and
without Beaconlake's rollups, and the `clickhouse` table of docs/BENCHMARKS.md.

DuckDB with rollups is figure 4's own measurement (bench.main.query_scale, same run); this
stage adds DuckDB without them (the local engine whose session_rollup answers None, so the
stats SQL derives every session from the events), and chDB both ways (bench.clickhouse).
Its table: bench/clickhouse_report.py.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from statistics import median
from typing import Any

import duckdb

from beaconlake.adapters.duckdb_engine import events_view_sql
from beaconlake.adapters.parquet_sink import ROLLUP_DIR
from beaconlake.ports import QueryTooLarge, Rollup
from beaconlake.sqldialect import athena_to_duckdb
from beaconlake.stats.sql import build
from beaconlake.wiring import local_engine
from bench import clickhouse, datagen, queries

MODES = ("without rollups", "with rollups")  # the keys of each engine's figures


class WithoutRollups:
    """An engine whose session_rollup answers None: the stats SQL reads only the events. A
    statement past the engine's time budget is cut off (TimeoutError, as bench.queries
    expects)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def session_rollup(self, site_id: str, first: Any, last: Any) -> None:
        return None

    def query(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        try:
            return list(self._engine.query(sql, params))
        except QueryTooLarge as exc:
            raise TimeoutError(str(exc)) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def summary(timings: list[queries.Timing]) -> dict[str, Any]:
    """Per-query medians; the dashboard set's run totals (every query but the funnel; a query
    cut off counts with the time it ran, in every run) and their median; the funnel's."""
    runs = max(len(t.seconds) for t in timings)
    dashboard = [t for t in timings if not t.label.startswith("funnel")]
    totals = [sum(t.seconds[min(i, len(t.seconds) - 1)] for t in dashboard) for i in range(runs)]
    per_query = {t.label: median(t.seconds) for t in timings}
    return {
        "runs": runs,
        "per_query_s": per_query,
        "dashboard_s": median(totals),
        "funnel_s": next((v for k, v in per_query.items() if k.startswith("funnel")), None),
        "timed_out": [t.label for t in timings if t.timed_out],
    }


def timed_set(
    engine: Any, qs: list[queries.Query], runs: int, timeout_s: float
) -> list[queries.Timing]:
    """bench.queries.run_set after a warm-up pass; a statement the engine cuts off in the
    warm-up counts once, with `timeout_s`, and is not run again."""
    cut = set()
    for q in qs:
        try:
            q.run(engine)
        except TimeoutError:
            cut.add(q.label)
    timed = iter(queries.run_set(engine, [q for q in qs if q.label not in cut], runs, False))
    return [
        queries.Timing(q.label, [timeout_s], None, True) if q.label in cut else next(timed)
        for q in qs
    ]


def differ(reference: list[queries.Timing], other: list[queries.Timing]) -> list[str]:
    """The labels whose results differ, of the queries both answered (by label)."""
    answered = {o.label: o.result for o in other if not o.timed_out}
    return [
        r.label
        for r in reference
        if not r.timed_out and r.label in answered and r.result != answered[r.label]
    ]


def pipeline(engine: clickhouse.ClickHouseEngine, sql: str, params: Sequence[Any]) -> list[str]:
    """ClickHouse's processors for one statement (EXPLAIN PIPELINE), the most frequent first."""
    rows = engine.execute(f"EXPLAIN PIPELINE {clickhouse.bind(sql, params)}")
    names: dict[str, int] = {}
    for row in rows:
        line = str(next(iter(row.values()))).strip()
        name = line.split(" ", 1)[0].split("(", 1)[0]  # a processor; "(Step)" lines skipped
        if name and name[0].isupper():
            names[name] = names.get(name, 0) + 1
    return [f"{n} x{c}" if c > 1 else n for n, c in sorted(names.items(), key=lambda x: -x[1])]


def duckdb_profile(
    data_dir: Path, limit: str, sql: str, params: Sequence[Any]
) -> list[tuple[str, float]]:
    """DuckDB's profile of one statement over the events and the rollup files (as
    bench.queries.operator_profile, which reads the events only): operator time by type."""
    con = duckdb.connect(config={"memory_limit": limit, "threads": clickhouse.THREADS})
    con.execute(events_view_sql(data_dir / "events"))
    for table in clickhouse.ROLLUP_TABLES:
        pattern = data_dir / ROLLUP_DIR / "site_id=*" / "dt=*" / f"{table}.parquet"
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{pattern}', "
            "hive_partitioning = true, hive_types = {'site_id': VARCHAR, 'dt': VARCHAR})"
        )
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        con.execute("PRAGMA enable_profiling='json'")
        con.execute(f"PRAGMA profiling_output='{out.name}'")
        con.execute(athena_to_duckdb(sql), list(params)).fetchall()
        con.close()
        profile = json.loads(Path(out.name).read_text())
    return queries.operator_shares(profile)


def run(
    ds: datagen.Dataset,
    limit: str,
    runs: int,
    raw_runs: int,
    timeout_s: int,
    scratch: Path,
    duckdb_rolled: dict[str, Any],
) -> dict[str, Any]:
    """One scale: DuckDB without rollups, chDB's load, chDB without and with rollups (the
    rollup files figure 4 wrote), each after a warm-up pass, as DuckDB's: with rollups `runs`
    times, as figure 4; without, both engines `raw_runs` times (statements of seconds). The
    funnel reads no rollup: chDB runs it once per run, its figure stands for both modes.
    A statement of either engine is cut off after `timeout_s` (then counted with that time,
    not run again)."""
    qs = [
        *queries.dashboard(ds.site, ds.first, ds.last),
        queries.funnel(ds.site, ds.first, ds.last),
    ]
    # the product's per-statement budget (10 s) raised to the same cut-off as chDB's
    duck = local_engine(ds.root, memory_limit=limit, cached_answers=0, query_seconds=timeout_s)
    started = time.perf_counter()
    duck_raw = timed_set(WithoutRollups(duck), qs, raw_runs, timeout_s)
    duck_s = time.perf_counter() - started
    del duck
    db = scratch / "chdb"
    shutil.rmtree(db, ignore_errors=True)
    engine = clickhouse.ClickHouseEngine(db, timeout_s)
    try:
        load = clickhouse.load(engine, ds.root, scratch, rollups=True)
        version = engine.execute("SELECT version() AS v")[0]["v"]
        started = time.perf_counter()
        ch_raw = timed_set(engine, qs, raw_runs, timeout_s)
        engine.rollup = Rollup(ds.first, ds.last)
        ch_rolled = timed_set(engine, qs[:-1], runs, timeout_s) + ch_raw[-1:]
        ch_s = time.perf_counter() - started
        # the dashboard statement where chDB leads DuckDB most (or trails least), with rollups
        lead = {
            c.label: duckdb_rolled["per_query_s"][c.label] - median(c.seconds)
            for c in ch_rolled[:-1]
        }
        label = max(lead, key=lambda k: lead[k])
        query = next(q for q in qs if q.label == label)
        assert isinstance(query, queries.StatsCall)
        st = build(query.query, rollup=engine.rollup)
        profile = {
            "label": label,
            "lead_s": lead[label],
            "pipeline": pipeline(engine, st.sql, st.params),
            "duckdb": duckdb_profile(ds.root, limit, st.sql, st.params),
        }
    finally:
        engine.close()
        shutil.rmtree(db, ignore_errors=True)
    return {
        "rows": ds.rows,
        "runs": runs,
        "raw_runs": raw_runs,
        "version": version,
        "load": load.__dict__,
        "timeout_s": timeout_s,
        "seconds": {"duckdb_without": duck_s, "chdb_both": ch_s},
        "duckdb": {"without rollups": summary(duck_raw), "with rollups": duckdb_rolled},
        "chdb": {"without rollups": summary(ch_raw), "with rollups": summary(ch_rolled)},
        "results_differ": {
            "chdb without rollups": differ(duck_raw, ch_raw),
            "chdb with rollups": differ(duck_raw, ch_rolled),
        },
        "chdb_profile": profile,
    }
