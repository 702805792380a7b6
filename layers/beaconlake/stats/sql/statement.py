"""A statement and its parameters, and the restriction every statement starts from: one site,
its partitions (dt) for the range, then the exact times.

Time zones: `dt` partitions and `ts` are UTC. A range of a site in another zone selects the
UTC days holding it (one more day on either side at most) and then, where visits are
computed, the visits that *started* in it, with all of their events (`visit_range_params`,
STARTED_WHERE): a visit never crosses a UTC midnight (visitor ids change there), so this is
exact, and the daily rollups (one row per visit, with `started`) answer it too. Wall-clock
times in SQL (`local_time`) add the zone's UTC offset, taken from Python's zoneinfo and
written as a CASE over the offset changes in the range, so both engines, Athena and DuckDB,
use the same rules as the code that labels the buckets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from beaconlake.stats.query import DateRange, zone

Params = tuple[Any, ...]
TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

RANGE_WHERE = (
    "site_id = ? AND dt BETWEEN ? AND ? "
    "AND ts >= CAST(? AS timestamp) AND ts < CAST(? AS timestamp)"
)
# the visits of a range in a zone other than UTC: those that started in it
STARTED_WHERE = "started >= CAST(? AS timestamp) AND started < CAST(? AS timestamp)"


@dataclass(frozen=True)
class Statement:
    sql: str
    params: Params


def timestamp_text(moment: datetime) -> str:
    """A parameter CAST to timestamp: milliseconds, as stored."""
    return moment.strftime(TS_FORMAT)[:-3]


def range_params(site_id: str, date_range: DateRange) -> Params:
    """The five parameters of RANGE_WHERE: the range's events, by their time."""
    if date_range.local:
        first, last = date_range.dt_days()
        return (
            site_id,
            first.isoformat(),
            last.isoformat(),
            timestamp_text(date_range.start_utc),
            timestamp_text(date_range.end_utc),
        )
    return (
        site_id,
        date_range.first.isoformat(),
        date_range.last.isoformat(),
        timestamp_text(date_range.start),
        timestamp_text(date_range.end),
    )


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def visit_range_params(site_id: str, date_range: DateRange) -> Params:
    """RANGE_WHERE's parameters for statements that compute visits: in UTC, the range's
    events; in another zone, every event of the UTC days holding the range, of which the
    visits that started in the range are kept (STARTED_WHERE with `started_params`)."""
    if not date_range.local:
        return range_params(site_id, date_range)
    first, last = date_range.dt_days()
    return (
        site_id,
        first.isoformat(),
        last.isoformat(),
        timestamp_text(_midnight(first)),
        timestamp_text(_midnight(last + timedelta(days=1))),
    )


def started_params(date_range: DateRange) -> Params:
    """STARTED_WHERE's two parameters: the range's start and end, in UTC."""
    return timestamp_text(date_range.start_utc), timestamp_text(date_range.end_utc)


# ---- wall-clock times ----------------------------------------------------------------------


def _offset(tz: str, moment: datetime) -> int:
    """The zone's UTC offset in minutes at the naive UTC `moment`."""
    offset = moment.replace(tzinfo=UTC).astimezone(zone(tz)).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


@lru_cache(maxsize=512)
def offsets(tz: str, first: date, last: date) -> tuple[int, tuple[tuple[datetime, int], ...]]:
    """The offset at the start of UTC day `first` and every change up to the end of `last`:
    (offset, ((UTC instant of a change, the offset from then on), ...)). Found a day at a
    time, then to the minute (zones change their offset at most once a day)."""
    lo = _midnight(first)
    current = _offset(tz, lo)
    changes: list[tuple[datetime, int]] = []
    day = lo
    end = _midnight(last + timedelta(days=1))
    while day < end:
        after = _offset(tz, day + timedelta(days=1))
        if after != _offset(tz, day):
            low, high = day, day + timedelta(days=1)  # offset(low) differs from offset(high)
            while high - low > timedelta(minutes=1):
                mid = low + (high - low) / 2
                mid = mid.replace(second=0, microsecond=0)
                if mid <= low:
                    mid = low + timedelta(minutes=1)
                if _offset(tz, mid) == after:
                    high = mid
                else:
                    low = mid
            changes.append((high, after))
        day += timedelta(days=1)
    return current, tuple(changes)


def local_time(column: str, date_range: DateRange) -> str:
    """SQL for `column` (a UTC timestamp within the range's UTC days) as the wall-clock time
    of the range's zone. An hour the clocks repeat is one wall-clock hour holding both."""
    if not date_range.local:
        return column
    first, last = date_range.dt_days()
    start, changes = offsets(date_range.timezone, first - timedelta(days=1), last)
    if not changes:
        return column if start == 0 else f"date_add('minute', {start}, {column})"
    cases = []
    before = start
    for moment, after in changes:
        cases.append(f"WHEN {column} < TIMESTAMP '{timestamp_text(moment)}' THEN {before}")
        before = after
    return f"date_add('minute', CASE {' '.join(cases)} ELSE {before} END, {column})"
