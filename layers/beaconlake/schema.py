"""The event schema, defined once.

Every other representation is derived from `COLUMNS` and `PARTITIONS`: the local Parquet
schema (`arrow_schema`), the DuckDB view (`duckdb_columns`) and the Glue table in the CDK
app (`glue_columns`); the collector's row, `Event`, is written below them, field for field,
and a test proves they agree.

Types are written as Athena/Glue (Hive) type names, the most restrictive of the four users.

A column may come from a request header (`FromHeader`): the collector passes the header to
`reduce` and stores only what that keeps, a coarse value; the header itself is never stored.
Such a column is a nullable string, added at the end: files written before it lack it, and
every reader takes it as NULL there (Athena reads Parquet columns by name; the DuckDB view
fills them in, adapters/duckdb_sql.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any


@dataclass(frozen=True)
class FromHeader:
    """A column's value from request header `header` (lower-case): `reduce(value)`, or None
    where the request has no such header or `reduce` keeps nothing."""

    header: str
    reduce: Callable[[str], str | None]


@dataclass(frozen=True)
class Column:
    name: str
    glue_type: str
    doc: str
    from_header: FromHeader | None = None


_LANGUAGE = re.compile(r"[a-z]{2,3}")


def primary_language(accept_language: str) -> str | None:
    """The primary language subtag of the most preferred language range, lower-case:
    "de-CH,de;q=0.9" → "de". Nothing for "*", q=0 or anything that is not a language tag."""
    best, best_q = None, 0.0
    for item in accept_language[:1000].split(",")[:32]:
        tag, *params = item.split(";")
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        primary = tag.strip().split("-", 1)[0].lower()
        if q > best_q and _LANGUAGE.fullmatch(primary):
            best, best_q = primary, q
    return best


COLUMNS: tuple[Column, ...] = (
    Column("ts", "timestamp", "Event time, UTC, millisecond precision"),
    Column("name", "string", "'pageview', 'engagement' or a custom event name"),
    Column("hostname", "string", "Host of the page URL, www. folded"),
    Column("pathname", "string", "Path of the page URL (no query string, no fragment)"),
    Column(
        "referrer_source", "string", "Where the visit came from: utm_source, a known name or a host"
    ),
    Column("referrer", "string", "Referrer URL without query string and fragment"),
    Column("utm_source", "string", "utm_source query parameter"),
    Column("utm_medium", "string", "utm_medium query parameter"),
    Column("utm_campaign", "string", "utm_campaign query parameter"),
    Column("utm_content", "string", "utm_content query parameter"),
    Column("utm_term", "string", "utm_term query parameter"),
    Column("visitor_id", "bigint", "Keyed hash of (daily salt, site, IP, UA); changes every day"),
    Column("browser", "string", "Browser family"),
    Column("browser_version", "string", "Browser major.minor version"),
    Column("os", "string", "Operating system family"),
    Column("os_version", "string", "Operating system major.minor version"),
    Column("device", "string", "'desktop', 'mobile', 'tablet' or 'other'"),
    Column("country", "string", "ISO 3166-1 alpha-2 country code, or NULL"),
    Column("props", "map<string,string>", "Custom properties"),
    Column("revenue_amount", "decimal(18,4)", "Revenue of the event, in revenue_currency"),
    Column("revenue_currency", "string", "ISO 4217 currency code of revenue_amount"),
    Column("interactive", "boolean", "False for events that must not affect bounce rate"),
    Column("scroll_depth", "int", "Engagement events: deepest scroll, percent 0-100"),
    Column("engaged_ms", "bigint", "Engagement events: time the page was visible and active, ms"),
    Column(
        "user_id",
        "string",
        "Site-supplied user id as a keyed hash (HMAC, per-site secret); NULL unless enabled",
    ),
    Column(
        "language",
        "string",
        "Primary subtag of the browser's preferred language (Accept-Language), e.g. 'de'",
        FromHeader("accept-language", primary_language),
    ),
    Column(
        "seq",
        "bigint",
        "Order of arrival at its collector process, increasing: breaks ties of ts (NULL in "
        "files written before it, read as 0)",
    ),
)

PARTITIONS: tuple[Column, ...] = (
    Column("site_id", "string", "The tracked site (its domain)"),
    Column("dt", "string", "Event date, UTC, YYYY-MM-DD"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
ALL_COLUMN_NAMES: tuple[str, ...] = COLUMN_NAMES + tuple(p.name for p in PARTITIONS)
_FROM_HEADERS = tuple((c.name, c.from_header) for c in COLUMNS if c.from_header)
# the request headers columns are read from (the collector keeps only these for it)
REQUEST_HEADERS: tuple[str, ...] = tuple(source.header for _, source in _FROM_HEADERS)


def header_columns(headers: Mapping[str, str]) -> dict[str, Any]:
    """The values of the columns read from request headers (lower-case names)."""
    return {name: source.reduce(headers.get(source.header, "")) for name, source in _FROM_HEADERS}


@dataclass(frozen=True, slots=True)
class Event:
    """One stored row: the COLUMNS, in order, then the PARTITIONS."""

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
    language: str | None = None
    seq: int | None = None
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


def glue_columns() -> list[dict[str, str]]:
    """Columns of the Glue table, in the shape of CfnTable.ColumnProperty."""
    return [{"name": c.name, "type": c.glue_type, "comment": c.doc} for c in COLUMNS]


def glue_partition_keys() -> list[dict[str, str]]:
    return [{"name": p.name, "type": p.glue_type, "comment": p.doc} for p in PARTITIONS]


_DUCKDB_TYPES = {
    "timestamp": "TIMESTAMP_MS",
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "boolean": "BOOLEAN",
    "map<string,string>": "MAP(VARCHAR, VARCHAR)",
    "decimal(18,4)": "DECIMAL(18,4)",
}


def duckdb_type(glue_type: str) -> str:
    return _DUCKDB_TYPES[glue_type]


def duckdb_columns() -> dict[str, str]:
    """Column name → DuckDB type, partitions included, in table order."""
    return {c.name: duckdb_type(c.glue_type) for c in COLUMNS + PARTITIONS}


def arrow_schema() -> Any:
    """The pyarrow schema of one Parquet file (partition columns live in the path)."""
    import pyarrow as pa

    arrow_types = {
        "timestamp": pa.timestamp("ms"),
        "string": pa.string(),
        "bigint": pa.int64(),
        "int": pa.int32(),
        "boolean": pa.bool_(),
        "map<string,string>": pa.map_(pa.string(), pa.string()),
        "decimal(18,4)": pa.decimal128(18, 4),
    }
    return pa.schema([pa.field(c.name, arrow_types[c.glue_type]) for c in COLUMNS])
