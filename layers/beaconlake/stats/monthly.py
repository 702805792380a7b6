"""Per-month rollups, on the query side: once a month's days are older than the raw events
and the daily rollups are kept (config.Settings.retention_days + daily_rollup_days), the
daily job condenses the month's daily rollups into per-month rows (stats.monthly_job) in the
shapes of the imported tables (stats.sql.imported: one table per group of dimensions, counts
that add up, `dt` = the month's first day) and deletes the daily ones.

A query whose range reaches such months is answered by the same merge as imported data: the
native statement over the rest of the range, UNION ALL the monthly rows of the months,
summed per key. The monthly rows answer exactly what they keep: totals, breakdowns by the
dimensions of one monthly table, time series by month, in UTC, over whole months. Anything
else over those months is refused with a 400 (rule `raw_data_expired`) naming the months and
what to choose instead. Visitors are per day (a visitor id is salted per day), so a month's
visitors are the sum of its days' visitors, as imported data's are.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from beaconlake.ports import MonthlyRollups, QueryEngine
from beaconlake.stats.query import DateRange, Filter, QueryError, StatsQuery
from beaconlake.stats.registry import DIMENSIONS, METRICS
from beaconlake.stats.sql import Statement, metrics
from beaconlake.stats.sql.filters import dimensions_used, has_done
from beaconlake.stats.sql.imported import ImportedTable, merged
from beaconlake.stats.sql.sessions import VISITOR_ATTRS

RULE = "raw_data_expired"
MONTHLY = "monthly_rollups"
MONTHLY_DIR = "monthly"

# The raw columns a monthly row keeps: of visit rows (sessions) and of page rows.
VISIT_COUNTS = (
    "visitors",
    "visits",
    "pageviews",
    "bounces",
    "session_pageviews",
    "duration_ms",
    "events",
    "revenue_sum",
    "revenue_count",
)
PAGE_COUNTS = ("visitors", "pageviews", "events", "revenue_sum", "revenue_count")
# the metrics whose inputs are those raw columns (what the condensing query asks for)
VISIT_METRICS = (
    "visitors",
    "visits",
    "pageviews",
    "bounce_rate",
    "visit_duration",
    "views_per_visit",
    "events",
    "total_revenue",
    "average_revenue",
)
PAGE_METRICS = ("visitors", "pageviews", "events", "total_revenue", "average_revenue")
_TYPES = {"revenue_sum": "decimal(38,4)"}


def _table(name: str, dims: Sequence[tuple[str, str]], counts: Sequence[str]) -> ImportedTable:
    """A monthly table: `dims` (dimension, stored column), then the counts."""
    columns = (
        ("date", "varchar"),
        *((col, "varchar") for _, col in dims),
        *((c, _TYPES.get(c, "bigint")) for c in counts),
    )
    return ImportedTable(name, columns, {d: col for d, col in dims}, {c: c for c in counts})


_PER_VISIT = (
    ("visit:source", "source"),
    ("visit:channel", "channel"),
    ("visit:referrer", "referrer"),
    *((f"visit:utm_{t}", f"utm_{t}") for t in ("source", "medium", "campaign", "content", "term")),
    ("visit:entry_page", "entry_page"),
    ("visit:exit_page", "exit_page"),
)
# One table per dimension a visit has a value of (a visitor may have visits with several
# values: their visitors add up per value only); the dimensions fixed per visitor and day
# (VISITOR_ATTRS) also in pairs the dashboard shows together.
TABLES: tuple[ImportedTable, ...] = (
    _table("monthly_visitors", (), VISIT_COUNTS),
    *(_table(f"monthly_{col}s", ((dim, col),), VISIT_COUNTS) for dim, col in _PER_VISIT),
    _table("monthly_pages", (("event:page", "page"),), PAGE_COUNTS),
    _table("monthly_locations", (("visit:country", "country"),), VISIT_COUNTS),
    _table("monthly_devices", (("visit:device", "device"),), VISIT_COUNTS),
    _table(
        "monthly_browsers",
        (("visit:browser", "browser"), ("visit:browser_version", "browser_version")),
        VISIT_COUNTS,
    ),
    _table(
        "monthly_operating_systems",
        (("visit:os", "operating_system"), ("visit:os_version", "operating_system_version")),
        VISIT_COUNTS,
    ),
)


def table_columns() -> dict[str, list[tuple[str, str]]]:
    """Each monthly table's stored columns and types (`dt` first): what the back ends'
    monthly tables and views are declared from."""
    return {t.name: list(t.stored) for t in TABLES}


def month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def months_between(first: date, last: date) -> list[date]:
    """The first days of the months first..last touches."""
    out, month = [], first.replace(day=1)
    while month <= last:
        out.append(month)
        month = month_end(month) + timedelta(days=1)
    return out


def monthly_months(engine: QueryEngine, site_id: str, first: date, last: date) -> list[date]:
    """The months touching first..last that only monthly rollups answer ([] on an engine
    without them)."""
    if not isinstance(engine, MonthlyRollups):
        return []
    return engine.monthly_months(site_id, first, last, table_columns())


def _refuse(q: StatsQuery, months: list[date], what: str, instead: str) -> QueryError:
    span = f"{months[0]:%Y-%m} to {months[-1]:%Y-%m}"
    return QueryError(
        "date_range",
        f"the daily data of {q.site_id} from {span} were condensed into per-month rollups by "
        f"retention; {what}: {instead}",
        rule=RULE,
    )


def refuse_raw(q_site: str, months: list[date], what: str) -> QueryError:
    """For views that need raw events (funnels, journeys, props...) over monthly months."""
    after = month_end(months[-1]) + timedelta(days=1)
    span = f"{months[0]:%Y-%m} to {months[-1]:%Y-%m}"
    return QueryError(
        "date_range",
        f"the daily data of {q_site} from {span} were condensed into per-month rollups by "
        f"retention; {what} need the raw events: choose a range starting on {after} or later",
        rule=RULE,
    )


def _choose(q: StatsQuery, months: list[date]) -> ImportedTable:
    after = f"choose a range starting on {month_end(months[-1]) + timedelta(days=1)} or later"
    if q.date_range.local:
        raise _refuse(q, months, "per-month rollups are UTC months", "ask in UTC or " + after)
    if has_done(q):
        raise _refuse(q, months, "has_done filters need the raw events", after)
    shares = [m for m in q.metrics if m in METRICS and METRICS[m].denominator]
    other = [m for m in q.metrics if m not in METRICS or m in shares]
    if other:
        raise _refuse(q, months, f"{', '.join(other)} cannot be computed from them", after)
    for dim in q.group_by():
        if dim.startswith("time") and dim != "time:month":
            raise _refuse(
                q,
                months,
                f"they hold no {dim.removeprefix('time:')}s",
                "use time:month or " + after,
            )
    dims = {d for d in dimensions_used(q) if not d.startswith("time")}
    needed = metrics.raw_columns_needed(q)
    for table in TABLES:
        if dims <= table.dimensions.keys() and needed <= table.sums.keys():
            _check_visitors(q, months, table, needed)
            return table
    asked = ", ".join(sorted(dims)) or "no dimension"
    raise _refuse(q, months, f"they keep no table with {asked} for {', '.join(q.metrics)}", after)


def _one_value(q: StatsQuery, dim: str) -> bool:
    """A filter every answer meets restricts `dim` to one value."""
    return any(
        isinstance(f, Filter) and f.dimension == dim and f.operator == "is" and len(f.values) == 1
        for f in q.filters
    )


def _check_visitors(
    q: StatsQuery, months: list[date], table: ImportedTable, needed: frozenset[str]
) -> None:
    """Visitors add up over the rows of a group only where a visitor is in one of them: a
    dimension summed over (filtered, not grouped) must be fixed per visitor, or be
    restricted to one value."""
    if "visitors" not in needed:
        return
    for dim in table.dimensions:
        fixed = DIMENSIONS[dim].column in VISITOR_ATTRS
        if dim in q.group_by() or fixed or _one_value(q, dim):
            continue
        raise _refuse(
            q,
            months,
            f"the visitors of several {dim} values cannot be added up from per-month rows (a "
            "visitor may have several)",
            f"filter {dim} by one value with `is`, group by it, or ask for visits or pageviews",
        )


def _check_edges(q: StatsQuery, months: list[date]) -> None:
    r = q.date_range
    if r.start_at is not None or r.end_at is not None:
        raise _refuse(q, months, "they hold whole months", "give whole days")
    if r.first.day != 1 and r.first.replace(day=1) in months:
        raise _refuse(
            q,
            months,
            f"they hold whole months, and {r.first} is within {r.first:%Y-%m}",
            f"start on {r.first.replace(day=1)} or {month_end(r.first) + timedelta(days=1)}",
        )
    if r.last != month_end(r.last) and r.last.replace(day=1) in months:
        raise _refuse(
            q,
            months,
            f"they hold whole months, and {r.last} is within {r.last:%Y-%m}",
            f"end on {month_end(r.last)} or {r.last.replace(day=1) - timedelta(days=1)}",
        )


@dataclass(frozen=True)
class MonthlyPlan:
    """A query over monthly months: the monthly table answering them, the months, and the
    query over the rest of its range (None when monthly rows answer all of it)."""

    table: ImportedTable
    months: list[date]
    rest: StatsQuery | None

    def meta(self) -> dict[str, Any]:
        return {
            "answered_from": MONTHLY,
            "rollup_months": [f"{self.months[0]:%Y-%m}", f"{self.months[-1]:%Y-%m}"],
        }


def plan(engine: QueryEngine, q: StatsQuery) -> MonthlyPlan | None:
    """None when no month of q's range is monthly-only; else the plan, or a QueryError (400)
    when the monthly rows cannot answer q exactly."""
    first, last = q.date_range.dt_days()
    months = monthly_months(engine, q.site_id, first, last)
    if not months:
        return None
    _check_edges(q, months)
    table = _choose(q, months)
    # monthly months are the oldest of a site's data: the rest of the range follows them
    after = month_end(months[-1]) + timedelta(days=1)
    rest = None
    if after <= q.date_range.last:
        rest = replace(q, date_range=DateRange(after, q.date_range.last))
    return MonthlyPlan(table, months, rest)


def no_rows(q: StatsQuery) -> Statement:
    """A native part with no rows (every month of the range is monthly-only)."""
    keys = [f"k{i}" for i in range(len(q.group_by()))] or ["k0"]
    needed = sorted(metrics.raw_columns_needed(q))
    cols = ", ".join([*(f"'' AS {k}" for k in keys), *(f"NULL AS {c}" for c in needed)])
    return Statement(f"SELECT {cols} WHERE false", ())


def merged_monthly(native: Statement, p: MonthlyPlan, q: StatsQuery, paged: bool) -> Statement:
    """The native part (unpaged) UNION ALL the monthly rows, summed per key; paged like a
    native statement, or not (when imported rows are merged on top)."""
    whole = q if paged else replace(q, offset=0, limit=10**9)
    return merged(native, p.table, whole)


def month_rows(
    rows: Sequence[Mapping[str, Any]], table: ImportedTable, first_key: int
) -> list[dict[str, Any]]:
    """A month's rows of `table` from the condensing statements' rows (per day; the table's
    dimensions from key `k<first_key>` on): summed over the days per dimension values.
    Visitors too: the sum of the days' visitors."""
    dims = list(table.dimensions.values())
    sums: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row.get(f"k{i + first_key}") or "" for i in range(len(dims)))
        out = sums.setdefault(key, {c: None for c in table.sums})
        for c in table.sums:
            v = row.get(c)
            if v is not None:
                out[c] = v if out[c] is None else out[c] + v
    return [dict(zip(dims, key, strict=True)) | counts for key, counts in sorted(sums.items())]
