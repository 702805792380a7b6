"""The registry is the one definition of each metric and dimension: its records agree with
each other, and what is derived from them (rollup columns, the plan, the docs) follows."""

from __future__ import annotations

import random
import re
from datetime import date
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from beaconlake import schema
from beaconlake.ports import Rollup
from beaconlake.stats import registry, registry_docs
from beaconlake.stats.query import DateRange, Filter, StatsQuery
from beaconlake.stats.registry import AGGREGATES, DIMENSIONS, METRICS, Scope, Source
from beaconlake.stats.sql import (
    SESSION_ATTRS,
    SESSION_COLUMNS,
    VISITOR_ATTRS,
    answerable_from_pages,
    answerable_from_visits,
    build,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "QUERY_API.md"
DAYS = DateRange(date(2026, 1, 1), date(2026, 1, 31))


def test_the_docs_tables_are_the_registry_s() -> None:
    text = DOCS.read_text("utf-8")
    assert registry_docs.replaced(text) == text, (
        "docs/QUERY_API.md is stale: run python -m beaconlake.stats.registry_docs docs/QUERY_API.md"
    )
    for name in (*METRICS, *DIMENSIONS):
        assert f"| `{name}` |" in text


@pytest.mark.parametrize("metric", list(METRICS.values()), ids=lambda m: m.name)
def test_a_metric_reads_only_its_inputs(metric: registry.Metric) -> None:
    """Its value and its order read the aggregates it names and no others, so a statement
    that computes only those (raw_columns_needed) answers it."""
    rng = random.Random(metric.name)
    values = set()
    for _ in range(20):
        full = {name: rng.randint(1, 9) * 10 ** rng.randint(0, 7) for name in AGGREGATES}
        full |= {d.value: rng.randint(10**8, 10**9) for d in registry.Denominator}
        own = {name: full[name] for name in metric.inputs}
        if metric.denominator is not None:
            own[metric.denominator.value] = full[metric.denominator.value]
        assert metric.value(own) == metric.value(full)
        values.add(metric.value(own))
    assert len(values) > 1  # and it does read them
    read_by_order = set(re.findall(r"\w+", metric.order)) & set(AGGREGATES)
    assert read_by_order <= set(metric.inputs)


def test_every_aggregate_can_be_computed_somewhere_and_is_read() -> None:
    for a in AGGREGATES.values():
        assert a.events or a.visits or a.engagement, a.name
        assert a.empty in ("0", "NULL")
    read = {i for m in METRICS.values() for i in m.inputs}
    assert read == set(AGGREGATES)


def test_the_rollup_columns_follow_each_dimension_s_scope() -> None:
    """A column fixed per visitor is kept per visit and per page; a visit attribute is its
    first event's value; nothing else is in a rollup (so nothing else can miscount there)."""
    event_columns = {c.name for c in schema.COLUMNS}
    per_visitor = [d.column for d in registry.BUILT_IN_DIMENSIONS if d.scope is Scope.VISITOR]
    assert tuple(per_visitor) == VISITOR_ATTRS
    assert set(VISITOR_ATTRS) <= event_columns
    first_of = [(d.column, d.first_of) for d in registry.BUILT_IN_DIMENSIONS if d.first_of]
    assert first_of == list(SESSION_ATTRS)
    assert {col for _, col in SESSION_ATTRS} <= event_columns
    # computed from the column alone (visit:source names the source)
    for d in registry.BUILT_IN_DIMENSIONS:
        if d.first_sql:
            read = {c.name for c in sqlglot.parse_one(d.first_sql).find_all(exp.Column)}
            assert read == {d.first_of}, d.name
    for d in registry.column_dimensions():
        if d.source is Source.EVENT:
            assert d.column in event_columns, d.name
        if d.source is Source.VISIT:
            assert d.scope is Scope.VISIT and d.column.startswith("s_"), d.name
        if d.column in SESSION_COLUMNS:
            assert d.source is Source.VISIT, d.name


@pytest.mark.parametrize("dimension", [d.name for d in registry.column_dimensions()])
def test_the_plan_reads_rollups_only_for_what_they_hold(dimension: str) -> None:
    d = DIMENSIONS[dimension]
    in_rollup = d.source is Source.VISIT or d.scope is Scope.VISITOR
    q = StatsQuery("example.com", DAYS, ("visitors", "visits"), dimensions=(dimension,))
    assert answerable_from_visits(q, rolled_up=True) == in_rollup
    filtered = StatsQuery(
        "example.com",
        DAYS,
        ("visitors", "pageviews"),
        dimensions=("event:page",),
        filters=(Filter(dimension, "is", ("x",)),),
    )
    assert answerable_from_pages(filtered) == (d.column in ("pathname", *VISITOR_ATTRS))
    sql = build(q, rollup=Rollup(DAYS.first, DAYS.last)).sql
    assert ("session_rollup" in sql) == in_rollup


def test_registering_checks_the_records() -> None:
    with (
        pytest.raises(ValueError, match="already registered"),
        registry.registered(METRICS["visitors"]),
    ):
        pass
    orphan = registry.Metric("orphan", "", ("nothing",), lambda row: 0, "nothing", "Orphan")
    with pytest.raises(ValueError, match="unknown aggregates"), registry.registered(orphan):
        pass
    assert "orphan" not in METRICS
