"""Stats service: query model → statement → engine → shaped results (Plausible v1 shapes),
and the small reads of the dashboard. Queries arrive checked (`stats.query_parser`)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from beaconlake.ports import QueryEngine
from beaconlake.stats.query import GOAL_DIMENSION, DateRange, StatsQuery, result_key
from beaconlake.stats.sql import RANGE_WHERE, Statement, build, range_params, shape_row, whole_days

# the custom property keys used in a range, most used first (the dashboard's props panel)
PROP_KEYS_SQL = (
    "SELECT k AS prop, count(*) AS events FROM events CROSS JOIN UNNEST(map_keys(props)) AS t(k) "
    f"WHERE {RANGE_WHERE} GROUP BY k ORDER BY events DESC, prop LIMIT 50"
)


def statement(engine: QueryEngine, q: StatsQuery) -> Statement:
    """The statement for `q`, using the engine's session rollup for the days it covers."""
    days = whole_days(q)
    return build(q, rollup=engine.session_rollup(q.site_id, *days) if days else None)


def aggregate(engine: QueryEngine, q: StatsQuery) -> dict[str, dict[str, Any]]:
    st = statement(engine, q)
    rows = engine.query(st.sql, st.params)
    values = shape_row(rows[0] if rows else {}, q.metrics)
    return {m: {"value": v} for m, v in values.items()}


def breakdown(engine: QueryEngine, q: StatsQuery) -> list[dict[str, Any]]:
    """One row per value of the query's one dimension, keyed by its short name."""
    (dimension,) = q.group_by()
    st = statement(engine, q)
    key = "goal" if dimension == GOAL_DIMENSION else result_key(dimension)
    out = []
    for row in engine.query(st.sql, st.params):
        value = row["k0"] or None
        if value is None and dimension == "visit:source":
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
    """One row per bucket of the query's time dimension, with no gaps."""
    (dimension,) = q.group_by()
    interval = dimension.removeprefix("time:")
    st = statement(engine, q)
    by_bucket = {row["k0"]: row for row in engine.query(st.sql, st.params)}
    return [
        {"date": label, **shape_row(by_bucket.get(label, {}), q.metrics)}
        for label in time_buckets(q.date_range.first, q.date_range.last, interval)
    ]


def prop_keys(engine: QueryEngine, site_id: str, date_range: DateRange) -> list[str]:
    """The custom property keys used in a range, most used first (at most 50)."""
    rows = engine.query(PROP_KEYS_SQL, range_params(site_id, date_range))
    return [str(r["prop"]) for r in rows]
