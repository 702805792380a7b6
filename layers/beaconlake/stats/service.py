"""Stats service: query model → statement → engine → shaped results (Plausible v1 shapes)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from beaconlake.ports import QueryEngine
from beaconlake.stats.query import SESSION_METRICS, QueryError, StatsQuery, result_key
from beaconlake.stats.sql import Statement, build, shape_row, whole_days


def statement(engine: QueryEngine, q: StatsQuery) -> Statement:
    """The statement for `q`, using the engine's session rollup for the days it covers."""
    days = whole_days(q)
    return build(q, rollup=engine.session_rollup(q.site_id, *days) if days else None)


def _check(q: StatsQuery) -> None:
    event_dimension = bool(q.dimension) and str(q.dimension).startswith("event:")
    if event_dimension and q.dimension != "event:page" and set(q.metrics) & set(SESSION_METRICS):
        raise QueryError(
            "metrics",
            f"session metrics (visits, bounce_rate, visit_duration, views_per_visit) "
            f"cannot be broken down by {q.dimension}; use visitors, pageviews or events",
        )


def aggregate(engine: QueryEngine, q: StatsQuery) -> dict[str, dict[str, Any]]:
    _check(q)
    st = statement(engine, q)
    rows = engine.query(st.sql, st.params)
    values = shape_row(rows[0] if rows else {}, q.metrics)
    return {m: {"value": v} for m, v in values.items()}


def breakdown(engine: QueryEngine, q: StatsQuery) -> list[dict[str, Any]]:
    assert q.dimension is not None
    _check(q)
    st = statement(engine, q)
    key = result_key(q.dimension)
    out = []
    for row in engine.query(st.sql, st.params):
        value = row["k0"] or None
        if value is None and q.dimension == "visit:source":
            value = "Direct / None"
        out.append({key: value, **shape_row(row, q.metrics)})
    return out


def time_buckets(first: date, last: date, interval: str) -> list[str]:
    """Every bucket label in the range, so the series has no gaps."""
    labels: list[str] = []
    if interval == "hour":
        start = datetime(first.year, first.month, first.day)
        for h in range(((last - first).days + 1) * 24):
            labels.append((start + timedelta(hours=h)).strftime("%Y-%m-%d %H:00:00"))
        return labels
    day = first
    while day <= last:
        if interval == "day":
            labels.append(day.isoformat())
        elif interval == "week":
            monday = day - timedelta(days=day.weekday())
            if not labels or labels[-1] != monday.isoformat():
                labels.append(monday.isoformat())
        elif interval == "month":
            first_of_month = day.replace(day=1).isoformat()
            if not labels or labels[-1] != first_of_month:
                labels.append(first_of_month)
        day += timedelta(days=1)
    return labels


def timeseries(engine: QueryEngine, q: StatsQuery) -> list[dict[str, Any]]:
    assert q.interval is not None
    st = statement(engine, q)
    by_bucket = {row["k0"]: row for row in engine.query(st.sql, st.params)}
    return [
        {"date": label, **shape_row(by_bucket.get(label, {}), q.metrics)}
        for label in time_buckets(q.date_range.first, q.date_range.last, q.interval)
    ]
