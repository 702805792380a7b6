"""The local back end's imported tables: Parquet files under `<data_dir>/imported/`, and the
DuckDB views over them that the query engine creates (wiring hands it `views`)."""

from __future__ import annotations

import os
from pathlib import Path

from beaconlake.imports.plausible import (
    IMPORTED_DIR,
    Stored,
    TableRows,
    object_key,
    overlap,
    parquet_bytes,
    without_days,
)
from beaconlake.stats.sql.imported import TABLES, ImportedTable

_DUCK = {"varchar": "VARCHAR", "bigint": "BIGINT"}


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def store(data_dir: Path, site: str, tables: list[TableRows]) -> list[Stored]:
    """Write each table's file for `site`; nothing is written when any would overlap days
    already imported for that table (ValueError naming the file)."""
    root = Path(data_dir)
    for rows in tables:
        site_dir = (root / object_key(rows, site)).parent
        existing = sorted(str(p) for p in site_dir.glob("*.parquet"))
        clash = overlap(rows, existing)
        if clash is not None:
            raise ValueError(f"{rows.table.name}: its days overlap an earlier import ({clash})")
    out = []
    for rows in tables:
        target = root / object_key(rows, site)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".parquet.partial")
        partial.write_bytes(parquet_bytes(rows))
        os.replace(partial, target)
        out.append(Stored(rows.table.name, str(target), len(rows.rows), rows.first, rows.last))
    return out


def erase(data_dir: Path, site: str, first: str, last: str) -> int:
    """Remove `site`'s imported rows of the days first..last (YYYY-MM-DD): files rewritten
    without them, or deleted when nothing is left; the number of rows removed."""
    removed = 0
    for path in sorted((Path(data_dir) / IMPORTED_DIR).glob(f"*/site_id={site}/*.parquet")):
        data, count = without_days(path.read_bytes(), first, last)
        if count == 0:
            continue
        removed += count
        if data is None:
            path.unlink()
        else:
            partial = path.with_suffix(".parquet.partial")
            partial.write_bytes(data)
            os.replace(partial, path)
    return removed


def _empty(table: ImportedTable) -> str:
    cols = [f"CAST(NULL AS {_DUCK[k]}) AS {c}" for c, k in table.stored]
    return f"SELECT CAST(NULL AS VARCHAR) AS site_id, {', '.join(cols)} WHERE false"


def views(data_dir: Path) -> tuple[str, list[str]]:
    """(signature of the imported files, the CREATE VIEW statements of every imported
    table): over its files when it has any, else typed and empty."""
    root = Path(data_dir) / IMPORTED_DIR
    signature: list[str] = []
    statements = []
    for table in TABLES:
        files = sorted((root / table.name).glob("site_id=*/*.parquet"))
        for f in files:
            st = f.stat()
            signature.append(f"{f}:{st.st_mtime_ns}:{st.st_size}")
        if files:
            pattern = _sql_text(str(root / table.name / "site_id=*" / "*.parquet"))
            cols = ", ".join(c for c, _ in table.stored)
            body = (
                f"SELECT site_id, {cols} FROM read_parquet({pattern}, hive_partitioning = true, "
                "hive_types = {'site_id': VARCHAR})"
            )
        else:
            body = _empty(table)
        statements.append(f"CREATE OR REPLACE VIEW {table.name} AS {body}")
    return "|".join(signature), statements
