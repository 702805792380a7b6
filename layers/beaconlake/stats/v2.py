"""The v2 query API, shaped like Plausible's Stats API v2, plus comparisons.

`parse_query` turns the JSON body into a StatsQuery (or a QueryError naming the field);
`run_query` runs it and, when asked, the same query over the comparison range, side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from beaconlake.ports import QueryEngine
from beaconlake.stats.limits import LIMITS
from beaconlake.stats.query import (
    GOAL_DIMENSION,
    MAX_LIMIT,
    SESSION_METRICS,
    TIME_DIMENSIONS,
    V2_METRICS,
    And,
    DateRange,
    Filter,
    FilterNode,
    Goal,
    HasDone,
    Not,
    Or,
    QueryError,
    StatsQuery,
    check_depth,
    check_dimension,
    check_filters,
    check_span,
    check_values,
    today_utc,
)
from beaconlake.stats.service import statement, time_buckets
from beaconlake.stats.sql import shape_row

RELATIVE_RANGES = ("day", "7d", "28d", "30d", "91d", "month", "6mo", "12mo", "year", "all")
COMPARISON_MODES = ("previous_period", "year_over_year", "custom")
ALL_TIME_YEARS = 10
# metrics shown as a difference in points, not a percent change
POINT_METRICS = ("bounce_rate", "percentage", "conversion_rate")


def _months_back(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    return date(month_index // 12, month_index % 12 + 1, 1)


def _parse_moment(value: Any, field_name: str) -> tuple[date, datetime | None]:
    if not isinstance(value, str):
        raise QueryError(field_name, "dates must be strings like 2026-01-31 or ISO datetimes")
    try:
        if len(value) == 10:
            return date.fromisoformat(value), None
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(field_name, f"{value!r} is not a date or an ISO 8601 datetime") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.date(), moment


def parse_date_range(
    value: Any, ref: date | None = None, field_name: str = "date_range"
) -> DateRange:
    try:
        return _date_range(value, ref or today_utc(), field_name)
    except QueryError:
        raise
    except (ValueError, OverflowError):  # a relative range reaching before year 1
        raise QueryError(field_name, "a date is out of range") from None


def _date_range(value: Any, today: date, field_name: str) -> DateRange:
    if isinstance(value, str):
        days = {"day": 1, "7d": 7, "28d": 28, "30d": 30, "91d": 91}
        if value in days:
            return DateRange(today - timedelta(days=days[value] - 1), today)
        if value == "month":
            return DateRange(today.replace(day=1), today)
        if value in ("6mo", "12mo"):
            return DateRange(_months_back(today, int(value[:-2]) - 1), today)
        if value == "year":
            return DateRange(today.replace(month=1, day=1), today)
        if value == "all":
            return DateRange(today.replace(year=today.year - ALL_TIME_YEARS), today)
        raise QueryError(field_name, f"use one of {', '.join(RELATIVE_RANGES)} or [from, to]")
    if not isinstance(value, list) or len(value) != 2:
        raise QueryError(field_name, "must be a relative range like '30d' or a pair [from, to]")
    first, start_at = _parse_moment(value[0], field_name)
    last, end_at = _parse_moment(value[1], field_name)
    if end_at is not None:
        end_at += timedelta(milliseconds=1)  # the given end is included
    if (end_at or datetime.combine(last, datetime.max.time())) < (
        start_at or datetime.combine(first, datetime.min.time())
    ):
        raise QueryError(field_name, "the end of the range is before its start")
    check_span(first, last, field_name)
    return DateRange(first, last, start_at, end_at)


def _auto_interval(r: DateRange) -> str:
    days = (r.last - r.first).days + 1
    return "hour" if days <= 1 else "day" if days <= 92 else "month"


def parse_filter(
    raw: Any, path: str, goals: tuple[Goal, ...], depth: int = 1, in_has_done: bool = False
) -> FilterNode:
    """One filter (tree) of a v2 body; deeper than LIMITS.depth is a 400 before any recursion
    could run out of stack, here or in the SQL builder."""
    check_depth(depth, path)
    if not isinstance(raw, list) or not raw or not isinstance(raw[0], str):
        raise QueryError(path, "a filter is [operator, dimension, [values]] or [and|or, [...]]")
    op = raw[0]
    if op in ("and", "or"):
        if len(raw) != 2 or not isinstance(raw[1], list) or not raw[1]:
            raise QueryError(path, f"{op} takes a non-empty list of filters")
        children = tuple(
            parse_filter(c, f"{path}[1][{i}]", goals, depth + 1, in_has_done)
            for i, c in enumerate(raw[1])
        )
        return And(children) if op == "and" else Or(children)
    if op in ("not", "has_done", "has_not_done"):
        if len(raw) != 2:
            raise QueryError(path, f"{op} takes exactly one filter")
        if op != "not" and in_has_done:
            raise QueryError(
                path, f"{op} cannot be used inside has_done or has_not_done", "has_done_nested"
            )
        child = parse_filter(raw[1], f"{path}[1]", goals, depth + 1, in_has_done or op != "not")
        if op == "not":
            return Not(child)
        return HasDone(child, negated=op == "has_not_done")
    if op not in ("is", "is_not", "contains", "contains_not", "matches", "matches_not"):
        raise QueryError(path, f"unknown filter operator {op!r}")
    if len(raw) not in (3, 4) or not isinstance(raw[1], str) or not isinstance(raw[2], list):
        raise QueryError(path, f"{op} takes a dimension and a list of values")
    dimension = raw[1]
    if dimension != GOAL_DIMENSION:
        try:
            check_dimension(dimension)
        except QueryError as exc:
            raise QueryError(f"{path}[1]", exc.message, exc.rule) from None
    values = tuple(raw[2])
    if not values or not all(isinstance(v, str) for v in values):
        raise QueryError(f"{path}[2]", "values must be a non-empty list of strings")
    check_values(values, f"{path}[2]")
    if dimension == GOAL_DIMENSION and op not in ("is", "is_not"):
        raise QueryError(path, "event:goal can only be filtered with is / is_not")
    if op.startswith("matches"):
        from beaconlake.stats.regex_guard import check_regex

        for v in values:
            try:
                check_regex(v)
            except QueryError as exc:
                raise QueryError(f"{path}[2]", exc.message, exc.rule or "regex") from None
    return Filter(dimension, op, values)


def parse_filters(raw: list[Any], goals: tuple[Goal, ...]) -> tuple[FilterNode, ...]:
    """A v2 body's `filters`, within the query limits (count, values, depth, text)."""
    if len(raw) > LIMITS.filters:
        raise QueryError("filters", f"a query has at most {LIMITS.filters} filters", "max_filters")
    filters = tuple(parse_filter(f, f"filters[{i}]", goals) for i, f in enumerate(raw))
    check_filters(filters)
    return filters


def _check_dimension(dim: Any, path: str) -> str:
    if not isinstance(dim, str):
        raise QueryError(path, "dimensions are strings")
    if dim in TIME_DIMENSIONS or dim == GOAL_DIMENSION:
        return dim
    try:
        return check_dimension(dim)
    except QueryError as exc:
        raise QueryError(path, exc.message, exc.rule) from None


def _has_goal_filter(filters: tuple[FilterNode, ...]) -> bool:
    return any(isinstance(f, Filter) and f.dimension == GOAL_DIMENSION for f in filters)


def _check_combinations(q: StatsQuery) -> None:
    dims = q.group_by()
    session = [m for m in q.metrics if m in SESSION_METRICS]
    event_dims = [
        d for d in dims if d.startswith("event:") and d not in ("event:page", "event:hostname")
    ]
    if session and event_dims:
        raise QueryError(
            "metrics",
            f"session metrics ({', '.join(session)}) cannot be broken down by {event_dims[0]}: "
            "a visit has many events. Use visitors, events or pageviews, or filter instead.",
        )
    wants_goal = GOAL_DIMENSION in dims or _has_goal_filter(q.filters)
    if "conversion_rate" in q.metrics and not wants_goal:
        raise QueryError("metrics", "conversion_rate needs an event:goal dimension or goal filter")
    if "percentage" in q.metrics and not dims:
        raise QueryError("metrics", "percentage needs at least one dimension")
    if sum(d in TIME_DIMENSIONS for d in dims) > 1:
        raise QueryError("dimensions", "use at most one time dimension")


def parse_query(
    body: dict[str, Any],
    goals_for: dict[str, tuple[Goal, ...]],
    ref: date | None = None,
) -> StatsQuery:
    """The v2 JSON body → StatsQuery. Site access is checked by the caller."""
    site_id = str(body.get("site_id", "")).strip().lower()
    goals = goals_for.get(site_id, ())
    metrics = body.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise QueryError("metrics", "metrics must be a non-empty list")
    for i, m in enumerate(metrics):
        if m not in V2_METRICS:
            raise QueryError(
                f"metrics[{i}]", f"unknown metric {m!r}; use any of {', '.join(V2_METRICS)}"
            )
    if len(set(metrics)) != len(metrics):
        raise QueryError("metrics", "a metric is listed twice")
    date_range = parse_date_range(body.get("date_range", "30d"), ref)
    raw_dims = body.get("dimensions") or []
    if not isinstance(raw_dims, list) or len(raw_dims) > 4:
        raise QueryError("dimensions", "dimensions must be a list of at most 4")
    dims = [_check_dimension(d, f"dimensions[{i}]") for i, d in enumerate(raw_dims)]
    dims = [f"time:{_auto_interval(date_range)}" if d == "time" else d for d in dims]
    raw_filters = body.get("filters") or []
    if not isinstance(raw_filters, list):
        raise QueryError("filters", "filters must be a list")
    filters = parse_filters(raw_filters, goals)
    order_by = _parse_order_by(body.get("order_by") or [], metrics, dims)
    pagination = body.get("pagination") or {}
    if not isinstance(pagination, dict):
        raise QueryError("pagination", "pagination is {limit, offset}")
    limit, offset = pagination.get("limit", 10_000), pagination.get("offset", 0)
    if not isinstance(limit, int) or not 1 <= limit <= 10_000:
        raise QueryError("pagination.limit", "limit must be between 1 and 10000")
    if not isinstance(offset, int) or not 0 <= offset <= 1_000_000:
        raise QueryError("pagination.offset", "offset must be between 0 and 1000000")
    q = StatsQuery(
        site_id=site_id,
        date_range=date_range,
        metrics=tuple(metrics),
        filters=filters,
        dimensions=tuple(dims),
        order_by=order_by,
        limit=limit,
        offset=offset,
        goals=goals,
    )
    _check_combinations(q)
    return q


def _parse_order_by(raw: Any, metrics: list[str], dims: list[str]) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list):
        raise QueryError("order_by", "order_by is a list of [metric or dimension, asc|desc]")
    out = []
    for i, item in enumerate(raw):
        ok = isinstance(item, list) and len(item) == 2 and item[1] in ("asc", "desc")
        if not ok or (item[0] not in metrics and item[0] not in dims):
            raise QueryError(
                f"order_by[{i}]", "each entry is [a queried metric or dimension, 'asc' or 'desc']"
            )
        out.append((item[0], item[1]))
    return tuple(out)


def comparison_range(r: DateRange, mode: str, custom: Any, ref: date | None) -> DateRange:
    try:
        return _comparison_range(r, mode, custom, ref)
    except QueryError:
        raise
    except (ValueError, OverflowError):  # before year 1
        raise QueryError("date_range", "a date is out of range") from None


def _comparison_range(r: DateRange, mode: str, custom: Any, ref: date | None) -> DateRange:
    if mode == "previous_period":
        if r.start_at is not None or r.end_at is not None:
            span = r.end - r.start
            start, end = r.start - span, r.start
            return DateRange(start.date(), (end - timedelta(milliseconds=1)).date(), start, end)
        return r.shifted(-((r.last - r.first).days + 1))
    if mode == "year_over_year":

        def back(d: date) -> date:
            return d.replace(year=d.year - 1, day=min(d.day, 28) if d.month == 2 else d.day)

        return DateRange(back(r.first), back(r.last))
    if mode == "custom":
        return parse_date_range(custom, ref, "include.comparisons.date_range")
    raise QueryError("include.comparisons.mode", f"use one of {', '.join(COMPARISON_MODES)}")


def change(metric: str, current: Any, previous: Any) -> float | int | None:
    if current is None or previous is None:
        return None
    if metric in POINT_METRICS or metric in ("scroll_depth",):
        return round(float(current) - float(previous), 1)
    if previous == 0:
        return 0 if current == 0 else 100
    return round((float(current) - float(previous)) / float(previous) * 100)


@dataclass(frozen=True)
class Include:
    total_rows: bool = False
    time_labels: bool = False
    comparison_mode: str | None = None
    comparison_range: Any = None


def parse_include(raw: Any) -> Include:
    if raw is None:
        return Include()
    if not isinstance(raw, dict):
        raise QueryError("include", "include is an object")
    comparisons = raw.get("comparisons")
    mode = None
    custom = None
    if comparisons is not None:
        if not isinstance(comparisons, dict) or comparisons.get("mode") not in COMPARISON_MODES:
            raise QueryError(
                "include.comparisons.mode", f"use one of {', '.join(COMPARISON_MODES)}"
            )
        mode = comparisons["mode"]
        custom = comparisons.get("date_range")
    return Include(bool(raw.get("total_rows")), bool(raw.get("time_labels")), mode, custom)


def _dims_of(row: dict[str, Any], q: StatsQuery) -> list[Any]:
    out = []
    for i, _ in enumerate(q.group_by()):
        value = row.get(f"k{i}")
        out.append(value if value != "" else None)
    return out


def run_query(
    engine: QueryEngine, q: StatsQuery, include: Include, ref: date | None = None
) -> dict[str, Any]:
    statements = [statement(engine, q)]
    cmp_q = None
    if include.comparison_mode:
        cmp_range = comparison_range(
            q.date_range, include.comparison_mode, include.comparison_range, ref
        )
        cmp_q = replace(q, date_range=cmp_range, limit=MAX_LIMIT * 10, offset=0)
        statements.append(statement(engine, cmp_q))
    answers = engine.query_many([(s.sql, s.params) for s in statements])
    rows = answers[0]
    if not q.group_by() and not rows:
        rows = [{}]
    previous: dict[tuple[Any, ...], dict[str, Any]] = {}
    if cmp_q is not None:
        cmp_rows = answers[1] or ([{}] if not q.group_by() else [])
        previous = {tuple(_dims_of(r, cmp_q)): r for r in cmp_rows}
    results = []
    for row in rows:
        dims = _dims_of(row, q)
        values = shape_row(row, q.metrics)
        item: dict[str, Any] = {"metrics": [values[m] for m in q.metrics], "dimensions": dims}
        if cmp_q is not None:
            prev_values = shape_row(previous.get(tuple(dims), {}), q.metrics)
            item["comparison"] = {
                "dimensions": dims,
                "metrics": [prev_values[m] for m in q.metrics],
                "change": [change(m, values[m], prev_values[m]) for m in q.metrics],
            }
        results.append(item)
    meta: dict[str, Any] = {}
    if include.total_rows:
        meta["total_rows"] = int(rows[0].get("total_rows") or 0) if rows and rows[0] else 0
    time_dims = [d for d in q.group_by() if d in TIME_DIMENSIONS]
    if include.time_labels and time_dims:
        interval = time_dims[0].split(":")[1]
        meta["time_labels"] = time_buckets(q.date_range.first, q.date_range.last, interval)
    if cmp_q is not None:
        meta["comparison_date_range"] = [
            cmp_q.date_range.start.isoformat(),
            cmp_q.date_range.end.isoformat(),
        ]
    return {
        "results": results,
        "meta": meta,
        "query": {
            "site_id": q.site_id,
            "metrics": list(q.metrics),
            "date_range": [q.date_range.start.isoformat(), q.date_range.end.isoformat()],
            "dimensions": list(q.group_by()),
            "order_by": [list(o) for o in q.order_by],
            "pagination": {"limit": q.limit, "offset": q.offset},
        },
    }
