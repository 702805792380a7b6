"""Local stand-in for Firehose → S3: buffers rows and writes ZSTD Parquet files in the same
`events/site_id=<site>/dt=<day>/` layout, flushed on row count, on age and on close.

Each file is written to a temporary name, fsync'd, then renamed, so a reader (DuckDB) sees
either the whole file or nothing. A failed write (disk full) keeps the rows buffered and is
retried; past `max_buffered_rows` the sink refuses new events (the collector answers 503).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from aws_lambda_powertools import Logger

from beaconlake.model import Event
from beaconlake.ports import SinkUnavailable
from beaconlake.schema import COLUMN_NAMES, arrow_schema

logger = Logger(service="beaconlake-sink")


def events_to_table(events: Sequence[Event]) -> pa.Table:
    columns = {name: [getattr(e, name) for e in events] for name in COLUMN_NAMES}
    columns["props"] = [list(e.props.items()) for e in events]
    return pa.Table.from_pydict(columns, schema=arrow_schema())


def write_parquet_atomically(table: pa.Table, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    name = f"part-{time.time_ns() // 1_000_000}-{uuid.uuid4().hex[:12]}.parquet"
    final = directory / name
    tmp = directory / f".{name}.tmp"
    with open(tmp, "wb") as fh:
        pq.write_table(table, fh, compression="zstd", compression_level=6)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return final


class ParquetSink:
    def __init__(
        self,
        root: Path,
        flush_rows: int = 5000,
        flush_seconds: float = 5.0,
        max_buffered_rows: int = 500_000,
    ) -> None:
        self.events_dir = Path(root) / "events"
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.max_buffered_rows = max_buffered_rows
        self._buffer: list[Event] = []
        self._oldest = 0.0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="parquet-sink", daemon=True)
        self._thread.start()

    def put(self, events: Sequence[Event]) -> None:
        with self._lock:
            if self._closed:
                raise SinkUnavailable("the sink is shutting down")
            if len(self._buffer) + len(events) > self.max_buffered_rows:
                raise SinkUnavailable("the local event store cannot write (is the disk full?)")
            if not self._buffer:
                self._oldest = time.monotonic()
            self._buffer.extend(events)
            full = len(self._buffer) >= self.flush_rows
        if full:
            self._wake.set()

    def pending(self) -> list[Event]:
        """Accepted events not yet in Parquet (for realtime queries)."""
        with self._lock:
            return list(self._buffer)

    def flush(self) -> None:
        with self._write_lock:
            with self._lock:
                batch, self._buffer = self._buffer, []
            if not batch:
                return
            try:
                self._write(batch)
            except OSError as exc:
                with self._lock:
                    self._buffer[:0] = batch
                    self._oldest = time.monotonic()
                logger.error(
                    "could not write Parquet; events stay buffered and will be retried",
                    extra={"rows": len(batch), "errno": exc.errno, "reason": exc.strerror},
                )
                raise SinkUnavailable(str(exc.strerror)) from exc

    def _write(self, batch: list[Event]) -> None:
        partitions: dict[tuple[str, str], list[Event]] = defaultdict(list)
        for event in batch:
            partitions[(event.site_id, event.dt)].append(event)
        for (site_id, dt), rows in partitions.items():
            directory = self.events_dir / f"site_id={site_id}" / f"dt={dt}"
            write_parquet_atomically(events_to_table(rows), directory)

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(timeout=min(1.0, self.flush_seconds))
            self._wake.clear()
            with self._lock:
                due = bool(self._buffer) and (
                    len(self._buffer) >= self.flush_rows
                    or time.monotonic() - self._oldest >= self.flush_seconds
                )
            if due:
                try:
                    self.flush()
                except SinkUnavailable:
                    time.sleep(1.0)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._wake.set()
        self._thread.join(timeout=5)
        self.flush()
