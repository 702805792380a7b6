"""A statement and its parameters, and the restriction every statement starts from: one site,
its partitions (dt) for the range, then the exact times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from beaconlake.stats.query import DateRange

Params = tuple[Any, ...]
TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

RANGE_WHERE = (
    "site_id = ? AND dt BETWEEN ? AND ? "
    "AND ts >= CAST(? AS timestamp) AND ts < CAST(? AS timestamp)"
)


@dataclass(frozen=True)
class Statement:
    sql: str
    params: Params


def timestamp_text(moment: datetime) -> str:
    """A parameter CAST to timestamp: milliseconds, as stored."""
    return moment.strftime(TS_FORMAT)[:-3]


def range_params(site_id: str, date_range: DateRange) -> Params:
    """The five parameters of RANGE_WHERE."""
    return (
        site_id,
        date_range.first.isoformat(),
        date_range.last.isoformat(),
        timestamp_text(date_range.start),
        timestamp_text(date_range.end),
    )
