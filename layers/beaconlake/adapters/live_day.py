"""Today's rollup rows, kept in DuckDB tables and brought up to date from the files at each read.

Sessionising a day per query holds all of its events at once (two window passes), so a
dashboard's memory grew with the day's traffic (docs/RELIABILITY.md). The live day instead
takes in only the rows written since its last read and merges them with its rows
(stats/live_sql), so what it holds grows with the day's sessions and pages, not its events.

What it has taken in is a set of leaves (compaction.Leaf): files as the sink first wrote them,
which a merge names in its metadata. A file whose leaves are all known adds nothing (a merge);
a leaf not yet known adds its rows, read by their row numbers within the file; a known leaf
gone (erasure rewrote or removed its file, retention dropped the day) or an event older than
its visitor's last session means the day is computed again from its files, one bucket of
visitors at a time, as the rollups of past days are.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb

from beaconlake.adapters.compaction import Leaf, leaves
from beaconlake.adapters.duckdb_sql import files_rows, literal, typed_empty_rows
from beaconlake.adapters.parquet_sink import partition_dir
from beaconlake.ports import LocalRollupSql
from beaconlake.sqldialect import athena_to_duckdb


class LiveDay:
    def __init__(self, events_dir: Path, rows_per_bucket: int, sql: LocalRollupSql) -> None:
        self.events_dir = events_dir
        self.rows_per_bucket = rows_per_bucket
        self.sql = sql
        self._taken: dict[str, tuple[date, set[Leaf]]] = {}
        self._leaves: dict[Path, tuple[tuple[int, int], list[Leaf]]] = {}
        self.recomputed = 0  # times the day was computed whole, and times rows were merged in
        self.merged = 0

    def create_tables(self, cursor: duckdb.DuckDBPyConnection) -> None:
        """Empty tables typed by the rollup statements themselves."""
        cursor.execute(f"CREATE OR REPLACE VIEW no_events AS {typed_empty_rows()}")
        for table in self.sql.tables:
            sql, params = table.statement("", date.min, 0, 1, "no_events")
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {table.name} AS SELECT CAST(NULL AS VARCHAR) AS "
                f"site_id, CAST(NULL AS VARCHAR) AS dt, {', '.join(table.columns)} "
                f"FROM ({athena_to_duckdb(sql)}) WHERE false",
                list(params),
            )

    def sync(self, cursor: duckdb.DuckDBPyConnection, site_id: str, day: date) -> None:
        """Bring the site's rows for `day` up to date with its files (call with the tree lock
        held shared, so no merge or erasure changes them meanwhile)."""
        directory = partition_dir(self.events_dir, site_id, day.isoformat())
        files = {path: self._leaves_of(path) for path in sorted(directory.glob("*.parquet"))}
        for gone in [p for p in self._leaves if p.parent == directory and p not in files]:
            del self._leaves[gone]
        present = {leaf for found in files.values() for leaf in found}
        taken_day, taken = self._taken.get(site_id, (None, set()))
        slices = [
            (path, offset, leaf.rows)
            for path, found in files.items()
            for offset, leaf in zip(_offsets(found), found, strict=True)
            if leaf not in taken
        ]
        current = taken_day == day and taken <= present
        if not current or (slices and not self._take_in(cursor, site_id, day, slices)):
            self._recompute(cursor, site_id, day, list(files), sum(f.rows for f in present))
        self._taken[site_id] = (day, present)

    def _leaves_of(self, path: Path) -> list[Leaf]:
        """leaves(path), read again only when the file changed: a statement reads it per file."""
        st = path.stat()
        stamp = (st.st_size, st.st_mtime_ns)
        known = self._leaves.get(path)
        if known is None or known[0] != stamp:
            known = (stamp, leaves(path))
            self._leaves[path] = known
        return known[1]

    def forget_before(self, cursor: duckdb.DuckDBPyConnection, day: date) -> None:
        """Drop the rows of days before `day`: those days have rollup files of their own."""
        with _transaction(cursor):
            for table in self.sql.tables:
                cursor.execute(f"DELETE FROM {table.name} WHERE dt < ?", [day.isoformat()])
        self._taken = {site: kept for site, kept in self._taken.items() if kept[0] >= day}

    def _recompute(
        self,
        cursor: duckdb.DuckDBPyConnection,
        site_id: str,
        day: date,
        files: list[Path],
        rows: int,
    ) -> None:
        self.recomputed += 1
        with _transaction(cursor):
            if files:
                cursor.execute(f"CREATE OR REPLACE TEMP VIEW live_source AS {files_rows(files)}")
            count = self.sql.bucket_count(rows, self.rows_per_bucket) if files else 0
            for table in self.sql.tables:
                cursor.execute(f"DELETE FROM {table.name} WHERE site_id = ?", [site_id])
                for index in range(count):
                    sql, params = table.statement(site_id, day, index, count, "live_source")
                    cursor.execute(
                        f"INSERT INTO {table.name} BY NAME SELECT ? AS site_id, ? AS dt, "
                        f"{', '.join(table.columns)} FROM ({athena_to_duckdb(sql)})",
                        [site_id, day.isoformat(), *params],
                    )

    def _take_in(
        self,
        cursor: duckdb.DuckDBPyConnection,
        site_id: str,
        day: date,
        slices: list[tuple[Path, int, int]],
    ) -> bool:
        """Merge the rows of `slices` (file, first row, rows) in; False if one is too late."""
        where, params = self.sql.day_where(site_id, day)
        rows = " OR ".join(
            f"(filename = {literal(str(path))} AND file_row_number >= {offset} "
            f"AND file_row_number < {offset + count})"
            for path, offset, count in slices
        )
        live_params = [site_id, day.isoformat()]
        files = sorted({path for path, _, _ in slices})
        with _transaction(cursor):
            cursor.execute(f"CREATE OR REPLACE TEMP VIEW live_slices AS {files_rows(files, rows)}")
            cursor.execute(
                "CREATE OR REPLACE TEMP TABLE batch AS "
                + athena_to_duckdb(f"SELECT * FROM live_slices WHERE {where}"),
                [*params],
            )
            late = cursor.execute(athena_to_duckdb(self.sql.late_events), live_params).fetchone()
            if late and late[0]:
                return False
            merges = [(t.name, t.merge_sql, t.merge_key, t.merge_uses) for t in self.sql.tables]
            for table, sql, key, uses in merges:
                cursor.execute(
                    f"CREATE OR REPLACE TEMP TABLE merged AS {athena_to_duckdb(sql)}",
                    live_params * uses,
                )
                match = " AND ".join(f"m.{k} IS NOT DISTINCT FROM {table}.{k}" for k in key)
                cursor.execute(
                    f"DELETE FROM {table} WHERE site_id = ? AND dt = ? "
                    f"AND EXISTS (SELECT 1 FROM merged m WHERE {match})",
                    live_params,
                )
                cursor.execute(
                    f"INSERT INTO {table} BY NAME SELECT ? AS site_id, ? AS dt, * FROM merged",
                    live_params,
                )
        self.merged += 1
        return True


@contextmanager
def _transaction(cursor: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Every change to the live tables: readers on other cursors see the rows before or after,
    never between. Leaving early (a late event) rolls back, as an error does.

    A commit is followed by a checkpoint. DuckDB compresses a table's rows, and frees the ones
    deleted, only at a checkpoint, in memory as on disk, and each merge deletes and inserts
    again the visits and pages it continues: without it the tables held every version of a
    visit until DuckDB's own checkpoint, 29 MB for the soak's 48,000 visits and pages where
    their compressed rows take 3 MB (docs/RELIABILITY.md). One after a merge takes a few ms."""
    cursor.execute("BEGIN TRANSACTION")
    committed = False
    try:
        yield
        cursor.execute("COMMIT")
        committed = True
    finally:
        if not committed:
            cursor.execute("ROLLBACK")
    cursor.execute("CHECKPOINT")


def _offsets(found: list[Leaf]) -> list[int]:
    out, at = [], 0
    for leaf in found:
        out.append(at)
        at += leaf.rows
    return out
