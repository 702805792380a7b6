"""Runs a v2 query and shapes its answer (Plausible's Stats API v2 shape): the statement, and
when asked the same query over the comparison range, side by side, with the change."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from beaconlake.ports import QueryEngine
from beaconlake.stats import expiry, monthly, registry
from beaconlake.stats.query import (
    MAX_LIMIT,
    TIME_DIMENSIONS,
    DateRange,
    QueryError,
    StatsQuery,
    parse_date_range,
)
from beaconlake.stats.query_parser import COMPARISON_MODES, Include, checked
from beaconlake.stats.service import buckets, series_meta, sourced_statement
from beaconlake.stats.sql import Statement, build, imported, shape_row, whole_days


def parse_include(raw: Any) -> Include:
    """A body's `include` (None: nothing extra), or a QueryError naming the field."""
    include: Include = checked(Include, raw or {})
    return include


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
            last = (end - timedelta(milliseconds=1)).date()
            return DateRange(start.date(), last, start, end, r.timezone)
        return r.shifted(-((r.last - r.first).days + 1))
    if mode == "year_over_year":

        def back(d: date) -> date:
            return d.replace(year=d.year - 1, day=min(d.day, 28) if d.month == 2 else d.day)

        return DateRange(back(r.first), back(r.last), timezone=r.timezone)
    if mode == "custom":
        given = parse_date_range(custom, ref, "include.comparisons.date_range")
        return given.in_zone(r.timezone, ref)
    raise QueryError("include.comparisons.mode", f"use one of {', '.join(COMPARISON_MODES)}")


def change(metric: str, current: Any, previous: Any) -> float | int | None:
    if current is None or previous is None:
        return None
    if registry.METRICS[metric].change is registry.Change.POINTS:
        return round(float(current) - float(previous), 1)
    if previous == 0:
        return 0 if current == 0 else 100
    return round((float(current) - float(previous)) / float(previous) * 100)


def _dims_of(row: dict[str, Any], q: StatsQuery) -> list[Any]:
    out = []
    for i, _ in enumerate(q.group_by()):
        value = row.get(f"k{i}")
        out.append(value if value != "" else None)
    return out


def _after(bucket: Any, labels: list[str]) -> bool:
    """A bucket after the last one up to now (labels of one interval sort as text)."""
    return bucket is not None and (not labels or str(bucket) > labels[-1])


def merged_statement(
    engine: QueryEngine, q: StatsQuery
) -> tuple[Statement, dict[str, Any], str | None]:
    """`sourced_statement`, merged with imported data where one imported table can answer
    `q` (stats.sql.imported), else with the reason it cannot."""
    monthly_plan = monthly.plan(engine, q)
    if monthly_plan is not None:
        return monthly_statement(engine, q, monthly_plan)
    native, source = sourced_statement(engine, q)
    if not engine.reads_imported:
        return native, source, "this back end does not read imported data"
    choice = imported.choose(q)
    if choice.table is None:
        return native, source, choice.reason
    days = whole_days(q)
    rollup = engine.session_rollup(q.site_id, *days) if days else None
    unpaged = build(q, rollup=rollup, paged=False)
    return imported.merged(unpaged, choice.table, q), source, None


def monthly_statement(
    engine: QueryEngine, q: StatsQuery, p: monthly.MonthlyPlan
) -> tuple[Statement, dict[str, Any], str | None]:
    """`merged_statement` for a range reaching monthly-only months: the rest of the range
    (native, from raw events or daily rollups), the monthly rows, then imported rows where
    one imported table can answer `q`."""
    source: dict[str, Any] = {}
    native = monthly.no_rows(q)
    if p.rest is not None:
        days = whole_days(p.rest)
        rollup = engine.session_rollup(q.site_id, *days) if days else None
        source = expiry.check_query(p.rest, rollup)
        native = build(p.rest, rollup=rollup, paged=False)
    choice = imported.choose(q) if engine.reads_imported else None
    with_imported = choice is not None and choice.table is not None
    statement = monthly.merged_monthly(native, p, q, paged=not with_imported)
    meta = source | p.meta()
    if choice is None:
        return statement, meta, "this back end does not read imported data"
    if choice.table is None:
        return statement, meta, choice.reason
    return imported.merged(statement, choice.table, q), meta, None


def imported_meta(rows: list[dict[str, Any]], reason: str | None) -> dict[str, Any]:
    """`meta.imported`: whether imported rows are in the answer, or why they could not be."""
    if reason is not None:
        return {"included": False, "reason": reason}
    found = bool(rows) and int(rows[0].get("imported_groups") or 0) > 0
    return {"included": found} if found else {"included": False, "reason": "no imported data"}


def run_query(
    engine: QueryEngine,
    q: StatsQuery,
    include: Include,
    ref: date | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The answer; a time series has no bucket after `now` in the site's zone, and `meta`
    says when now is, in which zone, and which buckets are partial."""
    first, source, reason = merged_statement(engine, q)
    statements = [first]
    cmp_q: StatsQuery | None = None
    cmp_source: dict[str, Any] = {}
    if include.comparisons is not None:
        cmp_range = comparison_range(
            q.date_range, include.comparisons.mode, include.comparisons.date_range, ref
        )
        cmp_q = replace(q, date_range=cmp_range, limit=MAX_LIMIT * 10, offset=0)
        cmp_statement, cmp_source, _ = merged_statement(engine, cmp_q)
        statements.append(cmp_statement)
    answers = engine.query_many([(s.sql, s.params) for s in statements])
    rows = answers[0]
    imported_rows = imported_meta(rows, reason)
    if not q.group_by() and not rows:
        rows = [{}]
    previous: dict[tuple[Any, ...], dict[str, Any]] = {}
    if cmp_q is not None:
        cmp_rows = answers[1] or ([{}] if not q.group_by() else [])
        previous = {tuple(_dims_of(r, cmp_q)): r for r in cmp_rows}
    time_dims = [d for d in q.group_by() if d in TIME_DIMENSIONS]
    interval = time_dims[0].split(":")[1] if time_dims else None
    labels = buckets(q.date_range, interval, now).labels if interval else []
    results = []
    for row in rows:
        dims = _dims_of(row, q)
        if interval and _after(dims[q.group_by().index(time_dims[0])], labels):
            continue
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
    meta: dict[str, Any] = series_meta(q.date_range, interval, now) | source
    meta["imported"] = imported_rows
    if include.total_rows:
        meta["total_rows"] = int(rows[0].get("total_rows") or 0) if rows and rows[0] else 0
    if include.time_labels and interval:
        meta["time_labels"] = labels
    if cmp_q is not None:
        meta["comparison_date_range"] = [
            cmp_q.date_range.start.isoformat(),
            cmp_q.date_range.end.isoformat(),
        ]
        meta |= {f"comparison_{k}": v for k, v in cmp_source.items()}
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
