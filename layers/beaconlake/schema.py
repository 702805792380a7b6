"""The event schema, defined once.

Every other representation is derived from `COLUMNS` and `PARTITIONS`: the collector's row
(`beaconlake.model.Event`), the local Parquet schema (`arrow_schema`), the DuckDB view
(`duckdb_columns`) and the Glue table in the CDK app (`glue_columns`). A test proves they agree.

Types are written as Athena/Glue (Hive) type names, the most restrictive of the four users.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Column:
    name: str
    glue_type: str
    doc: str


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
)

PARTITIONS: tuple[Column, ...] = (
    Column("site_id", "string", "The tracked site (its domain)"),
    Column("dt", "string", "Event date, UTC, YYYY-MM-DD"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
ALL_COLUMN_NAMES: tuple[str, ...] = COLUMN_NAMES + tuple(p.name for p in PARTITIONS)


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
