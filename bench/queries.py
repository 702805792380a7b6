"""The queries of figure 4: a dashboard load and a 4-step funnel.

The dashboard is what the stats API answers for one page view of a Plausible-style dashboard:
the top numbers, the visitor graph and six breakdown panels, built by the real stats service
and SQL builder. The funnel is written here in Athena's dialect (no endpoint yet), step by
step with window functions: each step is the first matching event after the previous step.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from beaconlake.adapters.duckdb_engine import events_view_sql
from beaconlake.ports import QueryEngine
from beaconlake.sqldialect import athena_to_duckdb
from beaconlake.stats import service
from beaconlake.stats.query import DateRange, Goal, StatsQuery
from beaconlake.stats.sql import RANGE_WHERE, build, goal_condition, range_params

TOP_METRICS = (
    "visitors",
    "visits",
    "pageviews",
    "views_per_visit",
    "bounce_rate",
    "visit_duration",
)
BREAKDOWNS = (
    "visit:source",
    "event:page",
    "visit:entry_page",
    "visit:country",
    "visit:browser",
    "visit:device",
)
PANEL_LIMIT = 10
FUNNEL = (
    Goal("Home", page="/"),
    Goal("Pricing", page="/pricing"),
    Goal("Signup", event="Signup"),
    Goal("Purchase", event="Purchase"),
)


@dataclass(frozen=True)
class StatsCall:
    """One call of the stats service, as an API route makes it."""

    label: str
    call: Callable[[QueryEngine, StatsQuery], Any]
    query: StatsQuery

    def run(self, engine: QueryEngine) -> Any:
        return self.call(engine, self.query)

    def statement(self) -> tuple[str, tuple[Any, ...]]:
        st = build(self.query)
        return st.sql, st.params


@dataclass(frozen=True)
class SqlCall:
    """One Athena-dialect statement run as it is."""

    label: str
    sql: str
    params: tuple[Any, ...]

    def run(self, engine: QueryEngine) -> Any:
        return engine.query(self.sql, self.params)

    def statement(self) -> tuple[str, tuple[Any, ...]]:
        return self.sql, self.params


Query = StatsCall | SqlCall


def dashboard(site: str, first: date, last: date) -> list[Query]:
    """Aggregate, time series and six breakdowns, as the v1 stats API runs them."""
    base = StatsQuery(site, DateRange(first, last), ("visitors",))
    queries: list[Query] = [
        StatsCall("aggregate", service.aggregate, replace(base, metrics=TOP_METRICS)),
        StatsCall(
            "timeseries",
            service.timeseries,
            replace(base, metrics=("visitors", "pageviews"), interval="day"),
        ),
    ]
    queries += [
        StatsCall(
            f"breakdown {dim}",
            service.breakdown,
            replace(base, dimension=dim, limit=PANEL_LIMIT),
        )
        for dim in BREAKDOWNS
    ]
    return queries


def dashboard_requests(site: str, first: date, last: date) -> list[tuple[str, str]]:
    """The same dashboard as stats API v1 requests: (path, query string)."""
    period = f"site_id={site}&period=custom&from={first}&to={last}"
    out = [
        ("/api/v1/stats/aggregate", f"{period}&metrics={','.join(TOP_METRICS)}"),
        ("/api/v1/stats/timeseries", f"{period}&metrics=visitors,pageviews&interval=day"),
    ]
    out += [
        ("/api/v1/stats/breakdown", f"{period}&property={dim}&limit={PANEL_LIMIT}")
        for dim in BREAKDOWNS
    ]
    return out


def funnel_statement(site: str, first: date, last: date) -> tuple[str, tuple[Any, ...]]:
    whens: list[str] = []
    args: tuple[Any, ...] = ()
    for i, goal in enumerate(FUNNEL, start=1):
        cond, a = goal_condition(goal)
        whens.append(f"WHEN {cond} THEN {i}")
        args += a
    steps = [
        "s1 AS (\n  SELECT visitor_id, ts, step,\n"
        "    min(CASE WHEN step = 1 THEN ts END) OVER (PARTITION BY visitor_id) AS t1\n"
        "  FROM ev WHERE step IS NOT NULL\n)"
    ]
    for i in range(2, len(FUNNEL) + 1):
        steps.append(
            f"s{i} AS (\n  SELECT *, min(CASE WHEN step = {i} AND ts > t{i - 1} THEN ts END) "
            f"OVER (PARTITION BY visitor_id) AS t{i}\n  FROM s{i - 1}\n)"
        )
    counts = ",\n  ".join(
        f"count(DISTINCT CASE WHEN t{i} IS NOT NULL THEN visitor_id END) AS step_{i}"
        for i in range(1, len(FUNNEL) + 1)
    )
    q = StatsQuery(site, DateRange(first, last), ("visitors",))
    sql = (
        f"WITH ev AS (\n  SELECT visitor_id, ts, CASE {' '.join(whens)} END AS step\n"
        f"  FROM events WHERE {RANGE_WHERE}\n),\n"
        + ",\n".join(steps)
        + f"\nSELECT\n  {counts}\nFROM s{len(FUNNEL)}"
    )
    return sql, args + range_params(q)


def funnel(site: str, first: date, last: date) -> Query:
    return SqlCall("funnel (4 steps)", *funnel_statement(site, first, last))


@dataclass(frozen=True)
class Timing:
    label: str
    seconds: list[float]
    result: Any
    timed_out: bool


def run_set(engine: QueryEngine, queries: list[Query], runs: int, warmup: bool) -> list[Timing]:
    """Each query `runs` times, optionally after one untimed pass over the whole set. A query
    the engine gives up on (TimeoutError) counts with the time it ran and is not repeated."""
    results = [q.run(engine) for q in queries] if warmup else [None] * len(queries)
    seconds: list[list[float]] = [[] for _ in queries]
    timed_out = [False] * len(queries)
    for _ in range(runs):
        for i, q in enumerate(queries):
            if timed_out[i]:
                continue
            started = time.perf_counter()
            try:
                result = q.run(engine)
            except TimeoutError:
                timed_out[i] = True
                result = None
            seconds[i].append(time.perf_counter() - started)
            results[i] = result if results[i] is None else results[i]
    return [
        Timing(q.label, s, r, t)
        for q, s, r, t in zip(queries, seconds, results, timed_out, strict=True)
    ]


def operator_profile(data_dir: Path, memory_limit: str, query: Query) -> dict[str, Any]:
    """DuckDB's own profile of one statement: the share of operator time by operator type."""
    con = duckdb.connect(config={"memory_limit": memory_limit, "threads": 2})
    con.execute(events_view_sql(data_dir / "events"))
    sql, params = query.statement()
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        con.execute("PRAGMA enable_profiling='json'")
        con.execute(f"PRAGMA profiling_output='{out.name}'")
        started = time.perf_counter()
        con.execute(athena_to_duckdb(sql), list(params)).fetchall()
        seconds = time.perf_counter() - started
        con.close()
        profile = json.loads(Path(out.name).read_text())
    by_type: Counter[str] = Counter()
    stack = list(profile["operator"])
    while stack:
        node = stack.pop()
        by_type[node["type"]] += node["timing"]
        stack += node.get("children", [])
    busy = sum(by_type.values())
    top = [(name, 100 * t / busy) for name, t in by_type.most_common(6)]
    return {"label": query.label, "seconds": seconds, "operators": top}
