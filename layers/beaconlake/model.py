"""Plain data passed between the layers."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """One stored row: the columns of `beaconlake.schema`, in order, then the partitions."""

    ts: datetime
    name: str
    hostname: str
    pathname: str
    referrer_source: str | None
    referrer: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_content: str | None
    utm_term: str | None
    visitor_id: int
    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    device: str | None
    country: str | None
    props: dict[str, str] = field(default_factory=dict)
    revenue_amount: Decimal | None = None
    revenue_currency: str | None = None
    interactive: bool = True
    scroll_depth: int | None = None
    engaged_ms: int | None = None
    user_id: str | None = None
    site_id: str = ""
    dt: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Field name → value; props is copied, the other values are immutable."""
        record = {name: getattr(self, name) for name in EVENT_FIELDS}
        record["props"] = dict(self.props)
        return record

    def as_json_record(self) -> dict[str, Any]:
        """The JSON shape Firehose converts to Parquet: timestamp as 'YYYY-MM-DD HH:MM:SS.fff'."""
        record = dict(zip(EVENT_FIELDS, self.as_json_values(), strict=True))
        record["props"] = dict(self.props)
        return record

    def as_json_values(self) -> list[Any]:
        """The JSON record's values in EVENT_FIELDS order (the spool writes these: half the
        time and bytes of the record)."""
        values = list(_field_values(self))
        values[_TS] = self.ts.isoformat(" ", "milliseconds")[:23]
        if self.revenue_amount is not None:
            values[_REVENUE] = str(self.revenue_amount)
        return values


EVENT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Event))
_field_values = attrgetter(*EVENT_FIELDS)
_TS = EVENT_FIELDS.index("ts")
_REVENUE = EVENT_FIELDS.index("revenue_amount")


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """What the collector needs from the HTTP request besides the body. Never stored."""

    ip: str
    user_agent: str
    dnt: bool = False
    gpc: bool = False
    country_header: str | None = None
