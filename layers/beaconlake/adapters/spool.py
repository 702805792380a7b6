"""The local sink's write-ahead spool: every accepted batch is appended to a file before
the collector answers 202, and the file is deleted only once its rows are in an fsync'd
Parquet file. After a crash (kill -9, power loss) the next process replays it.

Layout: `<data>/spool/seg-<id>.jsonl`. Its first line names the fields (`{"fields": [...]}`);
each later line is one batch, a JSON array of events, each an array of its values in that
order, as `Event.as_json_values` gives them (an older version's segment holds the records
themselves; the replay reads both). A segment is created under a hidden name, locked (flock)
and only then renamed, so another process sees only locked segments of live writers or
unlocked orphans of dead ones. The `<id>` also names the segment's Parquet files, so
replaying a segment twice overwrites, never duplicates.

Durability, `sync_every_s` = 0: group commit. A writer appends under the
sink's lock, then waits for an fdatasync that covers its bytes; whoever syncs covers every
writer queued behind it, so concurrent requests share one sync and a 202 is never sent
before its bytes are on disk. With `sync_every_s` > 0 the 202 follows the write() (the
bytes are in the kernel's page cache, which survives kill -9 of the process) and a
background thread fdatasyncs at least that often: a power cut or kernel crash can lose the
202'd events of the last `sync_every_s` seconds, nothing else can. (`beaconlake serve`:
BEACONLAKE_SPOOL_SYNC_MS, 20 by default; docs/RELIABILITY.md has both costs.)

A caller on an event loop defers the group-commit wait with `syncs_deferred` and runs it in
a worker thread before it answers (the local gateway does), so the loop never blocks on the
disk and the requests waiting meanwhile still share one fdatasync.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger

from beaconlake.model import EVENT_FIELDS, Event

logger = Logger(service="beaconlake-sink")

Write = Callable[[int, bytes], int]
TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
_compact_json = json.JSONEncoder(separators=(",", ":")).encode
Wait = Callable[[], None]
_deferred: ContextVar[list[Wait] | None] = ContextVar("deferred_spool_syncs", default=None)


class syncs_deferred:
    """Inside, `Spool.sync` does not wait for the disk but adds the wait to the yielded
    list. The caller must run every wait (and answer 503 if one raises) before its 202.
    (A class: a generator-based context manager costs a few µs on every request.)"""

    def __enter__(self) -> list[Wait]:
        waits: list[Wait] = []
        self._token = _deferred.set(waits)
        return waits

    def __exit__(self, *exc: object) -> None:
        _deferred.reset(self._token)


HEADER = (_compact_json({"fields": EVENT_FIELDS}) + "\n").encode()


def encode(events: Sequence[Event]) -> bytes:
    return (_compact_json([e.as_json_values() for e in events]) + "\n").encode()


def decode_record(record: dict[str, Any]) -> Event:
    record["ts"] = datetime.strptime(record["ts"], TS_FORMAT)
    if record.get("revenue_amount") is not None:
        record["revenue_amount"] = Decimal(record["revenue_amount"])
    return Event(**record)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Segment:
    def __init__(self, segment_id: str, path: Path, fd: int) -> None:
        self.id = segment_id
        self.path = path
        self.fd = fd
        self.written = 0
        self.synced = 0
        self.rows = 0
        self.closed = False
        self.torn = False
        self.sync_lock = threading.Lock()


@dataclass(frozen=True)
class Ticket:
    segment: Segment
    end: int


class Spool:
    def __init__(self, directory: Path, write: Write = os.write, sync_every_s: float = 0.0) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._write = write
        self._current: Segment | None = None
        self.sync_every_s = sync_every_s
        self._open: set[Segment] = set()
        self._open_lock = threading.Lock()
        self._stop = threading.Event()
        self._syncer: threading.Thread | None = None
        if sync_every_s > 0:
            self._syncer = threading.Thread(target=self._sync_loop, name="spool-sync", daemon=True)
            self._syncer.start()

    def _sync_loop(self) -> None:
        while not self._stop.wait(self.sync_every_s):
            with self._open_lock:
                segments = list(self._open)
            for segment in segments:
                try:
                    self._sync_to(segment, segment.written)
                except OSError as exc:
                    logger.error("could not fdatasync the spool", extra={"reason": exc.strerror})

    def _open_segment(self) -> Segment:
        segment_id = f"{time.time_ns() // 1_000_000}-{uuid.uuid4().hex[:12]}"
        hidden = self.directory / f".seg-{segment_id}.jsonl.new"
        final = self.directory / f"seg-{segment_id}.jsonl"
        fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._write_all(fd, HEADER)
            os.replace(hidden, final)
            fsync_dir(self.directory)
        except OSError:
            os.close(fd)
            hidden.unlink(missing_ok=True)
            raise
        segment = Segment(segment_id, final, fd)
        segment.written = len(HEADER)  # synced with the first rows: they come after it
        with self._open_lock:
            self._open.add(segment)
        return segment

    def append(self, events: Sequence[Event]) -> Ticket:
        """Write one batch (the caller holds the sink's lock; no fsync here). On an error
        the segment is cut back to its last whole line; if even that fails, the next batch
        starts on a new line, so a torn line (never acknowledged) is skipped on replay."""
        if self._current is None:
            self._current = self._open_segment()
        segment = self._current
        data = encode(events)
        if segment.torn:
            data = b"\n" + data
        try:
            self._write_all(segment.fd, data)
        except OSError:
            try:
                os.ftruncate(segment.fd, segment.written)
            except OSError:
                segment.torn = True
            raise
        segment.torn = False
        segment.written = os.lseek(segment.fd, 0, os.SEEK_END)
        segment.rows += len(events)
        return Ticket(segment, segment.written)

    def _write_all(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[self._write(fd, bytes(view)) :]

    def sync(self, ticket: Ticket) -> None:
        """Return once the ticket's bytes are on disk (or the segment is already in Parquet);
        at once if a background thread syncs every `sync_every_s`, or inside
        `syncs_deferred`, which hands the wait to the caller."""
        if self.sync_every_s:
            return
        waits = _deferred.get()
        if waits is None:
            self._sync_to(ticket.segment, ticket.end)
        else:
            waits.append(partial(self._sync_to, ticket.segment, ticket.end))

    @staticmethod
    def _sync_to(segment: Segment, end: int) -> None:
        if segment.synced >= end:
            return
        with segment.sync_lock:
            if segment.closed or segment.synced >= end:
                return
            target = segment.written
            os.fdatasync(segment.fd)
            segment.synced = max(segment.synced, target)

    def seal(self) -> Segment | None:
        """End the current segment (the caller holds the sink's lock); the next append opens
        a new one. The sealed segment stays locked until `discard`."""
        segment, self._current = self._current, None
        return segment

    def discard(self, segment: Segment) -> None:
        """Its rows are in fsync'd Parquet: delete it."""
        with self._open_lock:
            self._open.discard(segment)
        with segment.sync_lock:
            if segment.closed:
                return
            segment.path.unlink(missing_ok=True)
            os.close(segment.fd)
            segment.closed = True

    def adopt_orphans(self) -> list[tuple[Segment, list[Event]]]:
        """Segments left by a process that died, now locked by this one, with their events.
        Segments of live processes are locked by them and skipped."""
        for stale in self.directory.glob(".seg-*.jsonl.new"):
            _unlink_if_unlocked(stale)  # created but never renamed: never written to
        adopted = []
        for path in sorted(self.directory.glob("seg-*.jsonl")):
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if os.stat(path).st_ino != os.fstat(fd).st_ino:
                    raise FileNotFoundError(path)
                events, torn = read_segment(path)
            except (BlockingIOError, FileNotFoundError):
                os.close(fd)
                continue
            except BaseException:
                os.close(fd)
                raise
            if torn:
                logger.warning(
                    "spool segment has torn lines (never acknowledged); skipped them",
                    extra={"segment": path.name, "torn_lines": torn},
                )
            segment = Segment(path.name.removeprefix("seg-").removesuffix(".jsonl"), path, fd)
            segment.rows = len(events)
            adopted.append((segment, events))
        return adopted

    def release(self, segment: Segment) -> None:
        """Close without deleting (shutdown with rows not yet in Parquet): the next process
        replays it."""
        with self._open_lock:
            self._open.discard(segment)
        with segment.sync_lock:
            if segment.closed:
                return
            with contextlib.suppress(OSError):
                os.fdatasync(segment.fd)
            os.close(segment.fd)
            segment.closed = True

    def close(self) -> None:
        self._stop.set()
        if self._syncer is not None:
            self._syncer.join(timeout=5)
        segment, self._current = self._current, None
        if segment is not None:
            self.release(segment)


def _unlink_if_unlocked(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        path.unlink(missing_ok=True)
    except BlockingIOError:
        pass
    finally:
        os.close(fd)


def read_segment(path: Path) -> tuple[list[Event], int]:
    """The events of a segment and the number of lines that did not parse (a torn tail)."""
    events: list[Event] = []
    torn = 0
    names: list[str] | None = None
    with open(path, "rb") as fh:
        for line in fh:
            try:
                batch = json.loads(line)
            except ValueError:
                torn += 1
                continue
            if isinstance(batch, dict):
                names = batch["fields"]
            elif names is not None:
                events.extend(
                    decode_record(dict(zip(names, values, strict=True))) for values in batch
                )
            else:  # the records themselves, as an older version wrote them
                events.extend(decode_record(record) for record in batch)
    return events, torn
