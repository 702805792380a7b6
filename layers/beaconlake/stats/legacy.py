"""Plausible's Stats API v1 (`GET /api/v1/stats/aggregate|timeseries|breakdown`), translated
onto the v2 query: its parameters become a v2 body and go through the one validator
(`stats.query_parser`), so the two versions cannot disagree on what a query may ask. Only
v1's own syntax is read here (periods with from/to, comma lists, `filters=` text); an error
names the v1 parameter. The answers keep v1's shapes (`stats.service`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from beaconlake.stats import registry
from beaconlake.stats.limits import LIMITS
from beaconlake.stats.query import (
    GOAL_DIMENSION,
    INTERVALS,
    METRICS,
    DateRange,
    Goal,
    QueryError,
    StatsQuery,
    check_dimension,
    day_range,
    local_today,
    parse_day,
    relative_range,
    today_utc,
)
from beaconlake.stats.query_parser import QueryBody, checked, stats_query

# v1's conversion rate (with a goal filter or in a goal breakdown); in a breakdown by a visit
# or page attribute under a goal filter it is the group's, as in Plausible's v1
V1_GOAL_METRICS = tuple(
    m.name for m in registry.METRICS.values() if m.denominator is registry.Denominator.WITHOUT_GOALS
)
GROUP_RATES = {
    "conversion_rate": next(
        m.name
        for m in registry.METRICS.values()
        if m.denominator is registry.Denominator.GROUP_WITHOUT_GOALS
    )
}
PERIODS = ("day", "7d", "30d", "month", "6mo", "12mo", "custom")
MAX_HOURLY_DAYS = 31
# v1's filter operators, in the order they are looked for, and the v2 operator of each
OPERATORS = (("!=", "is_not"), ("==", "is"), ("!~", "contains_not"), ("~", "contains"))
# a v2 field (the start of the path a QueryError names) → the v1 parameter it came from
V1_FIELDS = {
    "metrics": "metrics",
    "filters": "filters",
    "dimensions": "property",
    "date_range": "period",
    "pagination": "page",
}


@dataclass(frozen=True)
class V1Request:
    """The v1 parameters as given (site access is checked by the caller)."""

    site_id: str
    period: str = "30d"
    date: date | None = None
    start: str | None = None  # `from`
    end: str | None = None  # `to`
    metrics: str | None = None
    filters: str | None = None
    property: str | None = None
    interval: str | None = None
    limit: int = 100
    page: int = 1


def date_range(period: str, ref: date | None, start: str | None, end: str | None) -> DateRange:
    """day, 7d, 30d, month, 6mo, 12mo (to `date`, default today) or custom from/to."""
    if period == "custom":
        if not start or not end:
            raise QueryError("period", "period=custom needs both from and to (YYYY-MM-DD)")
        return day_range(parse_day(start, "from"), parse_day(end, "to"), "to")
    if period not in PERIODS:
        raise QueryError("period", f"period must be one of {', '.join(PERIODS)}")
    return relative_range(period, ref or today_utc(), "period")


def metrics(raw: str | None) -> list[str]:
    """`visitors,pageviews`: v1 offers the basic metrics, and conversion_rate (in a goal
    breakdown or with a goal filter, as in Plausible's v1)."""
    if not raw:
        return ["visitors"]
    names = [m.strip() for m in raw.split(",") if m.strip()]
    offered = (*METRICS, *V1_GOAL_METRICS)
    for m in names:
        if m not in offered:
            raise QueryError("metrics", f"unknown metric {m!r}; use any of {', '.join(offered)}")
    return names


def filters(raw: str | None) -> list[list[Any]]:
    """`event:page==/blog|/docs;visit:source!=Google` → v2 filters (all must hold)."""
    if not raw:
        return []
    if len(raw) > LIMITS.v1_filter_chars:
        raise QueryError(
            "filters", f"filters is at most {LIMITS.v1_filter_chars} characters", "max_chars"
        )
    out: list[list[Any]] = []
    for part in raw.split(";"):
        if not part.strip():
            continue
        if len(out) >= LIMITS.filters:
            raise QueryError(
                "filters", f"a query has at most {LIMITS.filters} filters", "max_filters"
            )
        for token, operator in OPERATORS:
            if token in part:
                dim, _, values = part.partition(token)
                out.append([operator, dim.strip(), [v for v in values.split("|") if v != ""]])
                break
        else:
            raise QueryError("filters", f"cannot read filter {part!r}; use dim==value, !=, ~ or !~")
    return out


def _v2_metrics(names: list[str], dimensions: list[str], v2_filters: list[list[Any]]) -> list[str]:
    """The v2 metrics of v1 `metrics`: conversion_rate is the group's in a breakdown by
    anything but a goal or a custom property, under a goal filter (Plausible's v1)."""
    goal_filter = any(f[1] == GOAL_DIMENSION for f in v2_filters)
    by_group = dimensions and dimensions[0] != GOAL_DIMENSION
    if goal_filter and by_group and not dimensions[0].startswith(registry.PROP_PREFIX):
        return [GROUP_RATES.get(m, m) for m in names]
    return names


def v1_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Breakdown rows with v1's metric names (a group's conversion rate is conversion_rate)."""
    names = {v2: v1 for v1, v2 in GROUP_RATES.items()}
    return [{names.get(k, k): v for k, v in row.items()} for row in rows]


def _breakdown_property(name: str) -> str:
    return name if name == GOAL_DIMENSION else check_dimension(name)


def _interval(r: V1Request, days: int) -> str:
    chosen = r.interval or (
        "hour" if r.period == "day" else "month" if r.period in ("6mo", "12mo") else "day"
    )
    if chosen not in INTERVALS:
        raise QueryError("interval", f"interval must be one of {', '.join(INTERVALS)}")
    if chosen == "hour" and days > MAX_HOURLY_DAYS:
        raise QueryError("interval", f"interval=hour is limited to {MAX_HOURLY_DAYS} days")
    return chosen


def translate(
    r: V1Request, goals: tuple[Goal, ...], kind: str, timezone: str = "UTC"
) -> StatsQuery:
    """The v2 query a v1 `aggregate`, `timeseries` or `breakdown` request asks, its days
    those of the site's time zone."""
    days = date_range(r.period, r.date or local_today(timezone), r.start, r.end)
    dimensions: list[str] = []
    if kind == "breakdown":
        dimensions = [_breakdown_property(r.property or "")]
    elif kind == "timeseries":
        dimensions = [f"time:{_interval(r, len(days.days()))}"]
    body: dict[str, Any] = {
        "site_id": r.site_id,
        "date_range": [days.first.isoformat(), days.last.isoformat()],
        "metrics": metrics(r.metrics),
        "dimensions": dimensions,
        "filters": filters(r.filters),
    }
    body["metrics"] = _v2_metrics(body["metrics"], dimensions, body["filters"])
    if kind == "breakdown":
        body["pagination"] = {"limit": r.limit, "offset": (r.page - 1) * r.limit}
    try:
        return stats_query(checked(QueryBody, body), goals, timezone)
    except QueryError as exc:
        raise QueryError(v1_field(exc.field, kind), exc.message, exc.rule) from None


def v1_field(v2_field: str, kind: str) -> str:
    """The v1 parameter a v2 field came from (`filters[0][2]` → `filters`)."""
    head = v2_field.split("[", 1)[0].split(".", 1)[0]
    if head == "dimensions" and kind == "timeseries":
        return "interval"
    return V1_FIELDS.get(head, v2_field)
