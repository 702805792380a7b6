"""Parquet written before a column was added still reads, with that column NULL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from beaconlake.adapters.duckdb_engine import DuckDBEngine
from beaconlake.schema import arrow_schema


def test_files_missing_a_newer_column_read_it_as_null(tmp_path: Path) -> None:
    newest = arrow_schema().names[-1]
    old_schema = pa.schema([f for f in arrow_schema() if f.name != newest])
    row = {f.name: [None] for f in old_schema}
    row |= {"ts": [datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)], "name": ["pageview"]}
    row |= {"pathname": ["/old"], "visitor_id": [7], "props": [[]], "interactive": [True]}
    part = tmp_path / "events" / "site_id=example.com" / "dt=2026-01-02"
    part.mkdir(parents=True)
    pq.write_table(pa.Table.from_pydict(row, schema=old_schema), part / "part-old.parquet")

    rows = DuckDBEngine(tmp_path).query(
        f'SELECT pathname, "{newest}" AS newest FROM events WHERE site_id = ? AND dt = ?',
        ["example.com", "2026-01-02"],
    )
    assert rows == [{"pathname": "/old", "newest": None}]
