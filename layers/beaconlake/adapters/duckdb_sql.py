"""DuckDB SQL for reading the event files, shared by the engine and its live day."""

from __future__ import annotations

from pathlib import Path

from beaconlake.schema import duckdb_columns


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def typed_empty_rows() -> str:
    cols = ", ".join(f'CAST(NULL AS {typ}) AS "{name}"' for name, typ in duckdb_columns().items())
    return f"SELECT {cols} WHERE false"


def parquet_rows(files: str, where: str | None = None) -> str:
    """The typed events of `files` (SQL: a glob or a list of paths). Files written before a
    column was added lack it; the typed empty row set supplies it as NULL, as Athena reads
    them. A `where` may also pick rows by `filename` and `file_row_number`."""
    select = ", ".join(
        f'CAST("{name}" AS {typ}) AS "{name}"' for name, typ in duckdb_columns().items()
    )
    numbered = ", filename = true, file_row_number = true" if where is not None else ""
    return (
        f"SELECT {select} FROM (SELECT * FROM read_parquet({files}, hive_partitioning = true, "
        f"hive_types = {{'site_id': VARCHAR, 'dt': VARCHAR}}, union_by_name = true{numbered}) "
        f"WHERE {where or 'true'} UNION ALL BY NAME {typed_empty_rows()})"
    )


def files_rows(files: list[Path], where: str | None = None) -> str:
    """parquet_rows of exactly these files."""
    return parquet_rows(f"[{', '.join(literal(str(f)) for f in files)}]", where)
