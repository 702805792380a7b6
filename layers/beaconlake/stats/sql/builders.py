"""One statement per stats query, built in the plan's order (stats.sql.plan): over visit
rows, over page rows, or over events. Every statement returns the same columns: the group
keys `k0` … (text; '' for none), the raw columns of stats.sql.metrics, `total_visitors`,
`base_visitors` (for shares and conversion rates) and `total_rows`.

CTEs over events: `visit_events` (events with their visit's attributes), `matched` (those the
filters keep, with props values for props keys), `goal_rows` (one row per matched event and
goal it meets), `event_metrics`, `matched_visits` and `visit_metrics` (the visits of the
matched events, counted by their keys), `page_engagement` and `engagement` (per visitor and
page, then per group), `base` (conversion_rate's visitors without goal filters). Over visit or
page rows: `units`, `matched`, `grouped`.
"""

from __future__ import annotations

from dataclasses import dataclass

from beaconlake.ports import Rollup
from beaconlake.sqldialect import string_literal
from beaconlake.stats import parameter_ctes
from beaconlake.stats.channels import channel_sql
from beaconlake.stats.query import And, DateRange, Goal, QueryError, StatsQuery
from beaconlake.stats.registry import DIMENSIONS, GOAL_DIMENSION, METRICS, PROP_PREFIX, Denominator
from beaconlake.stats.sql import metrics, plan
from beaconlake.stats.sql.filters import (
    FilterCompiler,
    dimensions_used,
    goal_condition,
    without_goal_filters,
)
from beaconlake.stats.sql.sessions import (
    CHANNEL_COLUMN,
    plain_events,
    rolled_up_pages,
    rolled_up_pages_in_zone,
    rolled_up_sessions,
    session_ctes,
    sessionised_events,
    visits_params,
)
from beaconlake.stats.sql.statement import Params, Statement, local_time

TIME_FORMATS = {
    "hour": "%Y-%m-%d %H:00:00",
    "day": "%Y-%m-%d",
    "week": "%Y-%m-%d",
    "month": "%Y-%m-01",
}


@dataclass(frozen=True)
class GroupKey:
    """One group key. A time key groups by `raw(ts)`, a timestamp (cheaper than its text),
    and is shown as `label(raw)`; any other key is the text `column` for both."""

    by_visit_start: bool  # visits are counted in the time bucket of their start
    column: str = ""
    interval: str = ""
    zone: DateRange | None = None  # wall-clock buckets of this range's zone (not UTC)

    def raw(self, ts: str) -> str:
        if not self.interval:
            return self.column
        local = local_time(ts, self.zone) if self.zone is not None else ts
        return f"date_trunc('{self.interval}', {local})"

    def label(self, raw: str) -> str:
        return f"date_format({raw}, '{TIME_FORMATS[self.interval]}')" if self.interval else raw

    def text(self, ts: str) -> str:
        """The key's text over rows whose time column is `ts`."""
        return self.label(self.raw(ts))


def group_keys(q: StatsQuery) -> list[GroupKey]:
    keys = []
    zone = q.date_range if q.date_range.local else None
    for i, dim in enumerate(q.group_by()):
        if dim.startswith("time:"):
            keys.append(GroupKey(True, interval=dim.split(":", 1)[1], zone=zone))
        elif dim == GOAL_DIMENSION:
            keys.append(GroupKey(False, "goal_name"))
        else:  # a props key's value is a column `build` adds (parameter_ctes)
            prop = dim.startswith(PROP_PREFIX)
            expr = parameter_ctes.props_value_column(i) if prop else DIMENSIONS[dim].column
            keys.append(GroupKey(False, f"coalesce(CAST({expr} AS varchar), '')"))
    return keys


def _key_names(groups: list[GroupKey]) -> list[str]:
    return [f"k{i}" for i in range(len(groups))] or ["k0"]


def _positions(keys: list[str]) -> str:
    """GROUP BY by place in the SELECT list: Trino takes GROUP BY names from FROM only."""
    return ", ".join(str(n + 1) for n in range(len(keys)))


def _page(q: StatsQuery, sql: str, paged: bool = True) -> str:
    """ORDER BY the query's order, then OFFSET/LIMIT; neither when not `paged` (a part of a
    larger statement: stats.sql.imported)."""
    if not paged:
        return sql
    sql += metrics.order_by(q, _key_names(group_keys(q)))
    if q.group_by():
        sql += f"\nOFFSET {int(q.offset)} LIMIT {int(q.limit)}"  # Trino: OFFSET before LIMIT
    return sql


# ---- over visit or page rows ------------------------------------------------------------


def _build_from_rows(
    q: StatsQuery, rows: str, args: Params, sums: dict[str, str], ts: str, paged: bool = True
) -> Statement:
    """A statement over the CTEs `rows`, which end in `units` (one row per visit, or per
    visitor and page): filter, group and sum them into the same columns as over events."""
    groups = group_keys(q)
    where, where_args = FilterCompiler(q.goals).compile(And(q.filters))
    keys = _key_names(groups)
    raw_keys = [g.raw(ts) for g in groups] or ["''"]
    select_keys = ", ".join(f"{e} AS {k}" for e, k in zip(raw_keys, keys, strict=True))
    labels = [f"{g.label(k)} AS {k}" for g, k in zip(groups, keys, strict=False)] or keys
    sql = f"""WITH {rows},
matched AS (SELECT * FROM units WHERE {where}),
grouped AS (
  SELECT {select_keys},
    {metrics.aggregates(q, sums)}
  FROM matched GROUP BY {_positions(keys)}
)
SELECT {", ".join(labels)}, {metrics.rows_select(sums)}, {metrics.total_visitors(q)},
  count(*) OVER () AS total_rows
FROM grouped"""
    return Statement(_page(q, sql, paged), args + where_args)


def build_from_visits(
    q: StatsQuery, table: str, rollup: Rollup | None, paged: bool = True
) -> Statement:
    """For queries plan.answerable_from_visits: the same columns, summed per visit."""
    if rollup is None:
        sessions = session_ctes(table, started=q.date_range.local)
        args = visits_params(q.site_id, q.date_range)
    else:
        sessions, args = rolled_up_sessions(q.site_id, q.date_range, table, rollup)
    channel = "NULL"
    if "visit:channel" in dimensions_used(q):
        channel = channel_sql("s_source", "s_utm_medium")
    rows = f"{sessions},\nunits AS (SELECT *, {channel} AS {CHANNEL_COLUMN} FROM sessions)"
    visitors = plan.visitors_over_visits(q, rollup is not None)
    sums = metrics.row_sums("visits", visitors)
    return _build_from_rows(q, rows, args, sums, "started", paged)


def build_from_pages(
    q: StatsQuery, table: str, rollup: Rollup, paged: bool = True
) -> Statement | None:
    """For queries plan.answerable_from_pages, over the pages rollup (None in a zone other
    than UTC when no rolled-up UTC day lies wholly inside the range)."""
    if q.date_range.local:
        found = rolled_up_pages_in_zone(q.site_id, q.date_range, table, rollup)
        if found is None:
            return None
        rows, args = found
    else:
        rows, args = rolled_up_pages(q.site_id, q.date_range, table, rollup)
    sums = metrics.row_sums("pages", plan.visitors_over_pages(q))
    return _build_from_rows(q, rows, args, sums, "ts", paged)


# ---- over events --------------------------------------------------------------------------


def _goal_rows(goals: tuple[Goal, ...]) -> tuple[str, Params]:
    """CTE goal_rows: each matched event once per goal it meets, with the goal's name."""
    if not goals:
        raise QueryError("dimensions", "event:goal needs goals configured for this site")
    rows: list[str] = []
    args: Params = ()
    for goal in goals:
        cond, a = goal_condition(goal)
        name = string_literal(goal.name)  # a SELECT list takes no parameter in Athena
        rows.append(f"SELECT {name} AS goal_name, * FROM matched WHERE {cond}")
        args += a
    return f"goal_rows AS ({' UNION ALL '.join(rows)})", args


def _matched_events(
    q: StatsQuery, table: str, compiler: FilterCompiler
) -> tuple[list[str], Params, str]:
    """The CTEs up to the matched events (per goal with an event:goal key), their parameters
    and the name of the last one."""
    where, where_args = compiler.compile(And(q.filters))
    keyed, key_args = parameter_ctes.props_key_ctes(q.group_by(), "ev")
    local = q.date_range.local
    events = (
        sessionised_events(table, started=local) if plan.needs_sessions(q) else plain_events(table)
    )
    parts = [events, *keyed]
    args: Params = visits_params(q.site_id, q.date_range) + key_args
    source = "visit_events"
    if compiler.flags:
        flagged, flag_args = parameter_ctes.flagged_ctes(compiler.flags, source)
        parts, args, source = [*parts, *flagged], args + flag_args, "flagged"
    props_values = parameter_ctes.props_value_columns(q.group_by())
    parts.append(f"matched AS (SELECT *{props_values} FROM {source} WHERE {where})")
    args += where_args
    if GOAL_DIMENSION not in q.group_by():
        return parts, args, "matched"
    goal_rows, goal_args = _goal_rows(q.goals)
    return [*parts, goal_rows], args + goal_args, "goal_rows"


def _visit_metrics(groups: list[GroupKey], keys: list[str], rows: str) -> str:
    """CTEs matched_visits and visit_metrics: the visits of the `rows`, by their keys (time
    keys by the visit's start), counted with the visit part's raw columns."""
    carried = [(g, k) for g, k in zip(groups, keys, strict=False) if not g.by_visit_start]
    visit_keys = "".join(f"{g.text('ts')} AS {k}, " for g, k in carried)
    by_start = [
        g.text("s.started") if g.by_visit_start else f"m.{k}"
        for g, k in zip(groups, keys, strict=False)
    ] or ["''"]
    select_keys = ", ".join(f"{e} AS {k}" for e, k in zip(by_start, keys, strict=True))
    sums = ",\n    ".join(f"{sql} AS {name}" for name, sql in metrics.visit_sums().items())
    return f"""matched_visits AS (SELECT DISTINCT {visit_keys}visitor_id, session_no FROM {rows}),
visit_metrics AS (
  SELECT {select_keys},
    {sums}
  FROM matched_visits m JOIN sessions s ON m.visitor_id = s.visitor_id AND m.session_no = s.session_no
  GROUP BY {_positions(keys)}
)"""


def _engagement(select_keys: str, keys: list[str], rows: str) -> str:
    """CTEs page_engagement (per group, visitor and page, over engagement events) and
    engagement (their means per group)."""
    columns = metrics.engagement_columns()
    per_page = ", ".join(f"{sql} AS {name}" for _, sql, name in columns)
    means = ", ".join(f"avg({name}) AS {column}" for column, _, name in columns)
    group_cols = ", ".join(keys)
    return f"""page_engagement AS (
  SELECT {select_keys}, visitor_id, pathname,
    {per_page}
  FROM {rows} WHERE name = 'engagement' GROUP BY {_positions(keys)}, visitor_id, pathname
),
engagement AS (
  SELECT {group_cols}, {means}
  FROM page_engagement GROUP BY {group_cols}
)"""


def _base_visitors(q: StatsQuery, compiler: FilterCompiler) -> tuple[str, Params]:
    """CTE base: the events of the query without its goal filters (conversion_rate), with
    the props values its group keys read."""
    base_where, base_args = FilterCompiler(q.goals).compile(And(without_goal_filters(q.filters)))
    if compiler.flags and base_where != "true":
        raise QueryError("filters", "conversion_rate cannot be combined with has_done filters")
    props_values = parameter_ctes.props_value_columns(q.group_by())
    return f"base AS (SELECT *{props_values} FROM visit_events WHERE {base_where})", base_args


def _group_base(groups: list[GroupKey], keys: list[str]) -> tuple[str, str]:
    """CTE group_base: per group, the visitors without the goal filters
    (group_conversion_rate), and the JOIN that brings them to the final SELECT."""
    select_keys = ", ".join(f"{g.text('ts')} AS {k}" for g, k in zip(groups, keys, strict=True))
    on = " AND ".join(f"event_metrics.{k} = group_base.{k}" for k in keys)
    cte = f"""group_base AS (
  SELECT {select_keys}, count(DISTINCT visitor_id) AS group_base_visitors
  FROM base GROUP BY {_positions(keys)}
)"""
    return cte, f" LEFT JOIN group_base ON {on}"


def build_from_events(q: StatsQuery, table: str, paged: bool = True) -> Statement:
    groups = group_keys(q)
    compiler = FilterCompiler(q.goals)
    parts, args, rows = _matched_events(q, table, compiler)
    keys = _key_names(groups)
    # in a zone other than UTC an event is in the time bucket of its visit's start
    event_keys = [g.text("s_started" if g.zone else "ts") for g in groups] or ["''"]
    select_keys = ", ".join(f"{e} AS {k}" for e, k in zip(event_keys, keys, strict=True))
    parts.append(
        f"""event_metrics AS (
  SELECT {select_keys},
    {metrics.aggregates(q, metrics.event_sums())}
  FROM {rows} GROUP BY {_positions(keys)}
)"""
    )
    joined = []
    if metrics.reads_part(q, "visits"):
        parts.append(_visit_metrics(groups, keys, rows))
        joined.append(metrics.PART_CTES["visits"])
    if metrics.reads_part(q, "engagement"):
        parts.append(_engagement(select_keys, keys, rows))
        joined.append(metrics.PART_CTES["engagement"])
    select, from_sql = metrics.final_select(keys, joined)
    totals = metrics.total_visitors(q)
    denominators = {METRICS[m].denominator for m in q.metrics}
    if any(d and d.without_goals for d in denominators):
        base, base_args = _base_visitors(q, compiler)
        parts.append(base)
        args += base_args
        totals += ", (SELECT count(DISTINCT visitor_id) FROM base) AS base_visitors"
    by_group = groups and GOAL_DIMENSION not in q.group_by()
    if Denominator.GROUP_WITHOUT_GOALS in denominators and by_group:
        group_base, join = _group_base(groups, keys)
        parts.append(group_base)
        from_sql += join
        totals += ", group_base.group_base_visitors AS group_base_visitors"
    sql = (
        "WITH "
        + ",\n".join(parts)
        + f"\nSELECT {select}, {totals}, count(*) OVER () AS total_rows\nFROM {from_sql}"
    )
    return Statement(_page(q, sql, paged), args)


def build(
    q: StatsQuery, table: str = "events", rollup: Rollup | None = None, paged: bool = True
) -> Statement:
    """One statement answering any stats query. A `rollup` (from the engine) is used where
    one row per visit, or per visitor and page, can answer (stats.sql.plan). Not `paged`:
    every group, unordered (the native part of stats.sql.imported's merge)."""
    if plan.answerable_from_visits(q, rolled_up=rollup is not None):
        return build_from_visits(q, table, rollup, paged)
    if rollup is not None and plan.answerable_from_pages(q):
        from_pages = build_from_pages(q, table, rollup, paged)
        if from_pages is not None:
            return from_pages
    return build_from_events(q, table, paged)
