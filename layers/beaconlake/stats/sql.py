"""Stats SQL, written once in Athena (Trino) dialect with positional `?` parameters.

Sessions are computed in SQL: the same visitor with gaps under 30 minutes. A session's source,
referrer, UTM tags, channel and entry page are those of its first event; its exit page that of
its last pageview. A bounce is a session with one pageview and no interactive custom event.
Engagement events extend a session's duration but are neither pageviews nor interactions.

Every statement restricts site_id and dt first, so Athena prunes partitions. User text only
ever reaches SQL as a parameter, always in a WHERE clause (the only place Athena takes one;
stats.parameter_ctes has the CTEs that move them there); identifiers and literals come from
fixed tables, except goal names (the operator's configuration), which are output and so
inlined with sqldialect.string_literal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from beaconlake.ports import Rollup
from beaconlake.sqldialect import string_literal
from beaconlake.stats import parameter_ctes
from beaconlake.stats.channels import channel_sql
from beaconlake.stats.query import (
    DIMENSIONS,
    GOAL_DIMENSION,
    PROP_PREFIX,
    SESSION_DIMENSIONS,
    SESSION_METRICS,
    And,
    Filter,
    FilterNode,
    Goal,
    HasDone,
    Not,
    Or,
    QueryError,
    StatsQuery,
)

SESSION_GAP_MS = 30 * 60 * 1000
TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
TIME_FORMATS = {
    "hour": "%Y-%m-%d %H:00:00",
    "day": "%Y-%m-%d",
    "week": "%Y-%m-%d",
    "month": "%Y-%m-01",
}
SESSION_ATTRS = (
    ("s_source", "referrer_source"),
    ("s_referrer", "referrer"),
    ("s_utm_source", "utm_source"),
    ("s_utm_medium", "utm_medium"),
    ("s_utm_campaign", "utm_campaign"),
    ("s_utm_content", "utm_content"),
    ("s_utm_term", "utm_term"),
)
# Event columns fixed by the visitor id within a day (it hashes the IP and User-Agent with the
# day's salt), so every session has one value of each; the rollup keeps them per session.
VISITOR_ATTRS = ("device", "browser", "browser_version", "os", "os_version", "country")
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
Params = tuple[Any, ...]


@dataclass(frozen=True)
class Statement:
    sql: str
    params: Params


def range_params(q: StatsQuery) -> Params:
    return (
        q.site_id,
        q.date_range.first.isoformat(),
        q.date_range.last.isoformat(),
        q.date_range.start.strftime(TS_FORMAT)[:-3],
        q.date_range.end.strftime(TS_FORMAT)[:-3],
    )


RANGE_WHERE = (
    "site_id = ? AND dt BETWEEN ? AND ? "
    "AND ts >= CAST(? AS timestamp) AND ts < CAST(? AS timestamp)"
)


def session_ctes(
    table: str, where: str = RANGE_WHERE, visitor_attrs: bool = False, name: str = "sessions"
) -> str:
    """CTEs `ev` (the events `where` selects), `numbered` (each event with its session_no) and
    `sessions` (or `name`: one row per session with its attributes and totals, plus the
    VISITOR_ATTRS if asked). The default `where` needs the five range parameters.

    Of a visitor's events in the same millisecond only one can open a session (the others
    are 0 ms after it), and the two windows may order such ties differently: `is_new DESC`
    counts that one first, so all of them get its session_no."""
    attrs = [f"min_by({col}, ts) AS {alias}" for alias, col in SESSION_ATTRS]
    if visitor_attrs:
        attrs += [f"min_by({col}, ts) AS {col}" for col in VISITOR_ATTRS]
    attr_sql = ",\n    ".join(attrs)
    return f"""ev AS (
  SELECT * FROM {table} WHERE {where}
),
marked AS (
  SELECT *,
    CASE WHEN date_diff('millisecond', lag(ts) OVER (PARTITION BY visitor_id ORDER BY ts), ts)
      < {SESSION_GAP_MS} THEN 0 ELSE 1 END AS is_new
  FROM ev
),
numbered AS (
  SELECT *,
    sum(is_new) OVER (PARTITION BY visitor_id ORDER BY ts, is_new DESC
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session_no
  FROM marked
),
{name} AS (
  SELECT visitor_id, session_no,
    min(ts) AS started,
    max(ts) AS ended,
    count(*) FILTER (WHERE name = 'pageview') AS pageviews,
    count(*) FILTER (WHERE name NOT IN ('pageview', 'engagement') AND interactive) AS interactions,
    count(*) FILTER (WHERE name <> 'engagement') AS events,
    sum(revenue_amount) AS revenue_sum,
    count(revenue_amount) AS revenue_count,
    min_by(pathname, ts) FILTER (WHERE name = 'pageview') AS s_entry_page,
    max_by(pathname, ts) FILTER (WHERE name = 'pageview') AS s_exit_page,
    {attr_sql}
  FROM numbered
  GROUP BY visitor_id, session_no
)"""


def whole_days(q: StatsQuery) -> tuple[date, date] | None:
    """The days the query's range covers from midnight to midnight, if any."""
    start, end = q.date_range.start, q.date_range.end
    first = start.date() if start.time() == datetime.min.time() else start.date() + timedelta(1)
    last = end.date() - timedelta(1)
    return (first, last) if first <= last else None


# Per session attribute, a flag on each visitor's first session (of the day) with its value:
# counting flagged rows gives that attribute's visitors without a DISTINCT over visitor ids.
FIRST_OF = {"s_source": "first_of_source", "s_entry_page": "first_of_entry_page"}


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
        midnight.strftime(TS_FORMAT)[:-3],
        (midnight + timedelta(1)).strftime(TS_FORMAT)[:-3],
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
    """One day's sessions (of one bucket of visitors), the rows SESSION_ROLLUP_TABLE holds."""
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


def _rolled_up_sessions(q: StatsQuery, table: str, rollup: Rollup) -> tuple[str, Params]:
    """CTE `sessions`: the rollup's rows for its days, computed from events for the rest."""
    columns = ", ".join((*SESSION_COLUMNS, *VISITOR_ATTRS, *FIRST_OF.values()))
    live = session_ctes(
        table, f"{RANGE_WHERE} AND dt NOT BETWEEN ? AND ?", visitor_attrs=True, name="live"
    )
    sql = f"""{live},
sessions AS (
  {rollup_select("live")}
  UNION ALL
  SELECT {columns} FROM {SESSION_ROLLUP_TABLE} WHERE site_id = ? AND dt BETWEEN ? AND ?
)"""
    days = (rollup.first.isoformat(), rollup.last.isoformat())
    return sql, range_params(q) + days + (q.site_id, *days)


def sessionised_events(table: str) -> str:
    """`session_ctes` plus `sev`: each event with its session's attributes."""
    attr_cols = ", ".join(f"s.{alias}" for alias, _ in SESSION_ATTRS)
    channel = channel_sql("s.s_source", "s.s_utm_medium")
    return f"""{session_ctes(table)},
sev AS (
  SELECT n.*, s.s_entry_page, s.s_exit_page, {attr_cols}, {channel} AS s_channel
  FROM numbered n JOIN sessions s ON n.visitor_id = s.visitor_id AND n.session_no = s.session_no
)"""


def plain_events(table: str) -> str:
    """The cheap stand-in for sessionised_events when no session attribute is needed."""
    return f"ev AS (\n  SELECT * FROM {table} WHERE {RANGE_WHERE}\n),\nsev AS (SELECT * FROM ev)"


def _filter_nodes(nodes: tuple[FilterNode, ...]) -> list[FilterNode]:
    out: list[FilterNode] = []
    for node in nodes:
        out.append(node)
        if isinstance(node, And | Or):
            out += _filter_nodes(node.children)
        elif isinstance(node, Not | HasDone):
            out += _filter_nodes((node.child,))
    return out


def _dimensions_used(q: StatsQuery) -> list[str]:
    """Group keys and every filtered dimension."""
    nodes = _filter_nodes(q.filters)
    return [*q.group_by(), *(n.dimension for n in nodes if isinstance(n, Filter))]


def _has_done(q: StatsQuery) -> bool:
    return any(isinstance(n, HasDone) for n in _filter_nodes(q.filters))


def needs_sessions(q: StatsQuery) -> bool:
    """Sessions cost two window passes and a join; skip them when nothing asks for them."""
    if any(m in SESSION_METRICS for m in q.metrics) or "conversion_rate" in q.metrics:
        return True
    if _has_done(q):
        return True
    return any(d in SESSION_DIMENSIONS for d in _dimensions_used(q))


def dimension_expr(dimension: str) -> tuple[str, Params]:
    """SQL for a dimension (from the fixed table) and its parameters (a props key)."""
    if dimension.startswith(PROP_PREFIX):
        return "element_at(props, ?)", (dimension[len(PROP_PREFIX) :],)
    return DIMENSIONS[dimension][0], ()


def like_pattern(path: str) -> str:
    """A goal/funnel path with `*` wildcards → a LIKE pattern (ESCAPE '\\')."""
    escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def goal_condition(goal: Goal) -> tuple[str, Params]:
    if goal.event is not None:
        return "name = ?", (goal.event,)
    return "(name = 'pageview' AND pathname LIKE ? ESCAPE '\\')", (like_pattern(goal.page or ""),)


def _goal_filter(f: Filter, goals: tuple[Goal, ...]) -> tuple[str, Params]:
    by_name = {g.name: g for g in goals}
    unknown = [v for v in f.values if v not in by_name]
    if unknown:
        raise QueryError("filters", f"unknown goal {unknown[0]!r} for this site")
    parts: list[str] = []
    args: Params = ()
    for value in f.values:
        sql, a = goal_condition(by_name[value])
        parts.append(sql)
        args += a
    return "(" + " OR ".join(parts) + ")", args


def _leaf_sql(f: Filter, goals: tuple[Goal, ...]) -> tuple[str, Params]:
    if f.dimension == GOAL_DIMENSION:
        sql, args = _goal_filter(f, goals)
    else:
        expr, params = dimension_expr(f.dimension)
        if f.operator in ("is", "is_not"):
            sql = f"coalesce({expr} IN ({', '.join('?' for _ in f.values)}), false)"
            args = params + tuple(f.values)
        elif f.operator in ("contains", "contains_not"):
            sql = (
                "("
                + " OR ".join(f"strpos(lower(coalesce({expr}, '')), ?) > 0" for _ in f.values)
                + ")"
            )
            args = tuple(a for v in f.values for a in (*params, v.lower()))
        else:
            sql = (
                "("
                + " OR ".join(f"coalesce(regexp_like({expr}, ?), false)" for _ in f.values)
                + ")"
            )
            args = tuple(a for v in f.values for a in (*params, v))
    if f.operator.endswith("_not"):
        sql = f"NOT {sql}"
    return sql, args


@dataclass
class _FilterCompiler:
    """Filter tree → a WHERE clause over `sev`, plus one HasDoneFlag per has_done node."""

    goals: tuple[Goal, ...]
    flags: list[parameter_ctes.HasDoneFlag]

    def compile(self, node: FilterNode) -> tuple[str, Params]:
        if isinstance(node, Filter):
            return _leaf_sql(node, self.goals)
        if isinstance(node, And | Or):
            if not node.children:
                return "true", ()
            joiner = " AND " if isinstance(node, And) else " OR "
            parts = [self.compile(c) for c in node.children]
            return "(" + joiner.join(p for p, _ in parts) + ")", tuple(
                a for _, args in parts for a in args
            )
        if isinstance(node, Not):
            sql, args = self.compile(node.child)
            return f"NOT {sql}", args
        inner, args = _FilterCompiler(self.goals, []).compile(node.child)
        name = f"hd_{len(self.flags)}"
        self.flags.append(parameter_ctes.HasDoneFlag(name, inner, args))
        return (f"{name} = 0" if node.negated else f"{name} = 1"), ()


FilterCompiler = _FilterCompiler  # public name for the other SQL builders (behaviour_sql)


@dataclass(frozen=True)
class _Group:
    """A group key: `key` is its label over `{ts}`; `raw` groups the same rows more cheaply
    (a timestamp rather than its text) and `label` turns a raw value into the key."""

    key: str
    by_session_start: bool
    raw: str = ""
    label: str = "{}"

    def raw_key(self, ts: str) -> str:
        return (self.raw or self.key).format(ts=ts)


def _groups(q: StatsQuery) -> list[_Group]:
    groups = []
    for i, dim in enumerate(q.group_by()):
        if dim.startswith("time:"):
            interval = dim.split(":", 1)[1]
            fmt = TIME_FORMATS[interval]
            raw = f"date_trunc('{interval}', {{ts}})"
            label = f"date_format({{}}, '{fmt}')"
            groups.append(_Group(label.format(raw), True, raw, label))
        elif dim == GOAL_DIMENSION:
            groups.append(_Group("goal_name", False))
        else:  # a props key's value is a column build adds (parameter_ctes)
            prop = dim.startswith(PROP_PREFIX)
            expr = parameter_ctes.props_value_column(i) if prop else DIMENSIONS[dim][0]
            groups.append(_Group(f"coalesce(CAST({expr} AS varchar), '')", False))
    return groups


def _goal_join(goals: tuple[Goal, ...]) -> tuple[str, Params]:
    rows: list[str] = []
    args: Params = ()
    for goal in goals:
        cond, a = goal_condition(goal)
        name = string_literal(goal.name)  # a SELECT list takes no parameter in Athena
        rows.append(f"SELECT {name} AS goal_name, * FROM matched WHERE {cond}")
        args += a
    return " UNION ALL ".join(rows), args


def _top_level_without_goals(filters: tuple[FilterNode, ...]) -> tuple[FilterNode, ...]:
    return tuple(
        f for f in filters if not (isinstance(f, Filter) and f.dimension == GOAL_DIMENSION)
    )


RAW_COLUMNS = (
    "visitors",
    "pageviews",
    "events",
    "visits",
    "bounces",
    "session_pageviews",
    "duration_ms",
    "revenue_sum",
    "revenue_count",
    "scroll_depth_avg",
    "engaged_ms_avg",
)
ORDER_EXPRESSIONS = {
    "visitors": "visitors",
    "pageviews": "pageviews",
    "events": "events",
    "visits": "visits",
    "bounce_rate": "CAST(bounces AS double) / nullif(visits, 0)",
    "visit_duration": "CAST(duration_ms AS double) / nullif(visits, 0)",
    "views_per_visit": "CAST(session_pageviews AS double) / nullif(visits, 0)",
    "percentage": "visitors",
    "conversion_rate": "visitors",
    "total_revenue": "revenue_sum",
    "average_revenue": "CAST(revenue_sum AS double) / nullif(revenue_count, 0)",
    "scroll_depth": "scroll_depth_avg",
    "time_on_page": "engaged_ms_avg",
}


# The raw columns each metric is computed from: those its order expression names, which are
# the ones shape_row reads for it.
METRIC_INPUTS: dict[str, frozenset[str]] = {
    metric: frozenset(re.findall(r"\w+", expr)) & frozenset(RAW_COLUMNS)
    for metric, expr in ORDER_EXPRESSIONS.items()
}


def raw_columns_needed(q: StatsQuery) -> frozenset[str]:
    """The raw columns that q's metrics and order read. A statement computes only these: a
    panel of visitors then reads two columns of the sessions rollup instead of nine, which
    halves its time (docs/BENCHMARKS.md)."""
    fields = [*q.metrics, *(f for f, _ in q.order_by), q.metrics[0] if q.metrics else "visitors"]
    return frozenset(c for f in fields for c in METRIC_INPUTS.get(f, ()))


def unused_value(column: str) -> str:
    """A raw column's value where nothing was counted."""
    return "NULL" if column == "revenue_sum" or column.endswith("_avg") else "0"


def _aggregates(q: StatsQuery, sums: dict[str, str]) -> str:
    needed = raw_columns_needed(q)
    return ",\n    ".join(
        f"{expr if column in needed else unused_value(column)} AS {column}"
        for column, expr in sums.items()
    )


_EVENT_SUMS = {
    "visitors": "count(DISTINCT visitor_id)",
    "pageviews": "count(*) FILTER (WHERE name = 'pageview')",
    "events": "count(*) FILTER (WHERE name <> 'engagement')",
    "revenue_sum": "sum(revenue_amount)",
    "revenue_count": "count(revenue_amount)",
}


_INSIDE_SESSION_METRICS = frozenset({"scroll_depth", "time_on_page", "conversion_rate"})
# With a rollup every visit attribute is a session column, and a day's sessions are that day's
# events, so these also come from one row per session.
_DAY_TIME_DIMENSIONS = frozenset({"time:day", "time:week", "time:month"})
_ROLLUP_DIMENSIONS = frozenset({*(d for d in DIMENSIONS if d.startswith("visit:"))})
_ROLLUP_DIMENSIONS |= _DAY_TIME_DIMENSIONS
# Fixed for a visitor id, hence for its day: one visitor is one first session (session_no 1).
_PER_VISITOR_DIMENSIONS = _DAY_TIME_DIMENSIONS | {
    d for d, (expr, _) in DIMENSIONS.items() if expr in VISITOR_ATTRS
}


def _session_visitors(q: StatsQuery, rolled_up: bool) -> str:
    """Visitors over one row per session. A visitor id lives one day, so where every key and
    filter is fixed per visitor, its first session stands for it; where the one other session
    attribute is a group key with a FIRST_OF flag, the visitor's first session with each value
    does; otherwise count distinct ids."""
    varying = {DIMENSIONS[d][0] for d in _dimensions_used(q) if d not in _PER_VISITOR_DIMENSIONS}
    if not varying:
        return "count(*) FILTER (WHERE session_no = 1)"
    (column,) = varying if len(varying) == 1 else (None,)
    grouped = {DIMENSIONS[d][0] for d in q.group_by() if d in DIMENSIONS}
    if rolled_up and column in FIRST_OF and column in grouped:
        return f"count(*) FILTER (WHERE {FIRST_OF[column]})"
    return "count(DISTINCT visitor_id)"


def answerable_from_sessions(q: StatsQuery, rolled_up: bool = False) -> bool:
    """True when every group key and filter is a session attribute and no metric looks inside
    a session: then one row per session is enough, and the per-event join is skipped. Without
    a rollup this only pays when the sessions are needed anyway."""
    if set(q.metrics) & _INSIDE_SESSION_METRICS or not (rolled_up or needs_sessions(q)):
        return False
    allowed = _ROLLUP_DIMENSIONS if rolled_up else SESSION_DIMENSIONS
    return not _has_done(q) and all(d in allowed for d in _dimensions_used(q))


def _total_visitors(q: StatsQuery) -> str:
    """The visitors of all groups together, for `percentage`; a second pass, so only then."""
    if "percentage" not in q.metrics:
        return "NULL AS total_visitors"
    return "(SELECT count(DISTINCT visitor_id) FROM matched) AS total_visitors"


_SESSION_SUMS = {
    "pageviews": "sum(pageviews)",
    "events": "sum(events)",
    "visits": "count(*)",
    "bounces": "count(*) FILTER (WHERE pageviews = 1 AND interactions = 0)",
    "session_pageviews": "sum(pageviews)",
    "duration_ms": "sum(date_diff('millisecond', started, ended))",
    "revenue_sum": "sum(revenue_sum)",
    "revenue_count": "sum(revenue_count)",
}
_PAGE_SUMS = _SESSION_SUMS | {
    "visits": "0",
    "bounces": "0",
    "session_pageviews": "0",
    "duration_ms": "0",
}


def _build_from_rows(
    q: StatsQuery, rows: str, args: Params, sums: dict[str, str], ts: str
) -> Statement:
    """`build` over the CTEs `rows`, which end in `units` (one row per session, or per visitor
    and page): filter, group and sum them into the same columns."""
    groups = _groups(q)
    where, where_args = _FilterCompiler(q.goals, []).compile(And(q.filters))
    keys = [f"k{i}" for i in range(len(groups))] or ["k0"]
    key_exprs = [g.raw_key(ts) for g in groups] or ["''"]
    select_keys = ", ".join(f"{e} AS {k}" for e, k in zip(key_exprs, keys, strict=True))
    labels = [g.label.format(k) + f" AS {k}" for g, k in zip(groups, keys, strict=False)] or keys
    sql = f"""WITH {rows},
matched AS (SELECT * FROM units WHERE {where}),
em AS (
  SELECT {select_keys},
    {_aggregates(q, sums)}
  FROM matched GROUP BY {", ".join(str(n + 1) for n in range(len(keys)))}
)
SELECT {", ".join(labels)}, {", ".join(c for c in RAW_COLUMNS if not c.endswith("_avg"))},
  NULL AS scroll_depth_avg, NULL AS engaged_ms_avg, {_total_visitors(q)},
  count(*) OVER () AS total_rows
FROM em{_order(q, keys)}"""
    if q.group_by():
        sql += f"\nOFFSET {int(q.offset)} LIMIT {int(q.limit)}"  # Trino: OFFSET before LIMIT
    return Statement(sql, args + where_args)


def _build_from_sessions(q: StatsQuery, table: str, rollup: Rollup | None) -> Statement:
    """`build` for queries `answerable_from_sessions`: the same columns, summed per session."""
    if rollup is None:
        sessions, args = session_ctes(table), range_params(q)
    else:
        sessions, args = _rolled_up_sessions(q, table, rollup)
    channel = "NULL"
    if "visit:channel" in _dimensions_used(q):
        channel = channel_sql("s_source", "s_utm_medium")
    rows = f"{sessions},\nunits AS (SELECT *, {channel} AS s_channel FROM sessions)"
    sums = {"visitors": _session_visitors(q, rollup is not None), **_SESSION_SUMS}
    return _build_from_rows(q, rows, args, sums, "started")


_PAGE_DIMENSIONS = frozenset(
    {"event:page", *(d for d, (expr, _) in DIMENSIONS.items() if expr in VISITOR_ATTRS)}
)
_PAGE_METRICS = frozenset(
    {"visitors", "pageviews", "events", "percentage", "total_revenue", "average_revenue"}
)


def answerable_from_pages(q: StatsQuery) -> bool:
    """True for event counts by page (the pages panel), with filters only on the page and on
    what is fixed per visitor: one row per visitor and page of a day is then enough."""
    used = _dimensions_used(q)
    return (
        "event:page" in used
        and set(q.metrics) <= _PAGE_METRICS
        and not _has_done(q)
        and all(d in _PAGE_DIMENSIONS for d in used)
    )


def _build_from_pages(q: StatsQuery, table: str, rollup: Rollup) -> Statement:
    columns = ", ".join(PAGE_COLUMNS)
    live = page_rows(table, f"{RANGE_WHERE} AND dt NOT BETWEEN ? AND ?")
    rows = f"""units AS (
  {live}
  UNION ALL
  SELECT {columns} FROM {PAGE_ROLLUP_TABLE} WHERE site_id = ? AND dt BETWEEN ? AND ?
)"""
    days = (rollup.first.isoformat(), rollup.last.isoformat())
    args = range_params(q) + days + (q.site_id, *days)
    # a visitor has one row per page, so per page the rows are the visitors
    visitors = "count(*)" if "event:page" in q.group_by() else "count(DISTINCT visitor_id)"
    return _build_from_rows(q, rows, args, {"visitors": visitors, **_PAGE_SUMS}, "ts")


def build(q: StatsQuery, table: str = "events", rollup: Rollup | None = None) -> Statement:
    """One statement answering any stats query: raw counts per group (see RAW_COLUMNS), plus
    `total_visitors`, `base_visitors` (for percentage and conversion rate) and `total_rows`.
    A `rollup` (from the engine) is used where one row per session, or per visitor and page,
    can answer."""
    if answerable_from_sessions(q, rolled_up=rollup is not None):
        return _build_from_sessions(q, table, rollup)
    if rollup is not None and answerable_from_pages(q):
        return _build_from_pages(q, table, rollup)
    groups = _groups(q)
    compiler = _FilterCompiler(q.goals, [])
    where, where_args = compiler.compile(And(q.filters))
    keyed, key_args = parameter_ctes.props_key_ctes(q.group_by(), "ev")
    parts = [sessionised_events(table) if needs_sessions(q) else plain_events(table), *keyed]
    args: Params = range_params(q) + key_args
    source = "sev"
    if compiler.flags:
        flagged, flag_args = parameter_ctes.flagged_ctes(compiler.flags, "sev")
        parts, args, source = [*parts, *flagged], args + flag_args, "flagged"
    props_values = parameter_ctes.props_value_columns(q.group_by())
    parts.append(f"matched AS (SELECT *{props_values} FROM {source} WHERE {where})")
    args += where_args
    rows = "matched"
    if any(d == GOAL_DIMENSION for d in q.group_by()):
        if not q.goals:
            raise QueryError("dimensions", "event:goal needs goals configured for this site")
        union, union_args = _goal_join(q.goals)
        parts.append(f"goal_rows AS ({union})")
        args += union_args
        rows = "goal_rows"

    keys = [f"k{i}" for i in range(len(groups))] or ["k0"]
    event_keys = [g.key.format(ts="ts") for g in groups] or ["''"]
    select_keys = ", ".join(f"{k} AS {n}" for k, n in zip(event_keys, keys, strict=True))
    group_cols = ", ".join(keys)
    # by place in the SELECT list: Trino takes GROUP BY names from FROM, never as aliases
    key_positions = ", ".join(str(n + 1) for n in range(len(keys)))
    parts.append(
        f"""em AS (
  SELECT {select_keys},
    {_aggregates(q, _EVENT_SUMS)}
  FROM {rows} GROUP BY {key_positions}
)"""
    )
    joins = []
    if any(m in SESSION_METRICS for m in q.metrics):
        carried = [(g, k) for g, k in zip(groups, keys, strict=False) if not g.by_session_start]
        ms_keys = "".join(f"{g.key.format(ts='ts')} AS {k}, " for g, k in carried)
        parts.append(f"ms AS (SELECT DISTINCT {ms_keys}visitor_id, session_no FROM {rows})")
        sm_keys = [
            g.key.format(ts="s.started") if g.by_session_start else f"m.{k}"
            for g, k in zip(groups, keys, strict=False)
        ] or ["''"]
        parts.append(
            f"""sm AS (
  SELECT {", ".join(f"{k} AS {n}" for k, n in zip(sm_keys, keys, strict=True))},
    count(*) AS visits,
    count(*) FILTER (WHERE s.pageviews = 1 AND s.interactions = 0) AS bounces,
    sum(s.pageviews) AS session_pageviews,
    sum(date_diff('millisecond', s.started, s.ended)) AS duration_ms
  FROM ms m JOIN sessions s ON m.visitor_id = s.visitor_id AND m.session_no = s.session_no
  GROUP BY {key_positions}
)"""
        )
        joins.append("sm")
    if any(m in ("scroll_depth", "time_on_page") for m in q.metrics):
        parts.append(
            f"""pv AS (
  SELECT {select_keys}, visitor_id, pathname,
    max(scroll_depth) AS depth, sum(engaged_ms) AS engaged
  FROM {rows} WHERE name = 'engagement' GROUP BY {key_positions}, visitor_id, pathname
),
eg AS (
  SELECT {group_cols}, avg(depth) AS scroll_depth_avg, avg(engaged) AS engaged_ms_avg
  FROM pv GROUP BY {group_cols}
)"""
        )
        joins.append("eg")
    select, join_sql = _final_select(keys, joins)
    totals = _total_visitors(q)
    if "conversion_rate" in q.metrics:
        base_where, base_args = _FilterCompiler(q.goals, []).compile(
            And(_top_level_without_goals(q.filters))
        )
        if compiler.flags and base_where != "true":
            raise QueryError("filters", "conversion_rate cannot be combined with has_done filters")
        parts.append(f"base AS (SELECT * FROM sev WHERE {base_where})")
        args += base_args
        totals += ", (SELECT count(DISTINCT visitor_id) FROM base) AS base_visitors"
    sql = (
        "WITH "
        + ",\n".join(parts)
        + f"\nSELECT {select}, {totals}, count(*) OVER () AS total_rows\nFROM {join_sql}"
        + _order(q, keys)
    )
    if q.group_by():
        sql += f"\nOFFSET {int(q.offset)} LIMIT {int(q.limit)}"
    return Statement(sql, args)


def _final_select(keys: list[str], joins: list[str]) -> tuple[str, str]:
    """em FULL JOIN the optional parts on every key; missing numbers become 0."""
    sources = ["em", *joins]
    key_cols = [f"coalesce({', '.join(f'{s}.{k}' for s in sources)}) AS {k}" for k in keys]
    owner = {c: "em" for c in ("visitors", "pageviews", "events", "revenue_sum", "revenue_count")}
    owner |= {c: "sm" for c in ("visits", "bounces", "session_pageviews", "duration_ms")}
    owner |= {c: "eg" for c in ("scroll_depth_avg", "engaged_ms_avg")}
    cols = []
    for c in RAW_COLUMNS:
        src = owner[c]
        if src in sources:
            cols.append(f"coalesce({src}.{c}, {unused_value(c)}) AS {c}")
        else:
            cols.append(f"{unused_value(c)} AS {c}")
    join_sql = "em"
    for j in joins:
        on = " AND ".join(f"em.{k} = {j}.{k}" for k in keys)
        join_sql += f" FULL OUTER JOIN {j} ON {on}"
    return ", ".join(key_cols + cols), join_sql


def _order(q: StatsQuery, keys: list[str]) -> str:
    dims = q.group_by()
    if not dims:
        return ""
    terms = []
    for field_name, direction in q.order_by:
        if field_name in dims:
            terms.append(f"{keys[dims.index(field_name)]} {direction.upper()}")
        elif field_name in ORDER_EXPRESSIONS:
            terms.append(f"{ORDER_EXPRESSIONS[field_name]} {direction.upper()} NULLS LAST")
    if not terms:
        time_keys = [keys[i] for i, d in enumerate(dims) if d.startswith("time:")]
        if time_keys and len(time_keys) == len(dims):
            terms = [f"{k} ASC" for k in time_keys]
        else:
            first = q.metrics[0] if q.metrics else "visitors"
            terms = [f"{ORDER_EXPRESSIONS[first]} DESC NULLS LAST"]
    terms += [f"{k} ASC" for k in keys]
    return "\nORDER BY " + ", ".join(terms)


def shape_row(row: dict[str, Any], metrics: tuple[str, ...]) -> dict[str, Any]:
    """Raw counts → the metrics asked for (rates rounded like Plausible)."""
    visits = int(row.get("visits") or 0)
    visitors = int(row.get("visitors") or 0)
    out: dict[str, Any] = {}
    for m in metrics:
        if m in ("visitors", "pageviews", "events"):
            out[m] = int(row.get(m) or 0)
        elif m == "visits":
            out[m] = visits
        elif m == "bounce_rate":
            out[m] = round(100 * int(row.get("bounces") or 0) / visits) if visits else 0
        elif m == "visit_duration":
            out[m] = round(int(row.get("duration_ms") or 0) / 1000 / visits) if visits else 0
        elif m == "views_per_visit":
            out[m] = round(int(row.get("session_pageviews") or 0) / visits, 2) if visits else 0.0
        elif m == "percentage":
            total = int(row.get("total_visitors") or 0)
            out[m] = round(100 * visitors / total, 1) if total else 0.0
        elif m == "conversion_rate":
            base = int(row.get("base_visitors") or 0)
            out[m] = round(100 * visitors / base, 1) if base else 0.0
        elif m == "total_revenue":
            total_rev = row.get("revenue_sum")
            out[m] = float(total_rev) if total_rev is not None else None
        elif m == "average_revenue":
            count = int(row.get("revenue_count") or 0)
            rev = row.get("revenue_sum")
            out[m] = round(float(rev) / count, 2) if count and rev is not None else None
        elif m == "scroll_depth":
            depth = row.get("scroll_depth_avg")
            out[m] = round(float(depth)) if depth is not None else None
        elif m == "time_on_page":
            engaged = row.get("engaged_ms_avg")
            out[m] = round(float(engaged) / 1000) if engaged is not None else None
    return out
