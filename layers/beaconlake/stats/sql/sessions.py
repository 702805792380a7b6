"""Visits (sessions) computed in SQL, and the daily rollups written from them.

A visit is the same visitor with gaps under 30 minutes. Its source, referrer, UTM tags,
channel and entry page are those of its first event; its exit page that of its last
pageview. A bounce is a visit with one pageview and no interactive custom event. Engagement
events extend a visit's duration but are neither pageviews nor interactions.

The rollups' columns come from the registry's built-in dimensions: visit attributes
(SESSION_ATTRS: a visit's first value of an event column) and what is fixed per visitor
(VISITOR_ATTRS: the visitor id hashes the IP and User-Agent with the day's salt). Their SQL
is part of each rollup file's signature (stats.rollup_job), so changing it rewrites them.

CTE names: `ev` (the events the range selects), `marked` (each with `is_new`, 1 where a
visit starts), `numbered` (each with its visit's `session_no`), `sessions` (one row per visit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from beaconlake.ports import Rollup
from beaconlake.stats.channels import channel_sql
from beaconlake.stats.query import DateRange, StatsQuery
from beaconlake.stats.registry import BUILT_IN_DIMENSIONS, Scope, Source
from beaconlake.stats.sql.statement import (
    RANGE_WHERE,
    STARTED_WHERE,
    Params,
    Statement,
    range_params,
    started_params,
    timestamp_text,
    visit_range_params,
)

SESSION_GAP_MS = 30 * 60 * 1000
# (column of the sessions CTE, the event column whose value at the visit's first event it is)
SESSION_ATTRS: tuple[tuple[str, str], ...] = tuple(
    (d.column, d.first_of) for d in BUILT_IN_DIMENSIONS if d.first_of
)
# the SQL of each, where it is not the event column itself (visit:source names the source)
FIRST_SQL = {d.column: d.first_sql for d in BUILT_IN_DIMENSIONS if d.first_of and d.first_sql}
# Event columns fixed by the visitor id within a day, so every visit has one value of each;
# the rollups keep them per visit and per visitor and page.
VISITOR_ATTRS: tuple[str, ...] = tuple(
    d.column for d in BUILT_IN_DIMENSIONS if d.source is Source.EVENT and d.scope is Scope.VISITOR
)
SESSION_COLUMNS = (
    "visitor_id",
    "session_no",
    "started",
    "ended",
    "pageviews",
    "interactions",
    "events",
    "revenue_sum",
    "revenue_count",
    "s_entry_page",
    "s_exit_page",
    *(alias for alias, _ in SESSION_ATTRS),
)
CHANNEL_COLUMN = "s_channel"  # computed from s_source and s_utm_medium where it is read
SESSION_ROLLUP_TABLE = "session_rollup"
PAGE_ROLLUP_TABLE = "page_rollup"
PAGE_COLUMNS = (
    "visitor_id",
    "pathname",
    "pageviews",
    "events",
    "revenue_sum",
    "revenue_count",
    *VISITOR_ATTRS,
)
# Per visit attribute, a flag on each visitor's first visit (of the day) with its value:
# counting flagged rows gives that attribute's visitors without a DISTINCT over visitor ids.
FIRST_OF = {"s_source": "first_of_source", "s_entry_page": "first_of_entry_page"}


# The order of a visitor's events: time, then order of arrival at the collector (`seq`; NULL
# in files written before it, first among its millisecond's events)
IN_ORDER = "ts, coalesce(seq, 0)"


def session_ctes(
    table: str,
    where: str = RANGE_WHERE,
    visitor_attrs: bool = False,
    name: str = "sessions",
    started: bool = False,
) -> str:
    """CTEs `ev`, `marked`, `numbered` and `sessions` (or `name`: one row per visit with its
    attributes and totals, plus the VISITOR_ATTRS if asked). The default `where` needs the
    five range parameters; with `started`, only the visits that started in the range are
    kept (STARTED_WHERE: two more parameters, after `where`'s).

    A visitor's events are ordered by IN_ORDER: time, then order of arrival (`seq`), and
    `ev_no` numbers them so; the first and last of a visit (entry page, exit page, source)
    are those by `ev_no`. Of events in the same millisecond only one can open a visit (the
    others are 0 ms after it); where no `seq` tells them apart (files written before it)
    the two windows may order them differently: `is_new DESC` counts that one first, so all
    of them get its session_no."""
    attrs = [
        f"min_by({FIRST_SQL.get(alias, col)}, ev_no) AS {alias}" for alias, col in SESSION_ATTRS
    ]
    if visitor_attrs:
        attrs += [f"min_by({col}, ev_no) AS {col}" for col in VISITOR_ATTRS]
    attr_sql = ",\n    ".join(attrs)
    return f"""ev AS (
  SELECT * FROM {table} WHERE {where}
),
marked AS (
  SELECT *,
    CASE WHEN date_diff('millisecond',
      lag(ts) OVER (PARTITION BY visitor_id ORDER BY {IN_ORDER}), ts)
      < {SESSION_GAP_MS} THEN 0 ELSE 1 END AS is_new
  FROM ev
),
numbered AS (
  SELECT *,
    sum(is_new) OVER (PARTITION BY visitor_id ORDER BY {IN_ORDER}, is_new DESC
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session_no,
    row_number() OVER (PARTITION BY visitor_id ORDER BY {IN_ORDER}, is_new DESC) AS ev_no
  FROM marked
),
{f"{name}_all" if started else name} AS (
  SELECT visitor_id, session_no,
    min(ts) AS started,
    max(ts) AS ended,
    count(*) FILTER (WHERE name = 'pageview') AS pageviews,
    count(*) FILTER (WHERE name NOT IN ('pageview', 'engagement') AND interactive) AS interactions,
    count(*) FILTER (WHERE name <> 'engagement') AS events,
    sum(revenue_amount) AS revenue_sum,
    count(revenue_amount) AS revenue_count,
    min_by(pathname, ev_no) FILTER (WHERE name = 'pageview') AS s_entry_page,
    max_by(pathname, ev_no) FILTER (WHERE name = 'pageview') AS s_exit_page,
    {attr_sql}
  FROM numbered
  GROUP BY visitor_id, session_no
)""" + (f",\n{name} AS (SELECT * FROM {name}_all WHERE {STARTED_WHERE})" if started else "")


def sessionised_events(table: str, started: bool = False) -> str:
    """`session_ctes` plus `visit_events`: each event with its visit's attributes (with
    `started`: of the visits that started in the range, and their start, `s_started`)."""
    attr_cols = ", ".join(f"s.{alias}" for alias, _ in SESSION_ATTRS)
    if started:
        attr_cols += ", s.started AS s_started"
    channel = channel_sql("s.s_source", "s.s_utm_medium")
    return f"""{session_ctes(table, started=started)},
visit_events AS (
  SELECT n.*, s.s_entry_page, s.s_exit_page, {attr_cols}, {channel} AS {CHANNEL_COLUMN}
  FROM numbered n JOIN sessions s ON n.visitor_id = s.visitor_id AND n.session_no = s.session_no
)"""


def visits_params(site_id: str, date_range: DateRange) -> Params:
    """The parameters of `session_ctes(table, started=date_range.local)`."""
    args = visit_range_params(site_id, date_range)
    return args + started_params(date_range) if date_range.local else args


def plain_events(table: str) -> str:
    """The cheap stand-in for sessionised_events when no visit attribute is needed."""
    return (
        f"ev AS (\n  SELECT * FROM {table} WHERE {RANGE_WHERE}\n),\n"
        "visit_events AS (SELECT * FROM ev)"
    )


def whole_days(q: StatsQuery) -> tuple[date, date] | None:
    """The days the query's range covers from midnight to midnight, if any (in a zone other
    than UTC, the UTC days holding the range: its visits are chosen by their start)."""
    if q.date_range.local:
        return q.date_range.dt_days()
    start, end = q.date_range.start, q.date_range.end
    first = start.date() if start.time() == datetime.min.time() else start.date() + timedelta(1)
    last = end.date() - timedelta(1)
    return (first, last) if first <= last else None


# ---- the daily rollups -----------------------------------------------------------------------


def rollup_select(sessions: str, keep: tuple[str, ...] = ()) -> str:
    """The rollup's columns (after `keep`): SESSION_COLUMNS, VISITOR_ATTRS and the FIRST_OF
    flags."""
    flags = [
        f"row_number() OVER (PARTITION BY visitor_id, coalesce(CAST({col} AS varchar), '') "
        f"ORDER BY session_no) = 1 AS {flag}"
        for col, flag in FIRST_OF.items()
    ]
    columns = (*keep, *SESSION_COLUMNS, *VISITOR_ATTRS, *flags)
    return f"SELECT {', '.join(columns)} FROM {sessions}"


@dataclass(frozen=True)
class VisitorBucket:
    """The visitor ids whose low bits are `index`, one of `count` (a power of two) buckets.
    A visitor's events all fall in one bucket, and every rollup row is one visitor's, so a
    day's rollup computed bucket by bucket has the rows computed over the whole day, while
    each statement holds only its bucket's events in memory."""

    index: int = 0
    count: int = 1


WHOLE_DAY = VisitorBucket()


def visitor_buckets(rows: int, rows_per_bucket: int) -> list[VisitorBucket]:
    """Enough buckets (a power of two) that each holds about rows_per_bucket events."""
    count = 1
    while rows > count * rows_per_bucket:
        count *= 2
    return [VisitorBucket(i, count) for i in range(count)]


def day_where(site_id: str, day: date, bucket: VisitorBucket) -> tuple[str, Params]:
    midnight = datetime(day.year, day.month, day.day)
    params = (
        site_id,
        day.isoformat(),
        day.isoformat(),
        timestamp_text(midnight),
        timestamp_text(midnight + timedelta(1)),
    )
    if bucket.count == 1:
        return RANGE_WHERE, params
    return f"{RANGE_WHERE} AND bitwise_and(visitor_id, ?) = ?", (
        *params,
        bucket.count - 1,
        bucket.index,
    )


def rollup_statement(
    site_id: str, day: date, bucket: VisitorBucket = WHOLE_DAY, table: str = "events"
) -> Statement:
    """One day's visits (of one bucket of visitors), the rows SESSION_ROLLUP_TABLE holds."""
    where, params = day_where(site_id, day, bucket)
    sql = f"WITH {session_ctes(table, where, visitor_attrs=True)}\n{rollup_select('sessions')}"
    return Statement(sql, params)


def page_rows(table: str, where: str) -> str:
    """One row per visitor and page (PAGE_COLUMNS) of the events `where` selects."""
    attrs = ", ".join(f"min_by({col}, ts) AS {col}" for col in VISITOR_ATTRS)
    return f"""SELECT visitor_id, pathname,
    count(*) FILTER (WHERE name = 'pageview') AS pageviews,
    count(*) FILTER (WHERE name <> 'engagement') AS events,
    sum(revenue_amount) AS revenue_sum,
    count(revenue_amount) AS revenue_count,
    {attrs}
  FROM {table} WHERE {where}
  GROUP BY visitor_id, pathname"""


def page_rollup_statement(
    site_id: str, day: date, bucket: VisitorBucket = WHOLE_DAY, table: str = "events"
) -> Statement:
    """One day's rows (of one bucket of visitors) of PAGE_ROLLUP_TABLE: per visitor and page,
    its counts."""
    where, params = day_where(site_id, day, bucket)
    return Statement(page_rows(table, where), params)


# ---- rollups and events together -------------------------------------------------------------


def _rollup_days(site_id: str, rollup: Rollup) -> Params:
    days = (rollup.first.isoformat(), rollup.last.isoformat())
    return (*days, site_id, *days)


def rolled_up_sessions(
    site_id: str, date_range: DateRange, table: str, rollup: Rollup
) -> tuple[str, Params]:
    """CTE `sessions`: the rollup's rows for its days, computed from events for the rest
    (in a zone other than UTC, those that started in the range)."""
    columns = ", ".join((*SESSION_COLUMNS, *VISITOR_ATTRS, *FIRST_OF.values()))
    started = date_range.local
    live = session_ctes(
        table,
        f"{RANGE_WHERE} AND dt NOT BETWEEN ? AND ?",
        visitor_attrs=True,
        name="live",
        started=started,
    )
    rolled = f"site_id = ? AND dt BETWEEN ? AND ?{f' AND {STARTED_WHERE}' if started else ''}"
    sql = f"""{live},
sessions AS (
  {rollup_select("live")}
  UNION ALL
  SELECT {columns} FROM {SESSION_ROLLUP_TABLE} WHERE {rolled}
)"""
    days = (rollup.first.isoformat(), rollup.last.isoformat())
    live_args = (*visit_range_params(site_id, date_range), *days)
    rolled_args: Params = (site_id, *days)
    if started:
        live_args += started_params(date_range)
        rolled_args += started_params(date_range)
    return sql, live_args + rolled_args


def rolled_up_pages(
    site_id: str, date_range: DateRange, table: str, rollup: Rollup
) -> tuple[str, Params]:
    """CTE `units`: the pages rollup's rows for its days, computed from events for the rest."""
    columns = ", ".join(PAGE_COLUMNS)
    live = page_rows(table, f"{RANGE_WHERE} AND dt NOT BETWEEN ? AND ?")
    sql = f"""units AS (
  {live}
  UNION ALL
  SELECT {columns} FROM {PAGE_ROLLUP_TABLE} WHERE site_id = ? AND dt BETWEEN ? AND ?
)"""
    return sql, range_params(site_id, date_range) + _rollup_days(site_id, rollup)


def _inner_days(date_range: DateRange, rollup: Rollup) -> tuple[date, date] | None:
    """The rolled-up UTC days that lie wholly inside a range of another zone: every visit
    that started on one of them started in the range, with all of its events."""
    start, end = date_range.start_utc, date_range.end_utc
    first = start.date() if start.time() == datetime.min.time() else start.date() + timedelta(1)
    last = end.date() - timedelta(1)
    first, last = max(first, rollup.first), min(last, rollup.last)
    return (first, last) if first <= last else None


def rolled_up_pages_in_zone(
    site_id: str, date_range: DateRange, table: str, rollup: Rollup
) -> tuple[str, Params] | None:
    """CTE `units` for a range of a zone other than UTC: the pages rollup's rows for the
    rolled-up UTC days wholly inside the range, and page rows of the visits that started in
    the range computed from the events of the other days (the range's edges: two partial
    UTC days at most, and any day not rolled up). None when no such rolled-up day exists."""
    inner = _inner_days(date_range, rollup)
    if inner is None:
        return None
    days = (inner[0].isoformat(), inner[1].isoformat())
    edges = session_ctes(table, f"{RANGE_WHERE} AND dt NOT BETWEEN ? AND ?", started=True)
    columns = ", ".join(PAGE_COLUMNS)
    sql = f"""{edges},
kept AS (
  SELECT n.* FROM numbered n
  JOIN sessions s ON n.visitor_id = s.visitor_id AND n.session_no = s.session_no
),
units AS (
  {page_rows("kept", "true")}
  UNION ALL
  SELECT {columns} FROM {PAGE_ROLLUP_TABLE} WHERE site_id = ? AND dt BETWEEN ? AND ?
)"""
    args = (
        *visit_range_params(site_id, date_range),
        *days,
        *started_params(date_range),
        site_id,
        *days,
    )
    return sql, args
