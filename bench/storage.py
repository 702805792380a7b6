"""Figures 5 and 6: bytes per event as stored, and the bytes Athena would scan per query.

JSON lines are the records the collector hands to Firehose (`Event.as_json_record`), measured
on a sample of the generated rows. For Athena, the columns a statement reads are those DuckDB's
optimiser reads for the same SQL (its scan projections and filters, after it prunes what the
result does not need, as Trino does); the bytes are the compressed sizes of those column chunks
in the Parquet footers of the partitions left after pruning (one site, the range's days).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

from beaconlake.adapters.duckdb_engine import events_view_sql
from beaconlake.model import Event
from beaconlake.schema import COLUMN_NAMES
from beaconlake.sqldialect import athena_to_duckdb
from bench.collector import json_line

SAMPLE_ROWS = 100_000


def _events(path: Path, site: str, limit: int) -> Iterator[Event]:
    dt = path.parent.name.removeprefix("dt=")
    for row in pq.read_table(path).slice(0, limit).to_pylist():
        row["props"] = dict(row["props"])
        yield Event(**row, site_id=site, dt=dt)


def json_lines(data_dir: Path, site: str) -> dict[str, float]:
    """Bytes per event of the Firehose records, raw and gzip'd, over a sample of rows."""
    files = sorted((data_dir / "events").rglob("*.parquet"))
    lines: list[bytes] = []
    for path in files:
        lines += [json_line(e) for e in _events(path, site, SAMPLE_ROWS - len(lines))]
        if len(lines) >= SAMPLE_ROWS:
            break
    raw = b"".join(lines)
    return {
        "sample_rows": len(lines),
        "bytes_per_event": len(raw) / len(lines),
        "gzip_bytes_per_event": len(gzip.compress(raw, 6)) / len(lines),
    }


def _plan_nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for child in node.get("children", []):
            yield from _plan_nodes(child)
    elif isinstance(node, list):
        for item in node:
            yield from _plan_nodes(item)


def columns_read(con: duckdb.DuckDBPyConnection, sql: str, params: tuple[Any, ...]) -> set[str]:
    """Schema columns the Parquet scans of DuckDB's plan read (projected or filtered on)."""
    plan = con.execute("EXPLAIN (FORMAT json) " + athena_to_duckdb(sql), list(params)).fetchall()
    found: set[str] = set()
    for node in _plan_nodes(json.loads(plan[0][1])):
        if node.get("name") != "READ_PARQUET":
            continue
        info = node.get("extra_info", {})
        text = json.dumps([info.get("Projections"), info.get("Filters")])
        found |= {c for c in COLUMN_NAMES if re.search(rf"\b{c}\b", text)}
    return found


def column_bytes(data_dir: Path, site: str, first: date, last: date) -> dict[str, int]:
    """Compressed bytes of each column over the partitions of one site and date range."""
    sizes = dict.fromkeys(COLUMN_NAMES, 0)
    for path in (data_dir / "events" / f"site_id={site}").glob("dt=*/*.parquet"):
        day = date.fromisoformat(path.parent.name.removeprefix("dt="))
        if not first <= day <= last:
            continue
        meta = pq.read_metadata(path)
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                chunk = group.column(c)
                sizes[chunk.path_in_schema.split(".")[0]] += chunk.total_compressed_size
    return sizes


def athena_scans(
    data_dir: Path,
    site: str,
    first: date,
    last: date,
    statements: list[tuple[str, str, tuple[Any, ...]]],
) -> list[dict[str, Any]]:
    """For each (label, sql, params): the columns read and the bytes Athena would scan."""
    sizes = column_bytes(data_dir, site, first, last)
    con = duckdb.connect()
    con.execute(events_view_sql(data_dir / "events"))
    out = []
    for label, sql, params in statements:
        cols = columns_read(con, sql, params)
        out.append({"label": label, "columns": sorted(cols), "bytes": sum(sizes[c] for c in cols)})
    return out
