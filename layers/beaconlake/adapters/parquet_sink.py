"""Local stand-in for Firehose → S3: buffers rows and writes ZSTD Parquet files in the same
`events/site_id=<site>/dt=<day>/` layout, flushed on row count, on age and on close.

Every accepted batch is first appended to a spool segment (beaconlake.adapters.spool), so a
202 survives kill -9; a flush turns one segment into Parquet and only then deletes it,
and a new sink replays the segments of a process that died. Each Parquet file is written to
a hidden temporary name, fsync'd, then renamed, so a reader (DuckDB) sees the whole file or
nothing; its name comes from the segment, so a replay overwrites rather than duplicates.
Once every segment is in Parquet, the partitions just written are compacted
(beaconlake.adapters.compaction), which never touches a file whose segment could replay.
A failed write (disk full) answers 503 for new events and keeps the sealed segments, which
the background thread retries until space returns.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from aws_lambda_powertools import Logger

from beaconlake.adapters import raw_expiry
from beaconlake.adapters.compaction import (
    TreeLock,
    compact,
    create_private_file,
    finish_interrupted_merges,
    make_private_dirs,
)
from beaconlake.adapters.monthly_local import LocalMonthly
from beaconlake.adapters.spool import Segment, Spool, Write, fsync_dir
from beaconlake.model import Event
from beaconlake.ports import (
    MonthlyTables,
    Partition,
    SinkUnavailable,
    StoreBusy,
    StoreReport,
)
from beaconlake.schema import COLUMN_NAMES, arrow_schema

logger = Logger(service="beaconlake-sink")


def events_to_table(events: Sequence[Event]) -> pa.Table:
    columns = {name: [getattr(e, name) for e in events] for name in COLUMN_NAMES}
    columns["props"] = [list(e.props.items()) for e in events]
    return pa.Table.from_pydict(columns, schema=arrow_schema())


def write_parquet_atomically(table: pa.Table, directory: Path, name: str | None = None) -> Path:
    make_private_dirs(directory)
    name = name or f"part-{time.time_ns() // 1_000_000}-{uuid.uuid4().hex[:12]}.parquet"
    final = directory / name
    tmp = directory / f".{name}.tmp"
    try:
        with create_private_file(tmp) as fh:
            pq.write_table(table, fh, compression="zstd", compression_level=6)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(directory)
    return final


def without_rows(table: pa.Table, column: str, value: str) -> tuple[pa.Table, int]:
    """The table without the rows where `column` equals `value`, and how many went."""
    if column not in table.column_names:
        return table, 0
    match = pc.fill_null(pc.equal(table[column], value), False)
    hits = int(pc.sum(match).as_py() or 0)
    return (table.filter(pc.invert(match)) if hits else table), hits


def partition_dir(events_dir: Path, site_id: str, dt: str) -> Path:
    return events_dir / f"site_id={site_id}" / f"dt={dt}"


ROLLUP_DIR = "rollup"


def rollup_dir(root: Path, site_id: str, dt: str) -> Path:
    """Where the query engine keeps a day's rollups, derived from that day's events."""
    return partition_dir(root / ROLLUP_DIR, site_id, dt)


def describe(exc: OSError) -> str:
    """'ENOSPC: No space left on device' (no file names: they are ours, but not the client's)."""
    return f"{errno.errorcode.get(exc.errno or 0, 'OSError')}: {exc.strerror or exc}"


def cannot_write(exc: OSError, log_message: str, **extra: int) -> SinkUnavailable:
    """Log why the sink refuses (without content) and build the refusal (a 503)."""
    logger.error(log_message, extra={**extra, "error": describe(exc)})
    return SinkUnavailable(f"the local event store cannot write ({describe(exc)})")


# below this, the next spool segment or Parquet file may not fit: /health says the disk is full
MIN_FREE_BYTES = 1024 * 1024


class ParquetSink:
    def __init__(
        self,
        root: Path,
        flush_rows: int = 5000,
        flush_seconds: float = 5.0,
        max_buffered_rows: int = 500_000,
        spool_write: Write = os.write,
        spool_sync_ms: int = 0,
    ) -> None:
        self.events_dir = Path(root) / "events"
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.max_buffered_rows = max_buffered_rows
        make_private_dirs(Path(root) / "spool")  # 0700, like the rows' other directories
        self.spool = Spool(Path(root) / "spool", spool_write, spool_sync_ms / 1000)
        self.tree_lock = TreeLock(Path(root))
        finish_interrupted_merges(Path(root), self.tree_lock)
        self._buffer: list[Event] = []
        self._sealed: list[tuple[Segment, list[Event]]] = self.spool.adopt_orphans()
        self._held = sum(len(rows) for _, rows in self._sealed)
        self._oldest = 0.0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        if self._sealed:
            logger.info("replaying the spool of a previous process", extra={"rows": self._held})
            with contextlib.suppress(SinkUnavailable):  # logged; the background thread retries
                self.flush()
        self._thread = threading.Thread(target=self._run, name="parquet-sink", daemon=True)
        self._thread.start()

    def put(self, events: Sequence[Event]) -> None:
        if not events:
            return
        with self._lock:
            if self._closed:
                raise SinkUnavailable("the sink is shutting down")
            if self._held + len(events) > self.max_buffered_rows:
                raise SinkUnavailable("the local event store is behind on writing (disk full?)")
            try:
                ticket = self.spool.append(events)
            except OSError as exc:
                raise cannot_write(
                    exc,
                    "could not append to the spool; answering 503 until it can",
                    rows=len(events),
                ) from exc
            if not self._buffer:
                self._oldest = time.monotonic()
            self._buffer.extend(events)
            self._held += len(events)
            full = len(self._buffer) >= self.flush_rows
        try:
            self.spool.sync(ticket)
        except OSError as exc:
            # the rows may still reach Parquet: a 503 means "maybe stored", a 202 "stored"
            raise cannot_write(exc, "could not fsync the spool; answering 503") from exc
        if full:
            self._wake.set()

    def problem(self) -> str | None:
        spool = self.spool.directory
        if self._closed:
            return "the event sink is shutting down"
        if not self._thread.is_alive():
            return "the Parquet writer thread has stopped"
        if not os.access(spool, os.W_OK | os.X_OK):
            return f"the spool directory {spool} is not writable"
        disk = os.statvfs(spool)
        if disk.f_bavail * disk.f_frsize < MIN_FREE_BYTES:
            return f"the disk holding {spool} is full"
        if self._held >= self.max_buffered_rows:
            return "the local event store is behind on writing (disk full?)"
        return None

    def pending(self) -> list[Event]:
        """Accepted events not yet in Parquet (for realtime queries)."""
        with self._lock:
            return [e for _, rows in self._sealed for e in rows] + self._buffer

    def flush(self) -> None:
        with self._write_lock:
            with self._lock:
                segment = self.spool.seal()
                if segment is not None:
                    self._sealed.append((segment, self._buffer))
                    self._buffer = []
                queue = list(self._sealed)
            written: set[Path] = set()
            for segment, rows in queue:
                try:
                    written |= self._write(segment.id, rows)
                except OSError as exc:
                    raise cannot_write(
                        exc,
                        "could not write Parquet; the events stay in the spool and are retried",
                        rows=len(rows),
                    ) from exc
                with self._lock:
                    self._sealed.pop(0)
                    self._held -= len(rows)
                self.spool.discard(segment)
            self._compact(written)

    def _write(self, segment_id: str, batch: list[Event]) -> set[Path]:
        partitions: dict[tuple[str, str], list[Event]] = defaultdict(list)
        for event in batch:
            partitions[(event.site_id, event.dt)].append(event)
        directories = set()
        for (site_id, dt), rows in sorted(partitions.items()):
            directory = partition_dir(self.events_dir, site_id, dt)
            write_parquet_atomically(events_to_table(rows), directory, f"part-{segment_id}.parquet")
            directories.add(directory)
        return directories

    def _compact(self, directories: set[Path]) -> None:
        """Merge small files (see compaction); a failure leaves them as they are, for later."""
        for directory in sorted(directories):
            try:
                compact(directory, self.tree_lock)
            except OSError as exc:
                logger.error(
                    "could not compact a partition; retrying after the next flush",
                    extra={"error": describe(exc)},
                )

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(timeout=min(1.0, self.flush_seconds))
            self._wake.clear()
            with self._lock:
                due = bool(self._sealed) or (
                    bool(self._buffer)
                    and (
                        len(self._buffer) >= self.flush_rows
                        or time.monotonic() - self._oldest >= self.flush_seconds
                    )
                )
            if due:
                try:
                    self.flush()
                except SinkUnavailable:
                    time.sleep(1.0)
                except Exception as exc:  # the flusher thread must outlive any error
                    logger.error("unexpected error writing Parquet", extra={"error": repr(exc)})
                    time.sleep(1.0)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._wake.set()
        self._thread.join(timeout=5)
        try:
            self.flush()
        except SinkUnavailable:
            logger.error(
                "shutting down with events not yet in Parquet; the next start writes them",
                extra={"rows": self._held},
            )
        for segment, _ in self._sealed:
            self.spool.release(segment)
        self.spool.close()


class ParquetEventStore:
    """The local EventStore over the Parquet tree. A partition is dropped by renaming its
    directory out of the readers' glob, then deleting it; a file losing rows is rewritten
    under its own name with the write-then-rename above; both while no query reads
    (TreeLock)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.events_dir = self.root / "events"
        self.tree_lock = TreeLock(self.root)

    def partitions(self) -> list[Partition]:
        return sorted(
            Partition(d.parent.name.removeprefix("site_id="), d.name.removeprefix("dt="))
            for d in self.events_dir.glob("site_id=*/dt=*")
            if d.is_dir()
        )

    def settle(self) -> None:
        """Write out what dead processes left in the spool; refuse if a live one holds some."""
        ParquetSink(self.root, flush_seconds=3600).close()
        if any((self.root / "spool").glob("seg-*.jsonl")):
            raise StoreBusy(
                "a running beaconlake process (serve) holds events not yet in Parquet; "
                "stop it and run this again"
            )

    def drop(self, partitions: Sequence[Partition]) -> StoreReport:
        """Whole days, events and rollups (also a day retention left only rollups of)."""
        return self._drop(partitions, keep_rollups=False)

    def expire(self, partitions: Sequence[Partition]) -> StoreReport:
        rollups = self.root / ROLLUP_DIR
        for p in partitions:
            raw_expiry.mark_expired(rollups, p.site_id, p.dt)
        return self._drop(partitions, keep_rollups=True)

    def expired(self) -> list[Partition]:
        return raw_expiry.expired_partitions(self.root / ROLLUP_DIR)

    # MonthlyStore: per-month rollups (adapters.monthly_local)
    def months(self, site_id: str) -> list[date]:
        return LocalMonthly(self.root).months(site_id)

    def write_month(
        self,
        site_id: str,
        month: date,
        tables: MonthlyTables,
        rows: Mapping[str, Sequence[Mapping[str, Any]]],
    ) -> None:
        LocalMonthly(self.root).write_month(site_id, month, tables, rows)

    def erase_months(self, site_id: str, first: date, last: date) -> int:
        return LocalMonthly(self.root).erase_months(site_id, first, last)

    def _drop(self, partitions: Sequence[Partition], keep_rollups: bool) -> StoreReport:
        files = rows = 0
        for p in partitions:
            directory = partition_dir(self.events_dir, p.site_id, p.dt)
            doomed = directory.with_name(f".{directory.name}.deleting-{uuid.uuid4().hex[:8]}")
            with self.tree_lock.exclusive():
                parts = list(directory.glob("*.parquet"))
                files += len(parts)
                rows += sum(pq.read_metadata(f).num_rows for f in parts)
                if directory.exists():
                    os.replace(directory, doomed)
                    fsync_dir(directory.parent)
            shutil.rmtree(doomed, ignore_errors=True)
            if not keep_rollups:
                self._forget_rollup(p)
        if not keep_rollups and partitions and self.events_dir.exists():
            # a day retention left only rollups of has no events directory whose change
            # would end the query engine's cached answers (ResultCache): this one does
            os.utime(self.events_dir)
        return StoreReport(len(partitions), files_deleted=files, rows_deleted=rows)

    def delete_rows(self, partitions: Sequence[Partition], column: str, value: str) -> StoreReport:
        deleted = rewritten = rows = 0
        for p in partitions:
            directory = partition_dir(self.events_dir, p.site_id, p.dt)
            with self.tree_lock.exclusive():
                for path in sorted(directory.glob("*.parquet")):
                    kept, hits = without_rows(pq.ParquetFile(path).read(), column, value)
                    if not hits:
                        continue
                    rows += hits
                    if kept.num_rows:
                        write_parquet_atomically(kept, path.parent, path.name)
                        rewritten += 1
                    else:
                        path.unlink()
                        fsync_dir(path.parent)
                        deleted += 1
                    self._forget_rollup(p)
        return StoreReport(len(partitions), deleted, rewritten, rows)

    def _forget_rollup(self, p: Partition) -> None:
        """The day's rollups hold what was just deleted: remove them too (the query engine
        writes them again from what is left)."""
        shutil.rmtree(rollup_dir(self.root, p.site_id, p.dt), ignore_errors=True)
