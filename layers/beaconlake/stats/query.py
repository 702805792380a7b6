"""The stats query model: what to count, split by what, over which days, for which events.

Plain data and pure validation; the SQL is built from it in `beaconlake.stats.sql`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from beaconlake.stats.limits import LIMITS


class QueryError(ValueError):
    """A bad stats request; `field` names the parameter, the message says what is wrong."""

    def __init__(self, field_name: str, message: str, rule: str | None = None) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message
        self.rule = rule

    def as_body(self) -> dict[str, str]:
        body = {"error": self.message, "field": self.field}
        if self.rule:
            body["rule"] = self.rule
        return body


EVENT_METRICS = ("visitors", "pageviews", "events")
SESSION_METRICS = ("visits", "bounce_rate", "visit_duration", "views_per_visit")
METRICS = EVENT_METRICS + SESSION_METRICS
GOAL_METRICS = ("conversion_rate", "total_revenue", "average_revenue")
ENGAGEMENT_METRICS = ("scroll_depth", "time_on_page")
V2_METRICS = (*METRICS, "percentage", *GOAL_METRICS, *ENGAGEMENT_METRICS)

# Dimension name → (SQL expression over the session-annotated events, short result key).
# Only these expressions ever reach SQL; user text goes in as parameters.
DIMENSIONS: dict[str, tuple[str, str]] = {
    "event:page": ("pathname", "page"),
    "event:hostname": ("hostname", "hostname"),
    "event:name": ("name", "name"),
    "visit:entry_page": ("s_entry_page", "entry_page"),
    "visit:exit_page": ("s_exit_page", "exit_page"),
    "visit:source": ("s_source", "source"),
    "visit:referrer": ("s_referrer", "referrer"),
    "visit:utm_source": ("s_utm_source", "utm_source"),
    "visit:utm_medium": ("s_utm_medium", "utm_medium"),
    "visit:utm_campaign": ("s_utm_campaign", "utm_campaign"),
    "visit:utm_content": ("s_utm_content", "utm_content"),
    "visit:utm_term": ("s_utm_term", "utm_term"),
    "visit:device": ("device", "device"),
    "visit:browser": ("browser", "browser"),
    "visit:browser_version": ("browser_version", "browser_version"),
    "visit:os": ("os", "os"),
    "visit:os_version": ("os_version", "os_version"),
    "visit:country": ("country", "country"),
    "visit:channel": ("s_channel", "channel"),
}
SESSION_DIMENSIONS = frozenset(d for d, (expr, _) in DIMENSIONS.items() if expr.startswith("s_"))
PROP_PREFIX = "event:props:"
INTERVALS = ("hour", "day", "week", "month")
TIME_DIMENSIONS = ("time", "time:hour", "time:day", "time:week", "time:month")
GOAL_DIMENSION = "event:goal"
PERIODS = ("day", "7d", "30d", "month", "custom")
FILTER_OPERATORS = ("is", "is_not", "contains", "contains_not", "matches", "matches_not")
MAX_LIMIT = 1000
_PROP_KEY = re.compile(r"^[^\x00-\x1f]{1,300}$")


@dataclass(frozen=True)
class Filter:
    dimension: str
    operator: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class And:
    children: tuple[FilterNode, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[FilterNode, ...]


@dataclass(frozen=True)
class Not:
    child: FilterNode


@dataclass(frozen=True)
class HasDone:
    """The visit has an event matching `child` (or, negated, has none)."""

    child: FilterNode
    negated: bool = False


FilterNode = Filter | And | Or | Not | HasDone


# ---- limits (the numbers are in beaconlake.stats.limits) -----------------------------------


def check_text(value: str, field_name: str) -> str:
    """No NUL and no unpaired surrogate: the engines cannot encode them (a 400, not a 503)."""
    if "\x00" in value:
        raise QueryError(field_name, "text must not contain NUL characters", "unicode")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise QueryError(field_name, "text must be valid Unicode", "unicode") from None
    return value


def check_depth(depth: int, path: str) -> None:
    if depth > LIMITS.depth:
        raise QueryError(path, f"filters nest at most {LIMITS.depth} levels deep", "max_depth")


def check_values(values: Sequence[Any], path: str) -> None:
    """At most LIMITS.values_per_filter strings of at most LIMITS.value_chars, valid text."""
    if len(values) > LIMITS.values_per_filter:
        raise QueryError(
            path, f"a filter has at most {LIMITS.values_per_filter} values", "max_values"
        )
    for v in values:
        if isinstance(v, str):
            if len(v) > LIMITS.value_chars:
                raise QueryError(
                    path, f"a value is at most {LIMITS.value_chars} characters", "max_chars"
                )
            check_text(v, path)


def _leaves(node: FilterNode) -> Iterator[Filter]:
    if isinstance(node, And | Or):
        for child in node.children:
            yield from _leaves(child)
    elif isinstance(node, Not | HasDone):
        yield from _leaves(node.child)
    else:
        yield node


def check_filters(filters: Sequence[FilterNode], field_name: str = "filters") -> None:
    """The whole tree: at most LIMITS.filters leaves and LIMITS.values values in all."""
    leaves = [leaf for node in filters for leaf in _leaves(node)]
    if len(leaves) > LIMITS.filters:
        raise QueryError(field_name, f"a query has at most {LIMITS.filters} filters", "max_filters")
    if sum(len(leaf.values) for leaf in leaves) > LIMITS.values:
        raise QueryError(
            field_name, f"a query's filters have at most {LIMITS.values} values", "max_values"
        )


def check_span(first: date, last: date, field_name: str) -> None:
    if (last - first).days > LIMITS.span_days:
        raise QueryError(field_name, "a date range can span at most 10 years", "max_span")


@dataclass(frozen=True)
class Goal:
    """A site goal: a custom event name, or pageviews of a path (`*` is a wildcard)."""

    name: str
    event: str | None = None
    page: str | None = None


@dataclass(frozen=True)
class DateRange:
    """UTC days, first and last included; optionally cut to exact times within them."""

    first: date
    last: date
    start_at: datetime | None = None
    end_at: datetime | None = None

    @property
    def start(self) -> datetime:
        if self.start_at is not None:
            return self.start_at
        return datetime(self.first.year, self.first.month, self.first.day)

    @property
    def end(self) -> datetime:
        """Exclusive end: midnight after the last day, or the exact end time."""
        if self.end_at is not None:
            return self.end_at
        first = datetime(self.first.year, self.first.month, self.first.day)
        return first + timedelta(days=(self.last - self.first).days + 1)

    def shifted(self, days: int) -> DateRange:
        delta = timedelta(days=days)
        return DateRange(
            self.first + delta,
            self.last + delta,
            self.start_at + delta if self.start_at else None,
            self.end_at + delta if self.end_at else None,
        )

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


@dataclass(frozen=True)
class StatsQuery:
    """What to count (metrics), split by what (dimensions, or one time interval), over which
    range, for which events (filters, all of which must hold)."""

    site_id: str
    date_range: DateRange
    metrics: tuple[str, ...]
    dimension: str | None = None
    interval: str | None = None
    filters: tuple[FilterNode, ...] = field(default_factory=tuple)
    limit: int = 100
    offset: int = 0
    dimensions: tuple[str, ...] = ()
    order_by: tuple[tuple[str, str], ...] = ()
    goals: tuple[Goal, ...] = ()

    def group_by(self) -> tuple[str, ...]:
        """Dimensions in order; v1's `dimension` and `interval` are folded in here."""
        if self.dimensions:
            return self.dimensions
        if self.interval:
            return (f"time:{self.interval}",)
        return (self.dimension,) if self.dimension else ()


def today_utc() -> date:
    return datetime.now(UTC).date()


def _parse_date(value: str, field_name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise QueryError(field_name, f"{field_name} must be a date like 2026-01-31") from None


def resolve_period(
    period: str, ref: date | None, start: str | None = None, end: str | None = None
) -> DateRange:
    """day, 7d, 30d, month (to date), or custom with from/to (inclusive)."""
    ref = ref or today_utc()
    if period == "day":
        return DateRange(ref, ref)
    if period == "7d":
        return DateRange(ref - timedelta(days=6), ref)
    if period == "30d":
        return DateRange(ref - timedelta(days=29), ref)
    if period == "month":
        return DateRange(ref.replace(day=1), ref)
    if period == "custom":
        if not start or not end:
            raise QueryError("period", "period=custom needs both from and to (YYYY-MM-DD)")
        first, last = _parse_date(start, "from"), _parse_date(end, "to")
        if last < first:
            raise QueryError("to", "to must not be before from")
        check_span(first, last, "to")
        return DateRange(first, last)
    raise QueryError("period", f"period must be one of {', '.join(PERIODS)}")


def parse_metrics(raw: str | None, default: tuple[str, ...] = ("visitors",)) -> tuple[str, ...]:
    if not raw:
        return default
    metrics = tuple(m.strip() for m in raw.split(",") if m.strip())
    for m in metrics:
        if m not in METRICS:
            raise QueryError("metrics", f"unknown metric {m!r}; use any of {', '.join(METRICS)}")
    if len(set(metrics)) != len(metrics):
        raise QueryError("metrics", "a metric is listed twice")
    return metrics


def check_dimension(name: str) -> str:
    if name in DIMENSIONS:
        return name
    if name.startswith(PROP_PREFIX) and _PROP_KEY.match(name[len(PROP_PREFIX) :]):
        return check_text(name, "property")
    raise QueryError(
        "property",
        f"unknown property {name!r}; use one of {', '.join(DIMENSIONS)} or event:props:<key>",
    )


def result_key(dimension: str) -> str:
    if dimension.startswith(PROP_PREFIX):
        return dimension[len(PROP_PREFIX) :]
    return DIMENSIONS[dimension][1]


_V1_OPERATORS = (("!=", "is_not"), ("==", "is"), ("!~", "contains_not"), ("~", "contains"))


def parse_v1_filters(raw: str | None) -> tuple[Filter, ...]:
    """Plausible's v1 filter syntax: `event:page==/blog|/docs;visit:source!=Google`."""
    if not raw:
        return ()
    filters: list[Filter] = []
    for part in raw.split(";"):
        if not part.strip():
            continue
        if len(filters) >= LIMITS.filters:
            raise QueryError(
                "filters", f"a query has at most {LIMITS.filters} filters", "max_filters"
            )
        for token, operator in _V1_OPERATORS:
            if token in part:
                dim, _, values = part.partition(token)
                dimension = check_dimension(dim.strip())
                vals = tuple(v for v in values.split("|") if v != "")
                if not vals:
                    raise QueryError("filters", f"filter on {dimension} has no value")
                check_values(vals, "filters")
                filters.append(Filter(dimension, operator, vals))
                break
        else:
            raise QueryError("filters", f"cannot read filter {part!r}; use dim==value, !=, ~ or !~")
    check_filters(filters)
    return tuple(filters)
