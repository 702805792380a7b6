"""Stats service: query model → statement → engine → shaped results (Plausible v1 shapes),
and the small reads of the dashboard. Queries arrive checked (`stats.query_parser`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from beaconlake.ports import QueryEngine
from beaconlake.stats import expiry, monthly
from beaconlake.stats.query import (
    GOAL_DIMENSION,
    DateRange,
    StatsQuery,
    from_utc,
    local_now,
    result_key,
)
from beaconlake.stats.sql import RANGE_WHERE, Statement, build, range_params, shape_row, whole_days

# the custom property keys used in a range, most used first (the dashboard's props panel)
PROP_KEYS_SQL = (
    "SELECT k AS prop, count(*) AS events FROM events CROSS JOIN UNNEST(map_keys(props)) AS t(k) "
    f"WHERE {RANGE_WHERE} GROUP BY k ORDER BY events DESC, prop LIMIT 50"
)


def statement(engine: QueryEngine, q: StatsQuery) -> Statement:
    """The statement for `q`, using the engine's session rollup for the days it covers."""
    return sourced_statement(engine, q)[0]


def sourced_statement(engine: QueryEngine, q: StatsQuery) -> tuple[Statement, dict[str, Any]]:
    """The statement and what `meta` says of its source: over days whose raw events retention
    deleted, the daily rollups (or a QueryError, rule raw_data_expired: stats.expiry)."""
    first, last = q.date_range.dt_days()
    months = monthly.monthly_months(engine, q.site_id, first, last)
    if months:  # the v2 query API merges them (stats.query_runner); these shapes do not
        raise monthly.refuse_raw(q.site_id, months, "the queries of the Stats API v1")
    days = whole_days(q)
    rollup = engine.session_rollup(q.site_id, *days) if days else None
    source = expiry.check_query(q, rollup)
    return build(q, rollup=rollup), source


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


def _hours(date_range: DateRange) -> list[str]:
    """The wall-clock hours of the range's days: 23 on a day the clocks skip an hour, and
    one label for an hour they repeat (it holds both)."""
    start = datetime(date_range.first.year, date_range.first.month, date_range.first.day)
    days = (date_range.last - date_range.first).days + 1
    if not date_range.local:
        return [(start + timedelta(hours=h)).strftime(HOUR_LABEL) for h in range(days * 24)]
    whole = DateRange(date_range.first, date_range.last, timezone=date_range.timezone)
    moment, end = whole.start_utc, whole.end_utc
    labels: list[str] = []
    while moment < end:  # every UTC offset is a multiple of 15 minutes
        label = from_utc(moment, date_range.timezone).strftime(HOUR_LABEL)
        if not labels or labels[-1] != label:
            labels.append(label)
        moment += timedelta(minutes=15)
    return labels


HOUR_LABEL = "%Y-%m-%d %H:00:00"


def time_buckets(date_range: DateRange, interval: str) -> list[str]:
    """Every bucket label in the range (days of its time zone), so the series has no gaps."""
    if interval == "hour":
        return _hours(date_range)
    labels: list[str] = []
    day, last = date_range.first, date_range.last
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


def bucket_span(label: str, interval: str) -> tuple[datetime, datetime]:
    """A bucket's [start, end) in wall-clock time."""
    start = datetime.fromisoformat(label)
    if interval == "hour":
        return start, start + timedelta(hours=1)
    if interval == "day":
        return start, start + timedelta(days=1)
    if interval == "week":
        return start, start + timedelta(days=7)
    month = start.year * 12 + start.month  # the next month's index
    return start, datetime(month // 12, month % 12 + 1, 1)


@dataclass(frozen=True)
class Buckets:
    """A series' buckets up to now (in the range's zone; later ones are left out), and those
    only partly inside the range or not yet over (the chart marks them)."""

    labels: list[str]
    partial: list[str]
    now: datetime


def buckets(date_range: DateRange, interval: str, now: datetime | None = None) -> Buckets:
    current = local_now(date_range.timezone, now)
    labels, partial = [], []
    end = min(date_range.end, current)
    for label in time_buckets(date_range, interval):
        start, stop = bucket_span(label, interval)
        if start > current:
            break
        labels.append(label)
        if start < date_range.start or stop > end:
            partial.append(label)
    return Buckets(labels, partial, current)


def series_meta(date_range: DateRange, interval: str | None, now: datetime | None) -> dict:
    """`now` (wall-clock, ISO) and `timezone`; with a time dimension `partial_buckets`."""
    current = local_now(date_range.timezone, now)
    meta: dict[str, Any] = {
        "now": current.isoformat(timespec="seconds"),
        "timezone": date_range.timezone,
    }
    if interval:
        meta["partial_buckets"] = buckets(date_range, interval, now).partial
    return meta


def timeseries(
    engine: QueryEngine, q: StatsQuery, now: datetime | None = None
) -> list[dict[str, Any]]:
    """One row per bucket of the query's time dimension up to now, with no gaps."""
    (dimension,) = q.group_by()
    interval = dimension.removeprefix("time:")
    st = statement(engine, q)
    by_bucket = {row["k0"]: row for row in engine.query(st.sql, st.params)}
    return [
        {"date": label, **shape_row(by_bucket.get(label, {}), q.metrics)}
        for label in buckets(q.date_range, interval, now).labels
    ]


def prop_keys(engine: QueryEngine, site_id: str, date_range: DateRange) -> list[str]:
    """The custom property keys used in a range, most used first (at most 50)."""
    rows = engine.query(PROP_KEYS_SQL, range_params(site_id, date_range))
    return [str(r["prop"]) for r in rows]
