"""Local QueryEngine: DuckDB over the Parquet tree, running transpiled Athena SQL.

The `events` view reads `events/site_id=*/dt=*/*.parquet` with hive partitioning, so the
site_id and dt restrictions every statement carries prune whole directories, as in Athena.
The `session_rollup` and `page_rollup` views read `rollup/site_id=*/dt=*/<table>.parquet`: one
row per session, and per visitor and page, of each past day, and today's live rows (LiveDay).
The engine supplies the daily job's primitives (ports.DayFiles: a day's files, their
signature, writing a day's rollup files); the job itself (stats.rollup_job) and the SQL
(stats.live_sql.local_rollup_sql) are handed in by wiring: this adapter runs the SQL it is
given. A day's rollup is written one bucket of visitors at a time, streamed into one file, so
the memory it takes does not grow with the day's traffic.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from beaconlake.adapters import raw_expiry
from beaconlake.adapters.compaction import TreeLock, create_private_file, make_private_dirs
from beaconlake.adapters.duckdb_sql import literal, parquet_rows, typed_empty_rows
from beaconlake.adapters.live_day import LiveDay
from beaconlake.adapters.monthly_local import LocalMonthly
from beaconlake.adapters.parquet_sink import ROLLUP_DIR, rollup_dir
from beaconlake.adapters.result_cache import ResultCache
from beaconlake.ports import (
    LocalRollupSql,
    MonthlyTables,
    QueryFailed,
    QueryTooLarge,
    Rollup,
    RollupState,
    Statements,
)
from beaconlake.sqldialect import athena_to_duckdb

# Events per bucket of visitors of the live day's recomputation (LiveDay); the past days' are
# the daily job's (beaconlake.stats.rollup_job.ROWS_PER_BUCKET).
ROWS_PER_BUCKET = 65_536
# Rows per row group of a rollup file: at 10 M events a month, 3 or 4 per day of sessions; fewer,
# larger ones cost memory while written and read only a little faster (docs/BENCHMARKS.md)
ROW_GROUP_ROWS = 16_384


def events_view_sql(events_dir: Path) -> str:
    """The DuckDB `events` view, derived from the schema module (see parquet_rows)."""
    pattern = str(events_dir / "site_id=*" / "dt=*" / "*.parquet")
    return f"CREATE OR REPLACE VIEW events AS {parquet_rows(literal(pattern))}"


def rollup_file(table: str) -> str:
    """A day's file of a rollup table (view): `<table>.parquet`."""
    return f"{table}.parquet"


def rollup_views_sql(rollup_root: Path, with_files: bool, sql: LocalRollupSql) -> list[str]:
    """The rollup views: the rows of past days' files, if any, and the live day's."""
    out = []
    for table in sql.tables:
        pattern = literal(str(rollup_root / "site_id=*" / "dt=*" / rollup_file(table.rollup)))
        files = (
            f"SELECT * FROM read_parquet({pattern}, hive_partitioning = true, "
            "hive_types = {'site_id': VARCHAR, 'dt': VARCHAR}) UNION ALL BY NAME "
        )
        view = f"{files if with_files else ''}{table.view_select}"
        out.append(f"CREATE OR REPLACE VIEW {table.rollup} AS {view}")
    return out


def today_utc() -> date:
    return datetime.now(UTC).date()


def files_signature(day_dir: Path) -> str | None:
    """A digest of the names, sizes and mtimes of a day's Parquet files (None: there are
    none): it changes whenever the sink adds a file, a merge, erasure or retention rewrites
    or deletes one."""
    entries: list[tuple[str, int, int]] = []
    for path in day_dir.glob("*.parquet"):
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        entries.append((path.name, st.st_size, st.st_mtime_ns))
    if not entries:
        return None
    return hashlib.sha256(repr(sorted(entries)).encode()).hexdigest()[:32]


def day_rows(day_dir: Path) -> int:
    """The rows of a day's Parquet files, from their footers."""
    rows = 0
    for path in day_dir.glob("*.parquet"):
        try:
            rows += pq.read_metadata(path).num_rows
        except FileNotFoundError:
            continue
    return rows


def empty_view_sql() -> str:
    return f"CREATE OR REPLACE VIEW events AS {typed_empty_rows()}"


class RowGroupWriter:
    """A Parquet file written from record batches in row groups of about ROW_GROUP_ROWS rows:
    one small row group per batch would make every later read of the file slower, and one
    large row group would hold that many rows in memory first."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self._writer = pq.ParquetWriter(path, schema, compression="zstd")
        self._pending: list[pa.RecordBatch] = []
        self._rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        self._pending.append(batch)
        self._rows += batch.num_rows
        if self._rows >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(pa.Table.from_batches(self._pending, self._writer.schema))
        self._pending, self._rows = [], 0

    def finish(self) -> None:
        self._flush()
        self._writer.close()

    def close(self) -> None:
        self._writer.close()


class DuckDBEngine:
    def __init__(
        self,
        data_dir: Path,
        rollup_sql: LocalRollupSql,
        memory_limit: str = "256MB",
        threads: int = 2,
        cached_answers: int = 256,
        today: Callable[[], date] = today_utc,
        rows_per_bucket: int = ROWS_PER_BUCKET,
        query_seconds: float = 10.0,
    ) -> None:
        self.data_dir = Path(data_dir)
        # the rollups' SQL (stats.live_sql.local_rollup_sql, handed in by wiring)
        self.rollup_sql = rollup_sql
        self.rows_per_bucket = rows_per_bucket
        # brings past days' rollups up to date before a statement reads them: the daily job's
        # refresh_range (beaconlake.stats.rollup_job), which wiring attaches; without it past
        # days are answered from their events
        self.refresh_days: Callable[[str, date, date], None] | None = None
        # the site catalogue's domains (wiring attaches them): the daily job's sites
        self.site_list: Callable[[], Iterable[str]] | None = None
        # more views, run when their signature changes (imported tables; wiring attaches)
        self.extra_views: Callable[[], tuple[str, list[str]]] | None = None
        self._extra_signature: str | None = None
        # one statement's run time; past it DuckDB is interrupted (docs/SECURITY.md, query
        # limits: wiring passes stats.limits' value)
        self.query_seconds = query_seconds
        self.events_dir = self.data_dir / "events"
        self.today = today
        self.cache = ResultCache(self.events_dir, entries=cached_answers)
        self.tree_lock = TreeLock(self.data_dir)
        # over its memory limit DuckDB spills here, not into whatever directory serve runs in
        spill = self.data_dir / ".duckdb-spill"
        self._db = duckdb.connect(
            ":memory:",
            config={
                "memory_limit": memory_limit,
                "threads": threads,
                "temp_directory": str(spill),
                # without them DuckDB's allocator keeps what a query frees, so RSS followed the
                # biggest query so far (docs/RELIABILITY.md, soak)
                "allocator_background_threads": True,
                # it keeps an entry for every file read, also once the file is gone; the sink
                # writes a file every few seconds and compaction deletes it soon after, so serve
                # grew ~1.5 KB per file. The OS caches local files' bytes (docs/RELIABILITY.md)
                "enable_external_file_cache": False,
            },
        )
        self._lock = threading.Lock()
        self._has_files: bool | None = None
        self._view_signature: tuple[int, int] | None = None
        self._sync_view(self.cache.signature())
        self._rollup_lock = threading.Lock()
        # (site, day) → (events dir mtime, files signature), once settled; and the signature
        # each day's rollups were written from
        self._checked: dict[tuple[str, str], tuple[int, str | None]] = {}
        self._written: dict[tuple[str, str], str | None] = {}
        self.live = LiveDay(self.events_dir, rows_per_bucket, rollup_sql)
        self._live_day = self.today()
        self.live.create_tables(self._db)
        self._rollup_files: bool | None = None
        self._sync_rollup_views()
        self.monthly = LocalMonthly(self.data_dir)  # per-month rollups, and their views' source
        self._monthly_signature: tuple[str, tuple[str, ...]] | None = None

    def _sync_rollup_views(self) -> None:
        rollup_root = self.data_dir / ROLLUP_DIR
        signed = rollup_file(self.rollup_sql.tables[-1].rollup)
        has_files = any(rollup_root.glob(f"*/*/{signed}"))
        if has_files != self._rollup_files:
            with self._lock:
                for view_sql in rollup_views_sql(rollup_root, has_files, self.rollup_sql):
                    self._db.execute(view_sql)
            self._rollup_files = has_files

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

    def session_rollup(self, site_id: str, first: date, last: date) -> Rollup | None:
        """Bring the past days of first..last up to date (`refresh_days`), and today's live
        rows (LiveDay) if today is among them; the days the rollup views answer."""
        today = self.today()
        with self._rollup_lock:
            if today != self._live_day:
                with self._cursor() as cursor:
                    self.live.forget_before(cursor, today)
                self._live_day = today
            past_last = min(last, today - timedelta(days=1))
            if self.refresh_days is not None and first <= past_last:
                self.refresh_days(site_id, first, past_last)
            live = first <= today <= last
            if live:
                with self._cursor() as cursor:
                    self.live.sync(cursor, site_id, today)
            self._sync_rollup_views()
        if self.refresh_days is None:  # past days are not rolled up: only the live day
            return Rollup(today, today) if live else None
        covered = today if live else past_last
        if first > covered or not (live or self._rollup_files):
            return None
        rollups = self.data_dir / ROLLUP_DIR
        return Rollup(first, covered, raw_expiry.expired_days(rollups, site_id, first, covered))

    def monthly_months(
        self, site_id: str, first: date, last: date, tables: MonthlyTables
    ) -> list[date]:
        """MonthlyRollups: the condensed months touching first..last (views made ready)."""
        signature = (self.monthly.signature(), tuple(tables))
        if signature != self._monthly_signature:
            with self._lock:
                for view_sql in self.monthly.views_sql(tables):
                    self._db.execute(view_sql)
            self._monthly_signature = signature
        return [m for m in self.monthly.months(site_id) if first.replace(day=1) <= m <= last]

    # ---- DayFiles: the daily job's primitives (beaconlake.stats.rollup_job) ----------------

    def _events_day(self, site_id: str, day: date) -> Path:
        return self.events_dir / f"site_id={site_id}" / f"dt={day.isoformat()}"

    def sites(self) -> list[str]:
        """The sites with event files or rollups; of those, the catalogue's (`site_list`),
        when wiring attached it: a site removed from the catalogue is no longer rolled up."""
        dirs = [*self.events_dir.glob("site_id=*"), *(self.data_dir / ROLLUP_DIR).glob("site_id=*")]
        found = {d.name.removeprefix("site_id=") for d in dirs if d.is_dir()}
        if self.site_list is not None:
            found &= set(self.site_list())
        return sorted(found)

    def days(self, site_id: str) -> list[date]:
        dirs = [
            *(self.events_dir / f"site_id={site_id}").glob("dt=*"),
            *(self.data_dir / ROLLUP_DIR / f"site_id={site_id}").glob("dt=*"),
        ]
        return sorted({date.fromisoformat(d.name.removeprefix("dt=")) for d in dirs if d.is_dir()})

    def signature(self, site_id: str, day: date) -> str | None:
        """Listed again only when the directory's mtime moved: a file renamed into it or
        deleted from it moves it (once settled beyond the coarseness of timestamps)."""
        events_day = self._events_day(site_id, day)
        key = (site_id, day.isoformat())
        try:
            mtime = events_day.stat().st_mtime_ns
        except FileNotFoundError:
            self._checked.pop(key, None)
            return None
        checked = self._checked.get(key)
        if checked is not None and checked[0] == mtime:
            return checked[1]
        found = files_signature(events_day)
        if time.time_ns() - mtime >= 1_000_000_000:
            self._checked[key] = (mtime, found)
        return found

    def rows(self, site_id: str, day: date) -> int:
        return day_rows(self._events_day(site_id, day))

    def compact(self, site_id: str, day: date) -> str | None:
        """The sink merges a day's files as it writes them (adapters.compaction)."""
        return self.signature(site_id, day)

    def rollup_signature(self, site_id: str, day: date) -> str | None:
        key = (site_id, day.isoformat())
        if key not in self._written:
            directory = rollup_dir(self.data_dir, site_id, key[1])
            files = [rollup_file(t.rollup) for t in self.rollup_sql.tables]
            stored = {_stored_signature(directory / name) for name in files}
            self._written[key] = stored.pop() if len(stored) == 1 else None
        return self._written[key]

    def write_rollups(
        self, site_id: str, day: date, tables: Mapping[str, Statements], signature: str
    ) -> None:
        key = (site_id, day.isoformat())
        self._sync_view(self.cache.signature())
        directory = rollup_dir(self.data_dir, site_id, key[1])
        make_private_dirs(directory)
        self._written.pop(key, None)
        names = {rollup_file(table) for table in tables}
        for old in directory.glob("*.parquet"):  # written under another name by older code
            if old.name not in names:
                old.unlink(missing_ok=True)
        for table, statements in tables.items():
            self._write_atomically(statements, directory / rollup_file(table), signature)
        self._written[key] = signature

    def drop_rollups(self, site_id: str, day: date) -> None:
        shutil.rmtree(rollup_dir(self.data_dir, site_id, day.isoformat()), ignore_errors=True)
        self._written.pop((site_id, day.isoformat()), None)

    def raw_expired(self, site_id: str, day: date) -> bool:
        return raw_expiry.is_expired(self.data_dir / ROLLUP_DIR, site_id, day)

    def state(self, site_id: str) -> RollupState | None:
        """None: the rollups are brought up to date when a statement needs them."""
        return None

    def save_state(self, site_id: str, state: RollupState) -> None:
        """Nothing kept: see `state`."""

    def _write_atomically(self, statements: Statements, target: Path, signature: str) -> None:
        """Write the statements' rows to a hidden file, then rename it over the old one."""
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            create_private_file(tmp).close()  # 0600: Arrow reopens it and keeps the mode
            self._write_rows(statements, tmp, signature)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def _write_rows(self, statements: Statements, path: Path, signature: str) -> None:
        """Stream the statements' rows, one statement after the other, into one Parquet file
        carrying the signature, so only one statement's working set is in memory at a time."""
        writer: RowGroupWriter | None = None
        try:
            with self._cursor() as cursor:
                for sql, params in statements:
                    relation = cursor.sql(athena_to_duckdb(sql), params=list(params))
                    batches = relation.to_arrow_reader(ROW_GROUP_ROWS)
                    if writer is None:
                        schema = batches.schema.with_metadata({"signature": signature})
                        writer = RowGroupWriter(path, schema)
                    for batch in batches:
                        writer.write(batch)
            if writer is not None:
                writer.finish()
        finally:
            if writer is not None:
                writer.close()

    def close(self) -> None:
        """Close the database; every later query, and /health, reports it closed."""
        self._db.close()

    def problem(self) -> str | None:
        try:
            cursor = self._db.cursor()
            try:
                cursor.execute("SELECT 1").fetchall()
            finally:
                cursor.close()
        except duckdb.Error as exc:
            return f"the local query engine (DuckDB) is not open ({type(exc).__name__})"
        return None

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for one statement, read-locking the tree (see compaction) while DuckDB
        reads, with DuckDB's errors raised as QueryFailed."""
        cursor = self._db.cursor()
        try:
            with self.tree_lock.shared():
                yield cursor
        except duckdb.Error as exc:
            raise QueryFailed(f"the local query engine failed: {type(exc).__name__}") from exc
        finally:
            cursor.close()

    @property
    def reads_imported(self) -> bool:
        """The imported tables are views wiring attaches (`extra_views`)."""
        return self.extra_views is not None

    def _sync_extra_views(self) -> str | None:
        if self.extra_views is None:
            return None
        signature, statements = self.extra_views()
        if signature != self._extra_signature:
            with self._lock:
                for view_sql in statements:
                    self._db.execute(view_sql)
                self._extra_signature = signature
        return signature

    def cache_key(
        self, sql: str, params: Sequence[Any], signature: tuple[int, int]
    ) -> tuple[Any, ...]:
        """What an answer is cached under: the statement, its parameters, the events tree's
        signature and the imported tables' (their views are brought up to date first)."""
        return (sql, tuple(params), signature, self._sync_extra_views(), self.monthly.signature())

    def query(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        signature = self.cache.signature()
        key = self.cache_key(sql, params, signature)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        self._sync_view(signature)
        with self._cursor() as cursor, self._time_budget(cursor):
            result = cursor.execute(athena_to_duckdb(sql), list(params))
            names = [d[0] for d in result.description or ()]
            rows = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
        self.cache.put(key, signature, rows)
        return rows

    @contextmanager
    def _time_budget(self, cursor: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """Interrupt the cursor's statement once it has run `query_seconds`: QueryTooLarge (a
        400 asking for a smaller query), never a statement holding a core for minutes."""
        timer = threading.Timer(self.query_seconds, cursor.interrupt)
        timer.daemon = True
        started = time.monotonic()
        timer.start()
        try:
            yield
        except duckdb.InterruptException as exc:
            took = time.monotonic() - started
            raise QueryTooLarge(
                f"the query ran {took:.0f} s, past its {self.query_seconds:g} s time budget, "
                "and was stopped"
            ) from exc
        finally:
            timer.cancel()

    def stream(
        self, sql: str, params: Sequence[Any], batch_rows: int = 10_000
    ) -> Iterator[list[dict[str, Any]]]:
        self._sync_view(self.cache.signature())
        with self._cursor() as cursor:
            with self._time_budget(cursor):
                result = cursor.execute(athena_to_duckdb(sql), list(params))
            names = [d[0] for d in result.description or ()]
            while rows := result.fetchmany(batch_rows):
                yield [dict(zip(names, row, strict=True)) for row in rows]

    def export(self, sql: str, params: Sequence[Any], header: Sequence[str]) -> None:
        """Exports are streamed from the local files: no export files."""
        return None

    def query_many(
        self, statements: Sequence[tuple[str, Sequence[Any]]]
    ) -> list[list[dict[str, Any]]]:
        return [self.query(sql, params) for sql, params in statements]


def _stored_signature(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        meta = pq.read_metadata(path).metadata or {}
    except (OSError, ValueError):
        return None
    value = meta.get(b"signature")
    return value.decode() if value else None
