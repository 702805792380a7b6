"""The stats query model: what to count, split by what, over which days, for which events.

Plain data and pure validation; the SQL is built from it in `beaconlake.stats.sql`. The one
date parser of every entry point (v1, v2, the behaviour views, the dashboard, exports) is
here too: `parse_day`, `parse_date_range` and `day_range`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from beaconlake.site_ports import Goal  # with its port, GoalStore; the stats code imports it here
from beaconlake.stats import registry
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


# Metric and dimension names, from stats.registry, where each is defined: these are the
# built-in ones; the validators ask the registry, which may hold more for a while (tests).
METRICS = registry.metric_names(v1=True)  # API v1
V2_METRICS = registry.metric_names()
SESSION_METRICS = registry.visit_metrics()
# Dimension → (its SQL column over events with their visit's attributes, its v1 result key),
# as registered. Only these columns ever reach SQL; user text goes in as parameters.
DIMENSIONS: Mapping[str, tuple[str, str]] = registry.ColumnTable()
PROP_PREFIX = registry.PROP_PREFIX
INTERVALS = registry.INTERVALS
TIME_DIMENSIONS = registry.time_dimensions()
GOAL_DIMENSION = registry.GOAL_DIMENSION
FilterOperator = Literal["is", "is_not", "contains", "contains_not", "matches", "matches_not"]
FILTER_OPERATORS: tuple[str, ...] = get_args(FilterOperator)
# filters that combine or wrap other filters: [and|or, [filters]], [not|has_done|…, filter]
FilterConnective = Literal["and", "or"]
FILTER_CONNECTIVES: tuple[str, ...] = get_args(FilterConnective)
FilterWrapper = Literal["not", "has_done", "has_not_done"]
FILTER_WRAPPERS: tuple[str, ...] = get_args(FilterWrapper)
# date ranges relative to the reference day (today, UTC, unless a `date` is given)
RelativeRange = Literal["day", "7d", "28d", "30d", "91d", "month", "6mo", "12mo", "year", "all"]
RELATIVE_RANGES: tuple[str, ...] = get_args(RelativeRange)
ALL_TIME_YEARS = 10
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
        raise QueryError(
            field_name, f"a date range spans at most {LIMITS.span_days} days", "max_span"
        )


UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Zulu", "Zulu", "GMT", "Etc/GMT"})
_MS = timedelta(milliseconds=1)


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or a 400 naming `timezone`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise QueryError("timezone", f"unknown time zone {name!r}", "timezone") from None


def zone_name(name: str | None) -> str:
    """`name` checked, with every spelling of UTC as "UTC" (whose SQL is the plain one)."""
    if not name or name in UTC_NAMES:
        return "UTC"
    zone(name)
    return name


def to_utc(local: datetime, tz: str) -> datetime:
    """A wall-clock time of `tz` (naive) → the naive UTC time. A time the clocks skip reads
    with the offset before the change; a repeated one is its first occurrence (fold=0)."""
    if tz == "UTC":
        return local
    return local.replace(tzinfo=zone(tz)).astimezone(UTC).replace(tzinfo=None)


def from_utc(moment: datetime, tz: str) -> datetime:
    """A naive UTC time → the wall-clock time of `tz` (naive)."""
    if tz == "UTC":
        return moment
    return moment.replace(tzinfo=UTC).astimezone(zone(tz)).replace(tzinfo=None)


def local_now(tz: str, now: datetime | None = None) -> datetime:
    """Now (or `now`, aware or naive UTC) as the naive wall-clock time of `tz`."""
    moment = now or datetime.now(UTC)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return from_utc(moment, zone_name(tz))


def local_today(tz: str, now: datetime | None = None) -> date:
    return local_now(tz, now).date()


@dataclass(frozen=True)
class DateRange:
    """Days of the site's time zone, first and last included; optionally cut to exact
    (wall-clock) times within them. In UTC, events are selected by their time; in any other
    zone, visits by the time they started, with all of their events (stats.sql.statement)."""

    first: date
    last: date
    start_at: datetime | None = None
    end_at: datetime | None = None
    timezone: str = "UTC"
    # the relative name it was resolved from against today (a zone resolves it again, to its
    # own today); None once pinned to a given day
    relative: str | None = field(default=None, compare=False)
    # start_at / end_at were given with an offset and are stored in UTC until placed in a zone
    utc_edges: tuple[bool, bool] = field(default=(False, False), compare=False)

    @property
    def local(self) -> bool:
        """Counted in a zone other than UTC."""
        return self.timezone != "UTC"

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

    @property
    def start_utc(self) -> datetime:
        return to_utc(self.start, self.timezone)

    @property
    def end_utc(self) -> datetime:
        return to_utc(self.end, self.timezone)

    def dt_days(self) -> tuple[date, date]:
        """The UTC days (partitions) holding the range's instants."""
        start, end = self.start_utc, self.end_utc
        return start.date(), max(start, end - _MS).date()

    def shifted(self, days: int) -> DateRange:
        delta = timedelta(days=days)
        return replace(
            self,
            first=self.first + delta,
            last=self.last + delta,
            start_at=self.start_at + delta if self.start_at else None,
            end_at=self.end_at + delta if self.end_at else None,
            relative=None,
        )

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def in_zone(
        self, tz: str | None, today: date | None = None, now: datetime | None = None
    ) -> DateRange:
        """The same range read in the zone `tz`: a relative range ends on `today` (default:
        the zone's date now); times given with an offset become the zone's wall-clock times."""
        tz = zone_name(tz)
        if tz == self.timezone == "UTC" and not any(self.utc_edges):
            return self
        if self.relative is not None:
            ref = today or local_today(tz, now)
            return replace(relative_range(self.relative, ref), timezone=tz)
        start_at, end_at, first, last = self.start_at, self.end_at, self.first, self.last
        if start_at is not None and self.utc_edges[0]:
            start_at = from_utc(start_at, tz)
            first = start_at.date()
        if end_at is not None and self.utc_edges[1]:
            end_at = from_utc(end_at, tz)
            last = max(first, (end_at - _MS).date())
        return DateRange(first, last, start_at, end_at, tz)


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


# ---- the one date parser -----------------------------------------------------------------


def parse_day(value: object, field_name: str) -> date:
    """A UTC day written 2026-01-31; anything else is a 400 naming the field."""
    try:
        if isinstance(value, str) and len(value) == 10:
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise QueryError(field_name, f"{field_name} must be a date like 2026-01-31", "date")


def parse_moment(value: object, field_name: str) -> tuple[date, datetime | None]:
    """A day (2026-01-31) or an ISO 8601 time (one with an offset converted to UTC; without,
    a wall-clock time of the site's zone): (its day, the time or None)."""
    if not isinstance(value, str):
        raise QueryError(field_name, "dates must be strings like 2026-01-31 or ISO datetimes")
    if len(value) == 10:
        return parse_day(value, field_name), None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(field_name, f"{value!r} is not a date or an ISO 8601 datetime") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.date(), moment


def _months_back(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    return date(month_index // 12, month_index % 12 + 1, 1)


def relative_range(name: str, today: date, field_name: str = "date_range") -> DateRange:
    """One of RELATIVE_RANGES, ending on `today` (included)."""
    days = {"day": 1, "7d": 7, "28d": 28, "30d": 30, "91d": 91}
    try:
        if name in days:
            first = today - timedelta(days=days[name] - 1)
        elif name == "month":
            first = today.replace(day=1)
        elif name in ("6mo", "12mo"):
            first = _months_back(today, int(name[:-2]) - 1)
        elif name == "year":
            first = today.replace(month=1, day=1)
        elif name == "all":
            first = today.replace(year=today.year - ALL_TIME_YEARS)
        else:
            first = None
        if first is not None:
            return DateRange(first, today, relative=name)
    except (ValueError, OverflowError):  # a range reaching before year 1
        raise QueryError(field_name, "a date is out of range") from None
    raise QueryError(field_name, f"use one of {', '.join(RELATIVE_RANGES)} or [from, to]")


def day_range(
    first: date,
    last: date,
    field_name: str,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
) -> DateRange:
    """first..last (both included, optionally cut to exact times), in order and within the
    span limit."""
    if (end_at or datetime.combine(last, datetime.max.time())) < (
        start_at or datetime.combine(first, datetime.min.time())
    ):
        raise QueryError(field_name, "the end of the range is before its start")
    check_span(first, last, field_name)
    return DateRange(first, last, start_at, end_at)


def parse_date_range(
    value: object, ref: date | None = None, field_name: str = "date_range"
) -> DateRange:
    """A range as the v2 API writes it: a relative name, or [from, to] (days or ISO times,
    the end included)."""
    if isinstance(value, str):
        resolved = relative_range(value, ref or today_utc(), field_name)
        return resolved if ref is None else replace(resolved, relative=None)
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise QueryError(field_name, "must be a relative range like '30d' or a pair [from, to]")
    first, start_at = parse_moment(value[0], field_name)
    last, end_at = parse_moment(value[1], field_name)
    utc_edges = (_has_offset(value[0]), _has_offset(value[1]))
    try:
        if end_at is not None:
            end_at += timedelta(milliseconds=1)  # the given end is included
    except OverflowError:  # the last millisecond of year 9999
        raise QueryError(field_name, "a date is out of range") from None
    return replace(day_range(first, last, field_name, start_at, end_at), utc_edges=utc_edges)


def _has_offset(value: object) -> bool:
    try:
        return isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


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
