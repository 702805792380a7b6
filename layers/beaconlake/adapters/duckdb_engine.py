"""Local QueryEngine: DuckDB over the Parquet tree, running transpiled Athena SQL.

The `events` view reads `events/site_id=*/dt=*/*.parquet` with hive partitioning, so the
site_id and dt restrictions every statement carries prune whole directories, as in Athena.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb

from beaconlake.ports import QueryFailed
from beaconlake.schema import duckdb_columns
from beaconlake.sqldialect import athena_to_duckdb


def events_view_sql(events_dir: Path) -> str:
    """The DuckDB `events` view, derived from the schema module. Files written before a column
    was added lack it; the typed empty row set supplies it as NULL, as Athena reads them."""
    cols = duckdb_columns()
    pattern = str(events_dir / "site_id=*" / "dt=*" / "*.parquet").replace("'", "''")
    select = ", ".join(f'CAST("{name}" AS {typ}) AS "{name}"' for name, typ in cols.items())
    return (
        f"CREATE OR REPLACE VIEW events AS SELECT {select} FROM (SELECT * FROM read_parquet("
        f"'{pattern}', hive_partitioning = true, "
        "hive_types = {'site_id': VARCHAR, 'dt': VARCHAR}, union_by_name = true) "
        f"UNION ALL BY NAME {_typed_empty_rows()})"
    )


def _typed_empty_rows() -> str:
    cols = ", ".join(f'CAST(NULL AS {typ}) AS "{name}"' for name, typ in duckdb_columns().items())
    return f"SELECT {cols} WHERE false"


def empty_view_sql() -> str:
    return f"CREATE OR REPLACE VIEW events AS {_typed_empty_rows()}"


class ResultCache:
    """Answers of recent statements, valid while the Parquet tree is unchanged: every file
    the sink, erasure or compaction writes lands by a rename into a `dt=` directory, which
    changes that directory's mtime, so the key (statement, parameters, tree signature) can
    never return an answer computed before the data changed. Answers are only kept once the
    newest change is a second old, beyond the coarseness of file timestamps."""

    def __init__(self, events_dir: Path, entries: int = 256, max_rows: int = 10_000) -> None:
        self.events_dir = events_dir
        self.entries = entries
        self.max_rows = max_rows
        self._answers: OrderedDict[Hashable, list[dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def signature(self) -> tuple[int, int]:
        """(number of day directories, newest mtime among them and their parents)."""
        dirs = [self.events_dir, *self.events_dir.glob("site_id=*")]
        dirs += [d for site in dirs[1:] for d in site.glob("dt=*")]
        mtimes = [d.stat().st_mtime_ns for d in dirs if d.exists()]
        return len(mtimes), max(mtimes, default=0)

    def get(self, key: Hashable) -> list[dict[str, Any]] | None:
        with self._lock:
            rows = self._answers.get(key)
            if rows is None:
                return None
            self._answers.move_to_end(key)
        return [dict(r) for r in rows]

    def put(self, key: Hashable, signature: tuple[int, int], rows: list[dict[str, Any]]) -> None:
        if len(rows) > self.max_rows or time.time_ns() - signature[1] < 1_000_000_000:
            return
        with self._lock:
            self._answers[key] = [dict(r) for r in rows]
            while len(self._answers) > self.entries:
                self._answers.popitem(last=False)


class DuckDBEngine:
    def __init__(
        self,
        data_dir: Path,
        memory_limit: str = "256MB",
        threads: int = 2,
        cached_answers: int = 256,
    ) -> None:
        self.events_dir = Path(data_dir) / "events"
        self.cache = ResultCache(self.events_dir, entries=cached_answers)
        self._db = duckdb.connect(
            ":memory:", config={"memory_limit": memory_limit, "threads": threads}
        )
        self._lock = threading.Lock()
        self._has_files: bool | None = None
        self._view_signature: tuple[int, int] | None = None
        self._sync_view(self.cache.signature())

    def _sync_view(self, signature: tuple[int, int]) -> None:
        """Point the view at the files, or at no rows when there are none (yet, or any more:
        erasure and retention can delete every file while the server runs)."""
        if signature == self._view_signature:
            return
        has_files = any(self.events_dir.glob("site_id=*/dt=*/*.parquet"))
        with self._lock:
            if has_files != self._has_files:
                self._db.execute(
                    events_view_sql(self.events_dir) if has_files else empty_view_sql()
                )
                self._has_files = has_files
            self._view_signature = signature

    def query(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        signature = self.cache.signature()
        key = (sql, tuple(params), signature)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        self._sync_view(signature)
        cursor = self._db.cursor()
        try:
            result = cursor.execute(athena_to_duckdb(sql), list(params))
            names = [d[0] for d in result.description or ()]
            rows = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
            self.cache.put(key, signature, rows)
            return rows
        except duckdb.Error as exc:
            raise QueryFailed(f"the local query engine failed: {type(exc).__name__}") from exc
        finally:
            cursor.close()

    def stream(
        self, sql: str, params: Sequence[Any], batch_rows: int = 10_000
    ) -> Iterator[list[dict[str, Any]]]:
        self._sync_view(self.cache.signature())
        cursor = self._db.cursor()
        try:
            result = cursor.execute(athena_to_duckdb(sql), list(params))
            names = [d[0] for d in result.description or ()]
            while rows := result.fetchmany(batch_rows):
                yield [dict(zip(names, row, strict=True)) for row in rows]
        except duckdb.Error as exc:
            raise QueryFailed(f"the local query engine failed: {type(exc).__name__}") from exc
        finally:
            cursor.close()

    def query_many(
        self, statements: Sequence[tuple[str, Sequence[Any]]]
    ) -> list[list[dict[str, Any]]]:
        return [self.query(sql, params) for sql, params in statements]
