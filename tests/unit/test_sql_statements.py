"""Every statement the stats API can build parses in Athena's dialect and runs in DuckDB, and
computes only what its metrics need."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date

import pytest
import sqlglot

from beaconlake.ports import Rollup
from beaconlake.stats.query import (
    DIMENSIONS,
    GOAL_DIMENSION,
    METRICS,
    TIME_DIMENSIONS,
    V2_METRICS,
    And,
    DateRange,
    Filter,
    Goal,
    HasDone,
    Not,
    Or,
    StatsQuery,
)
from beaconlake.stats.sql import METRIC_INPUTS, build, raw_columns_needed
from beaconlake.wiring import local_engine

GOALS = (Goal("Signup", event="Signup"), Goal("Docs", page="/docs/*"))
DAYS = DateRange(date(2026, 1, 1), date(2026, 1, 31))
ALL_DIMENSIONS = [*DIMENSIONS, "event:props:plan", GOAL_DIMENSION, *TIME_DIMENSIONS[1:]]
FILTERS = [
    Filter("event:page", "is", ("/a", "/b")),
    Filter("visit:source", "is_not", ("Google",)),
    Filter("event:props:plan", "contains", ("pro",)),
    Filter("visit:channel", "contains_not", ("Paid",)),
    Filter("event:page", "matches", ("^/docs/.*$",)),
    Filter("event:page", "matches_not", ("^/x",)),
    Filter(GOAL_DIMENSION, "is", ("Signup", "Docs")),
    Or((Filter("visit:device", "is", ("mobile",)), Not(Filter("visit:os", "is", ("iOS",))))),
    HasDone(Filter("event:name", "is", ("Signup",))),
    HasDone(And((Filter("event:page", "is", ("/x",)),)), negated=True),
]


def statements():
    for dim in [None, *ALL_DIMENSIONS]:
        dims = (dim,) if dim else ()
        yield StatsQuery("example.com", DAYS, tuple(V2_METRICS), dimensions=dims, goals=GOALS)
    for flt in FILTERS:
        yield StatsQuery(
            "example.com",
            DAYS,
            ("visitors", "visits", "bounce_rate"),
            filters=(flt,),
            goals=GOALS,
            dimensions=("visit:source",),
        )
    for a, b in itertools.combinations(["visit:source", "time:day", "event:page"], 2):
        yield StatsQuery("example.com", DAYS, ("visitors", "visits"), dimensions=(a, b))


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return local_engine(tmp_path_factory.mktemp("empty"))


@pytest.mark.parametrize("q", list(statements()), ids=lambda q: f"{q.group_by()}-{len(q.filters)}")
def test_statement_parses_as_athena_and_runs_in_duckdb(q: StatsQuery, engine) -> None:
    st = build(q)
    parsed = sqlglot.parse_one(st.sql, read="athena")
    assert parsed.find(sqlglot.exp.Select) is not None
    assert st.sql.count("?") == len(st.params)
    assert "site_id = ? AND dt BETWEEN ? AND ?" in st.sql
    engine.query(st.sql, st.params)


def test_a_statement_computes_only_the_columns_its_metrics_and_order_read() -> None:
    assert all(METRIC_INPUTS[m] for m in V2_METRICS)  # every metric reads some raw column
    panel = StatsQuery("example.com", DAYS, ("visitors",), dimensions=("visit:country",))
    assert raw_columns_needed(panel) == {"visitors"}
    rates = replace(panel, metrics=("bounce_rate",), order_by=(("total_revenue", "desc"),))
    assert raw_columns_needed(rates) == {"bounces", "visits", "revenue_sum"}
    rollup = Rollup(DAYS.first, DAYS.last)
    lean, full = (build(q, rollup=rollup).sql for q in (panel, replace(panel, metrics=METRICS)))
    duration = "sum(date_diff('millisecond', started, ended)) AS duration_ms"
    assert duration in full and duration not in lean
    assert "0 AS duration_ms" in lean and "NULL AS revenue_sum" in lean
