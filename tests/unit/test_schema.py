"""The one schema and everything derived from it agree."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from pathlib import Path

import duckdb

from beaconlake import schema
from beaconlake.adapters.duckdb_engine import empty_view_sql, events_view_sql
from beaconlake.adapters.parquet_sink import events_to_table, write_parquet_atomically
from beaconlake.model import Event

ARROW_TO_GLUE = {
    "timestamp[ms]": "timestamp",
    "string": "string",
    "int64": "bigint",
    "int32": "int",
    "bool": "boolean",
    "map<string, string>": "map<string,string>",
    "decimal128(18, 4)": "decimal(18,4)",
}
DUCKDB_TO_GLUE = {
    "TIMESTAMP_MS": "timestamp",
    "VARCHAR": "string",
    "BIGINT": "bigint",
    "INTEGER": "int",
    "BOOLEAN": "boolean",
    "MAP(VARCHAR, VARCHAR)": "map<string,string>",
    "DECIMAL(18,4)": "decimal(18,4)",
}


def _glue() -> list[tuple[str, str]]:
    return [(c.name, c.glue_type) for c in schema.COLUMNS]


def test_event_dataclass_has_the_schema_columns_then_partitions() -> None:
    names = [f.name for f in dataclasses.fields(Event)]
    assert tuple(names) == schema.ALL_COLUMN_NAMES


def test_arrow_schema_matches_schema_module() -> None:
    arrow = schema.arrow_schema()
    assert [(f.name, ARROW_TO_GLUE[str(f.type)]) for f in arrow] == _glue()


def _event() -> Event:
    return Event(
        ts=datetime(2026, 1, 2, 3, 4, 5, 678000),
        name="pageview",
        hostname="example.com",
        pathname="/",
        referrer_source=None,
        referrer=None,
        utm_source=None,
        utm_medium=None,
        utm_campaign=None,
        utm_content=None,
        utm_term=None,
        visitor_id=-42,
        browser="Chrome",
        browser_version="130.0",
        os="Windows",
        os_version="10",
        device="desktop",
        country="DE",
        props={"plan": "pro"},
        site_id="example.com",
        dt="2026-01-02",
    )


def _write_one_event(events_dir: Path) -> Path:
    write_parquet_atomically(
        events_to_table([_event()]), events_dir / "site_id=example.com" / "dt=2026-01-02"
    )
    (written,) = events_dir.rglob("*.parquet")
    return written


def test_glue_columns_describe_the_parquet_files_the_sink_writes(tmp_path: Path) -> None:
    """Athena reads the sink's files through the Glue table, and Firehose converts JSON to
    Parquet by it: its columns must be the files' columns, in order, with types that read
    them (the file's physical schema, mapped by this test's own table), each with its doc."""
    import pyarrow.parquet as pq

    written = pq.read_schema(_write_one_event(tmp_path / "events"))
    # a map read back from a file names its field: "map<string, string ('props')>"
    in_file = [(f.name, ARROW_TO_GLUE[re.sub(r" \('\w+'\)", "", str(f.type))]) for f in written]
    glue = schema.glue_columns()
    assert [(c["name"], c["type"]) for c in glue] == in_file
    assert all(c["comment"] for c in glue)
    # the types the SQL relies on (time arithmetic, hashed ids, props[...], money)
    types = dict(in_file)
    assert (types["ts"], types["visitor_id"], types["props"], types["revenue_amount"]) == (
        "timestamp",
        "bigint",
        "map<string,string>",
        "decimal(18,4)",
    )
    partitions = schema.glue_partition_keys()
    assert [(p["name"], p["type"]) for p in partitions] == [("site_id", "string"), ("dt", "string")]
    assert {p["name"] for p in partitions}.isdisjoint(written.names)  # they are the path


def _describe(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute("DESCRIBE events").fetchall()]


def test_duckdb_view_over_real_parquet_matches_schema_module(tmp_path: Path) -> None:
    _write_one_event(tmp_path / "events")
    con = duckdb.connect()
    con.execute(events_view_sql(tmp_path / "events"))
    described = _describe(con)
    expected = [(n, t) for n, t in _glue()] + [("site_id", "string"), ("dt", "string")]
    assert [(n, DUCKDB_TO_GLUE[t]) for n, t in described] == expected
    row = con.execute("SELECT ts, props['plan'], site_id, dt, visitor_id FROM events").fetchone()
    assert row == (datetime(2026, 1, 2, 3, 4, 5, 678000), "pro", "example.com", "2026-01-02", -42)
    con.execute(empty_view_sql())
    assert [(n, DUCKDB_TO_GLUE[t]) for n, t in _describe(con)] == expected
