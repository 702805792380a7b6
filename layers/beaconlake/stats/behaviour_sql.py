"""Behaviour SQL, written once in Athena (Trino) dialect with positional `?` parameters.

Built from `beaconlake.stats.sql`'s pieces: the range restriction (site_id and dt first, so
Athena prunes partitions), the sessionisation CTEs and the filter compiler. Filters choose
*visits*: a visit is analysed, all of its events, when one of its events matches the filters.

Funnels and sequences are step-wise joins (Athena has no window_funnel): step 1 is every
matching event; step k+1 is, for each chain, the earliest matching event after step k
(strict order: the very next event), within the window counted from step 1. Taking the
earliest next event is optimal for a fixed start, and every start is tried, so a unit
reaches step k exactly when some chain of its events does. Engagement events are left out:
they are the tracker's heartbeat, not something a visitor does.

Athena takes `?` parameters only in WHERE clauses, so a step's condition and the window are
tested in the WHERE of the join that takes the step, never in a SELECT list or an ON.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from beaconlake.stats.parameter_ctes import flagged_ctes
from beaconlake.stats.query import And, DateRange, Goal, StatsQuery
from beaconlake.stats.sql import (
    RANGE_WHERE,
    FilterCompiler,
    Params,
    Statement,
    goal_condition,
    like_pattern,
    needs_sessions,
    range_params,
    sessionised_events,
)
from beaconlake.stats.sql.sessions import IN_ORDER, visits_params
from beaconlake.stats.sql.statement import local_time

if TYPE_CHECKING:
    from beaconlake.stats.behaviour_query import (
        FunnelQuery,
        JourneyQuery,
        PathsQuery,
        RetentionQuery,
        Scope,
        Step,
    )

# time, then order of arrival (sessions.IN_ORDER), then name and path where `seq` is NULL
ORDER_IN_VISIT = f"ORDER BY {IN_ORDER}, name, pathname"
EXIT, ENTRANCE = "(exit)", "(entrance)"
REALTIME_MINUTES = 30


def realtime_window(now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the 30 whole minutes up to and including the current one (UTC)."""
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return end - timedelta(minutes=REALTIME_MINUTES), end


def _scoped(scope: Scope, table: str, with_sessions: bool) -> tuple[list[str], Params]:
    """CTEs ending in `scoped`: the range's events of the visits the filters choose, each
    with its `session_no` when `with_sessions` (or when there are filters)."""
    q = StatsQuery(
        scope.site_id, scope.date_range, ("visitors",), filters=scope.filters, goals=scope.goals
    )
    local = scope.date_range.local  # then the visits that started in the range
    parts = [sessionised_events(table, started=local)]
    args: Params = visits_params(scope.site_id, scope.date_range)
    if not scope.filters and local:
        parts.append(
            "scoped AS (SELECT n.* FROM numbered n JOIN sessions s "
            "ON n.visitor_id = s.visitor_id AND n.session_no = s.session_no)"
        )
        return parts, args
    if not scope.filters:
        parts.append(f"scoped AS (SELECT * FROM {'numbered' if with_sessions else 'ev'})")
        return parts, args
    compiler = FilterCompiler(scope.goals, [])
    where, where_args = compiler.compile(And(scope.filters))
    source = "visit_events" if needs_sessions(q) else "numbered"  # local: needs_sessions
    if compiler.flags:
        flagged, flag_args = flagged_ctes(compiler.flags, source)
        parts += flagged
        args += flag_args
        source = "flagged"
    parts.append(f"chosen AS (SELECT DISTINCT visitor_id, session_no FROM {source} WHERE {where})")
    args += where_args
    parts.append(
        "scoped AS (SELECT n.* FROM numbered n JOIN chosen c "
        "ON n.visitor_id = c.visitor_id AND n.session_no = c.session_no)"
    )
    return parts, args


def step_condition(step: Step) -> tuple[str, Params]:
    if step.page is not None:
        return goal_condition(Goal(step.label, page=step.page))
    conds = ["name = ?"]
    args: Params = (step.event,)
    for key, value in step.props:
        conds.append("coalesce(element_at(props, ?) = ?, false)")
        args += (key, value)
    return "(" + " AND ".join(conds) + ")", args


def funnel(q: FunnelQuery, table: str = "events", count_total: bool = False) -> Statement:
    """One row: `step_1` … `step_n` (units reaching each step) and, with `count_total`,
    `total` (units in scope: a sequence's denominator; a funnel's rates are relative to its
    first step, and the count costs another pass over the range). The unit is a visitor
    (visitor_id over the range) or a visit (sequences)."""
    keys = ["visitor_id"] if q.unit == "visitors" else ["visitor_id", "session_no"]
    parts, args = _scoped(q.scope, table, with_sessions=q.unit == "visits")
    key_list = ", ".join(keys)
    conditions = [step_condition(step) for step in q.steps]
    # the columns step conditions read (props only when a step has props)
    columns = "ts, seq, name, pathname" + (", props" if any(s.props for s in q.steps) else "")
    parts.append(f"stepped AS (SELECT {key_list}, {columns} FROM scoped)")
    # In a strict funnel a step must be the very next event, so every event is numbered; in
    # an ordered one only the order of the events matching a step matters: numbering just
    # those spares the window the bulk of the range's events.
    matching = ""
    if q.order != "strict":
        distinct = list(dict.fromkeys(conditions))
        matching = f" AND ({' OR '.join(cond for cond, _ in distinct)})"
        args += tuple(a for _, cond_args in distinct for a in cond_args)
    parts.append(
        f"funnel_events AS (\n  SELECT {key_list}, {columns},\n"
        f"    row_number() OVER (PARTITION BY {key_list} {ORDER_IN_VISIT}) AS pos\n"
        f"  FROM stepped WHERE name <> 'engagement'{matching}\n)"
    )
    first, first_args = conditions[0]
    parts.append(f"f1 AS (SELECT {key_list}, ts AS t1, pos AS q1 FROM funnel_events WHERE {first})")
    args += first_args
    chain_keys = ", ".join(f"f.{k}" for k in keys)
    same_unit = " AND ".join(f"e.{k} = f.{k}" for k in keys)
    # A step's condition names funnel_events' columns unqualified: f{i - 1} has none of them.
    for i, (cond, cond_args) in enumerate(conditions[1:], start=2):
        follows = f"e.pos = f.q{i - 1} + 1" if q.order == "strict" else f"e.pos > f.q{i - 1}"
        args += cond_args
        window = ""
        if q.window_minutes is not None:
            window = " AND date_diff('millisecond', f.t1, e.ts) <= ?"
            args += (q.window_minutes * 60_000,)
        parts.append(
            f"f{i} AS (\n  SELECT {chain_keys}, f.t1, min(e.pos) AS q{i}\n"
            f"  FROM f{i - 1} f JOIN funnel_events e ON {same_unit} AND {follows}\n"
            f"  WHERE {cond}{window} GROUP BY {chain_keys}, f.t1, f.q{i - 1}\n)"
        )
    counts = [
        f"(SELECT count(*) FROM (SELECT DISTINCT {key_list} FROM f{i}) u{i}) AS step_{i}"
        for i in range(1, len(q.steps) + 1)
    ]
    if count_total:
        # from `stepped`, not `scoped`: DuckDB materialises a CTE read twice, and `scoped`
        # has every column
        counts.append(
            f"(SELECT count(*) FROM (SELECT DISTINCT {key_list} FROM stepped) u0) AS total"
        )
    sql = "WITH " + ",\n".join(parts) + f"\nSELECT {', '.join(counts)}"
    return Statement(sql, args)


def journeys(q: JourneyQuery, table: str = "events") -> Statement:
    """Per neighbouring page: visits in which a pageview of `page` was followed (preceded)
    by it, plus `total`, the visits with a pageview of `page`."""
    parts, args = _scoped(q.scope, table, with_sessions=True)
    fn, none = ("lead", EXIT) if q.direction == "next" else ("lag", ENTRANCE)
    parts.append(
        "pv AS (\n  SELECT visitor_id, session_no, pathname,\n"
        f"    coalesce({fn}(pathname) OVER (PARTITION BY visitor_id, session_no "
        f"{ORDER_IN_VISIT}), '{none}') AS other\n"
        "  FROM scoped WHERE name = 'pageview'\n)"
    )
    parts.append(
        "hits AS (SELECT DISTINCT visitor_id, session_no, other FROM pv "
        "WHERE pathname LIKE ? ESCAPE '\\')"
    )
    args += (like_pattern(q.page),)
    sql = (
        "WITH " + ",\n".join(parts) + "\nSELECT other AS page, count(*) AS visits,\n"
        "  (SELECT count(*) FROM (SELECT DISTINCT visitor_id, session_no FROM hits) h) AS total\n"
        "FROM hits GROUP BY other\nORDER BY visits DESC, page ASC\n"
        f"LIMIT {int(q.limit)}"
    )
    return Statement(sql, args)


def paths(q: PathsQuery, table: str = "events") -> Statement:
    """Visits per run of `steps` consecutive pageviews (`p1` … `pN`, `visits`)."""
    parts, args = _scoped(q.scope, table, with_sessions=True)
    names = [f"p{i}" for i in range(1, q.steps + 1)]
    cols = ["pathname AS p1"] + [
        f"lead(pathname, {i}) OVER (PARTITION BY visitor_id, session_no {ORDER_IN_VISIT}) "
        f"AS p{i + 1}"
        for i in range(1, q.steps)
    ]
    parts.append(
        f"pv AS (\n  SELECT visitor_id, session_no, {', '.join(cols)}\n"
        "  FROM scoped WHERE name = 'pageview'\n)"
    )
    start = ""
    if q.start_page is not None:
        start = " AND p1 LIKE ? ESCAPE '\\'"
        args += (like_pattern(q.start_page),)
    path_cols = ", ".join(names)
    parts.append(
        f"hits AS (SELECT DISTINCT visitor_id, session_no, {path_cols} FROM pv "
        f"WHERE {names[-1]} IS NOT NULL{start})"
    )
    sql = (
        "WITH "
        + ",\n".join(parts)
        + f"\nSELECT {path_cols}, count(*) AS visits FROM hits GROUP BY {path_cols}\n"
        f"ORDER BY visits DESC, {path_cols}\nLIMIT {int(q.limit)}"
    )
    return Statement(sql, args)


def retention(q: RetentionQuery, table: str = "events") -> Statement:
    """(cohort, active, users): users first seen in the range in period `cohort` and active
    in period `active` (both 'YYYY-MM-DD', days or Mondays)."""
    period = {"day": "day", "week": "week"}[q.period]
    ts = local_time("ts", q.date_range)  # the days of the site's time zone
    sql = f"""WITH act AS (
  SELECT DISTINCT user_id, date_trunc('{period}', {ts}) AS p
  FROM {table} WHERE {RANGE_WHERE} AND user_id IS NOT NULL
),
first_seen AS (SELECT user_id, min(p) AS cohort FROM act GROUP BY user_id)
SELECT date_format(f.cohort, '%Y-%m-%d') AS cohort, date_format(a.p, '%Y-%m-%d') AS active,
  count(*) AS users
FROM act a JOIN first_seen f ON a.user_id = f.user_id
GROUP BY f.cohort, a.p
ORDER BY f.cohort, a.p"""
    return Statement(sql, range_params(q.site_id, q.date_range))


def realtime(site_id: str, now: datetime, table: str = "events") -> Statement:
    """(minute, visitor_id, pageviews) over the realtime window; `behaviour.realtime_result`
    counts them, together with the same rows made from events not stored yet."""
    start, end = realtime_window(now)
    last_day = (end - timedelta(milliseconds=1)).date()
    window = DateRange(start.date(), last_day, start, end)
    sql = f"""SELECT date_format(date_trunc('minute', ts), '%Y-%m-%d %H:%i:00') AS minute,
  visitor_id, count(*) FILTER (WHERE name = 'pageview') AS pageviews
FROM {table} WHERE {RANGE_WHERE}
GROUP BY date_trunc('minute', ts), visitor_id"""
    return Statement(sql, range_params(site_id, window))
