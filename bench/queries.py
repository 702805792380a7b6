"""The queries of figure 4: a dashboard load and a 4-step funnel.

The dashboard is what the stats API answers for one page view of a Plausible-style dashboard:
the top numbers, the visitor graph and six breakdown panels, built by the real stats service
and SQL builder. The funnel is what the funnel endpoint (POST /api/v2/funnel) runs for four
steps with its defaults: in order, within 24 hours of the first step.
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
from beaconlake.stats import behaviour, behaviour_sql, service
from beaconlake.stats.behaviour_query import FunnelQuery, parse_funnel
from beaconlake.stats.query import DateRange, Goal, StatsQuery
from beaconlake.stats.sql import build

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
class FunnelCall:
    """A funnel, as the funnel endpoint runs it."""

    label: str
    query: FunnelQuery

    def run(self, engine: QueryEngine) -> Any:
        return behaviour.run_funnel(engine, self.query)

    def statement(self) -> tuple[str, tuple[Any, ...]]:
        st = behaviour_sql.funnel(self.query)
        return st.sql, st.params


Query = StatsCall | FunnelCall


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


def funnel(site: str, first: date, last: date) -> FunnelCall:
    """The funnel endpoint's query for this request body (its defaults for the rest)."""
    steps = [{"page": g.page} if g.page else {"event": g.event} for g in FUNNEL]
    body = {"site_id": site, "date_range": [str(first), str(last)], "steps": steps}
    return FunnelCall("funnel (4 steps)", parse_funnel(body, {}))


@dataclass(frozen=True)
class Timing:
    label: str
    seconds: list[float]
    result: Any
    timed_out: bool


def run_set(engine: QueryEngine, queries: list[Query], runs: int, warmup: bool) -> list[Timing]:
    """Each query `runs` times, optionally after one untimed pass over the whole set. A query
    the engine gives up on (TimeoutError) counts with the time it ran and is not repeated."""
    results: list[Any] = [None] * len(queries)
    seconds: list[list[float]] = [[] for _ in queries]
    timed_out = [False] * len(queries)
    for i, q in enumerate(queries if warmup else ()):
        started = time.perf_counter()
        try:
            results[i] = q.run(engine)
        except TimeoutError:  # given up on in the warm-up: counts as that one run
            timed_out[i] = True
            seconds[i].append(time.perf_counter() - started)
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
    top = operator_shares(profile)
    return {"label": query.label, "seconds": seconds, "operators": top}


def operator_shares(profile: dict[str, Any], top: int = 6) -> list[tuple[str, float]]:
    """The operator types of a DuckDB JSON profile with the most time, in percent of it."""
    by_type: Counter[str] = Counter()
    stack = list(profile["operator"])
    while stack:
        node = stack.pop()
        by_type[node["type"]] += node["timing"]
        stack += node.get("children", [])
    busy = sum(by_type.values()) or 1.0
    return [(name, 100 * t / busy) for name, t in by_type.most_common(top)]
