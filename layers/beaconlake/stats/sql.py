"""Stats SQL, written once in Athena (Trino) dialect with positional `?` parameters.

Sessions are computed in SQL: the same visitor with gaps under 30 minutes. A session's source,
referrer, UTM tags and entry page are those of its first event; its exit page that of its
last pageview. A bounce is a session with one pageview and no interactive custom event.
Engagement events extend a session's duration but are neither pageviews nor interactions.

Every statement restricts site_id and dt first, so Athena prunes partitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from beaconlake.stats.query import (
    DIMENSIONS,
    EVENT_METRICS,
    PROP_PREFIX,
    SESSION_METRICS,
    Filter,
    StatsQuery,
)

SESSION_GAP_MS = 30 * 60 * 1000
TS_FORMAT = "%Y-%m-%d %H:%M:%S.000"
_TIME_FORMATS = {
    "hour": "%Y-%m-%d %H:00:00",
    "day": "%Y-%m-%d",
    "week": "%Y-%m-%d",
    "month": "%Y-%m-01",
}
_SESSION_ATTRS = (
    ("s_source", "referrer_source"),
    ("s_referrer", "referrer"),
    ("s_utm_source", "utm_source"),
    ("s_utm_medium", "utm_medium"),
    ("s_utm_campaign", "utm_campaign"),
    ("s_utm_content", "utm_content"),
    ("s_utm_term", "utm_term"),
)


@dataclass(frozen=True)
class Statement:
    sql: str
    params: tuple[Any, ...]


def range_params(q: StatsQuery) -> tuple[Any, ...]:
    return (
        q.site_id,
        q.date_range.first.isoformat(),
        q.date_range.last.isoformat(),
        q.date_range.start.strftime(TS_FORMAT),
        q.date_range.end.strftime(TS_FORMAT),
    )


RANGE_WHERE = (
    "site_id = ? AND dt BETWEEN ? AND ? "
    "AND ts >= CAST(? AS timestamp) AND ts < CAST(? AS timestamp)"
)


def sessionised_events(table: str) -> str:
    """CTEs `sev` (each event with its session's attributes) and `sessions` (one row per
    session). Needs the five range parameters."""
    attrs = ",\n    ".join(f"min_by({col}, ts) AS {alias}" for alias, col in _SESSION_ATTRS)
    attr_cols = ", ".join(f"s.{alias}" for alias, _ in _SESSION_ATTRS)
    return f"""ev AS (
  SELECT * FROM {table} WHERE {RANGE_WHERE}
),
marked AS (
  SELECT *,
    CASE WHEN date_diff('millisecond', lag(ts) OVER (PARTITION BY visitor_id ORDER BY ts), ts)
      < {SESSION_GAP_MS} THEN 0 ELSE 1 END AS is_new
  FROM ev
),
numbered AS (
  SELECT *,
    sum(is_new) OVER (PARTITION BY visitor_id ORDER BY ts
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session_no
  FROM marked
),
sessions AS (
  SELECT visitor_id, session_no,
    min(ts) AS started,
    max(ts) AS ended,
    count(*) FILTER (WHERE name = 'pageview') AS pageviews,
    count(*) FILTER (WHERE name NOT IN ('pageview', 'engagement') AND interactive) AS interactions,
    min_by(pathname, ts) FILTER (WHERE name = 'pageview') AS s_entry_page,
    max_by(pathname, ts) FILTER (WHERE name = 'pageview') AS s_exit_page,
    {attrs}
  FROM numbered
  GROUP BY visitor_id, session_no
),
sev AS (
  SELECT n.*, s.s_entry_page, s.s_exit_page, {attr_cols}
  FROM numbered n JOIN sessions s ON n.visitor_id = s.visitor_id AND n.session_no = s.session_no
)"""


def dimension_expr(dimension: str) -> tuple[str, tuple[Any, ...]]:
    """SQL for a dimension (from the fixed table) and its parameters (a props key)."""
    if dimension.startswith(PROP_PREFIX):
        return "element_at(props, ?)", (dimension[len(PROP_PREFIX) :],)
    return DIMENSIONS[dimension][0], ()


def filter_sql(f: Filter) -> tuple[str, tuple[Any, ...]]:
    expr, params = dimension_expr(f.dimension)
    if f.operator in ("is", "is_not"):
        placeholders = ", ".join("?" for _ in f.values)
        sql = f"coalesce({expr} IN ({placeholders}), false)"
        values: tuple[Any, ...] = tuple(f.values)
        args = params + values
    else:
        parts = [f"strpos(lower(coalesce({expr}, '')), ?) > 0" for _ in f.values]
        sql = "(" + " OR ".join(parts) + ")"
        args = tuple(a for v in f.values for a in (*params, v.lower()))
    if f.operator.endswith("_not"):
        sql = f"NOT {sql}"
    return sql, args


def _where(filters: tuple[Filter, ...]) -> tuple[str, tuple[Any, ...]]:
    if not filters:
        return "true", ()
    parts, args = [], ()
    for f in filters:
        sql, a = filter_sql(f)
        parts.append(sql)
        args += a
    return " AND ".join(parts), args


def _group_expr(q: StatsQuery, source: str) -> tuple[str, tuple[Any, ...]]:
    """The grouping key as a string ('' for none), so event and session parts can be joined."""
    if q.interval:
        return (
            f"date_format(date_trunc('{q.interval}', {source}), '{_TIME_FORMATS[q.interval]}')",
            (),
        )
    if q.dimension:
        expr, params = dimension_expr(q.dimension)
        return f"coalesce(CAST({expr} AS varchar), '')", params
    return "''", ()


def build(q: StatsQuery, table: str = "events") -> Statement:
    """One statement answering aggregate, time series or breakdown for the query's metrics."""
    want_sessions = any(m in SESSION_METRICS for m in q.metrics)
    where, where_args = _where(q.filters)
    key, key_args = _group_expr(q, "ts")
    parts = [sessionised_events(table)]
    args: tuple[Any, ...] = range_params(q)
    parts.append(f"matched AS (SELECT * FROM sev WHERE {where})")
    args += where_args
    parts.append(
        f"""em AS (
  SELECT {key} AS k,
    count(DISTINCT visitor_id) AS visitors,
    count(*) FILTER (WHERE name = 'pageview') AS pageviews,
    count(*) FILTER (WHERE name <> 'engagement') AS events
  FROM matched GROUP BY 1
)"""
    )
    args += key_args
    if want_sessions:
        if q.interval:
            ms_key, sm_key = "", _group_expr(q, "s.started")[0]
        else:
            ms_key, sm_key = f"{key} AS k, ", "m.k"
            args += key_args
        parts.append(
            f"""ms AS (SELECT DISTINCT {ms_key}visitor_id, session_no FROM matched),
sm AS (
  SELECT {sm_key} AS k,
    count(*) AS visits,
    count(*) FILTER (WHERE s.pageviews = 1 AND s.interactions = 0) AS bounces,
    sum(s.pageviews) AS session_pageviews,
    sum(date_diff('millisecond', s.started, s.ended)) AS duration_ms
  FROM ms m JOIN sessions s ON m.visitor_id = s.visitor_id AND m.session_no = s.session_no
  GROUP BY 1
)"""
        )
        select = """SELECT coalesce(em.k, sm.k) AS k,
  coalesce(em.visitors, 0) AS visitors, coalesce(em.pageviews, 0) AS pageviews,
  coalesce(em.events, 0) AS events, coalesce(sm.visits, 0) AS visits,
  coalesce(sm.bounces, 0) AS bounces, coalesce(sm.session_pageviews, 0) AS session_pageviews,
  coalesce(sm.duration_ms, 0) AS duration_ms
FROM em FULL OUTER JOIN sm ON em.k = sm.k"""
    else:
        select = "SELECT k, visitors, pageviews, events FROM em"
    order = _order(q)
    sql = "WITH " + ",\n".join(parts) + "\n" + select + order
    if q.dimension and not q.interval:
        sql += f"\nLIMIT {int(q.limit)} OFFSET {int(q.offset)}"
    return Statement(sql, args)


def _order(q: StatsQuery) -> str:
    if q.interval or not q.dimension:
        return "\nORDER BY 1"
    first = q.metrics[0]
    column = {
        "bounce_rate": "CAST(bounces AS double) / nullif(visits, 0)",
        "visit_duration": "CAST(duration_ms AS double) / nullif(visits, 0)",
        "views_per_visit": "CAST(session_pageviews AS double) / nullif(visits, 0)",
    }.get(first, first)
    return f"\nORDER BY {column} DESC NULLS LAST, 1"


def shape_row(row: dict[str, Any], metrics: tuple[str, ...]) -> dict[str, Any]:
    """Raw counts → the metrics asked for (rates rounded like Plausible)."""
    visits = int(row.get("visits") or 0)
    out: dict[str, Any] = {}
    for m in metrics:
        if m in EVENT_METRICS:
            out[m] = int(row.get(m) or 0)
        elif m == "visits":
            out[m] = visits
        elif m == "bounce_rate":
            out[m] = round(100 * int(row["bounces"] or 0) / visits) if visits else 0
        elif m == "visit_duration":
            out[m] = round(int(row["duration_ms"] or 0) / 1000 / visits) if visits else 0
        elif m == "views_per_visit":
            out[m] = round(int(row["session_pageviews"] or 0) / visits, 2) if visits else 0.0
    return out
