"""Keeps the number of Parquet files in a day's partition small, and readers safe from it.

The sink writes one file per flush (every few seconds), so a busy day would collect thousands,
and every query over the day pays for each file it opens: time and, in DuckDB, memory that
grows with the count. After each flush the sink merges files by level: FAN_IN files of one
level become one file of the next (`merged-L<n>-<id>.parquet`), so a day holds at most
FAN_IN - 1 files per level, each event is rewritten once per level, and a merge reads one
batch at a time.

Readers and rewriters share `data/events.lock` (flock, so across processes too): a query
holds it shared while DuckDB reads; a merge, an erasure or a retention drop holds it
exclusively while it replaces or removes files, so a query never sees a row twice, misses
one, or finds a globbed file gone. A merge writes its file before taking the lock and gives
up if a source changed meanwhile (erasure rewrote it); inside the lock it records its sources
in a journal, so a crash between revealing the merged file and deleting the sources is
finished by the next sink, and no row is ever stored twice.

A merged file names, in its metadata, the files first written that its rows come from, in
order (`leaves`), so a reader that has already taken some of them in (the query engine's
live day) can tell a merge from new rows.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from beaconlake.adapters.spool import fsync_dir
from beaconlake.schema import arrow_schema

FAN_IN = 8
BATCH_ROWS = 65_536
SWAP_WAIT_S = 2.0
_LEVEL = re.compile(r"^merged-L(\d+)-")
_JOURNALS = ".merge-*.json"
LEAVES_KEY = b"beaconlake.leaves"


@dataclass(frozen=True)
class Leaf:
    """A file as the sink (or anything but a merge) wrote it: its name, size and mtime when
    merged, and how many rows it gave the merged file."""

    name: str
    size: int
    mtime_ns: int
    rows: int


def leaves(path: Path) -> list[Leaf]:
    """The files first written whose rows `path` holds, in order: those its metadata names
    when their rows add up to its own (erasure rewrites a file without them), else itself."""
    st = path.stat()
    meta = pq.read_metadata(path)
    recorded = (meta.metadata or {}).get(LEAVES_KEY)
    if recorded is not None:
        found = [Leaf(*entry) for entry in json.loads(recorded)]
        if sum(leaf.rows for leaf in found) == meta.num_rows:
            return found
    return [Leaf(path.name, st.st_size, st.st_mtime_ns, meta.num_rows)]


PRIVATE_FILE_MODE = 0o600  # event rows, like the spool holding them: the owner only
PRIVATE_DIR_MODE = 0o700


def make_private_dirs(directory: Path) -> None:
    """Create `directory` and each missing parent with mode 0700 (`mkdir(parents=True)`
    gives parents the default mode, 0755 under the usual umask)."""
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        with suppress(FileExistsError):  # another writer made it first
            path.mkdir(mode=PRIVATE_DIR_MODE)


def create_private_file(path: Path) -> BinaryIO:
    """`path` opened for writing (truncated), created with mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    return os.fdopen(fd, "wb")


class TreeLock:
    """Shared for reading the event files, exclusive for replacing or removing them."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / "events.lock"

    @contextmanager
    def _held(self, mode: int, wait_s: float | None = None) -> Iterator[None]:
        make_private_dirs(self.path.parent)
        # a descriptor per holder: flock then orders threads of one process like processes
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if wait_s is None:
                fcntl.flock(fd, mode)
            else:
                _flock_within(fd, mode, wait_s)
            yield
        finally:
            os.close(fd)

    def shared(self) -> AbstractContextManager[None]:
        return self._held(fcntl.LOCK_SH)

    def exclusive(self, wait_s: float | None = None) -> AbstractContextManager[None]:
        """Raises TimeoutError if readers still hold the lock after `wait_s` seconds."""
        return self._held(fcntl.LOCK_EX, wait_s)


def _flock_within(fd: int, mode: int, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise TimeoutError("the event files are being read") from None
            time.sleep(0.01)


def level(path: Path) -> int:
    match = _LEVEL.match(path.name)
    return int(match.group(1)) if match else 0


def compact(directory: Path, lock: TreeLock) -> int:
    """Merge while some level of the partition holds FAN_IN files; the number of files merged."""
    merged = 0
    while (sources := _full_level(directory)) is not None:
        if not _merge(directory, sources, lock):
            break
        merged += len(sources)
    return merged


def _full_level(directory: Path) -> list[Path] | None:
    by_level: dict[int, list[Path]] = defaultdict(list)
    for path in directory.glob("*.parquet"):
        by_level[level(path)].append(path)
    for _, files in sorted(by_level.items()):
        if len(files) >= FAN_IN:
            return sorted(files)
    return None


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _batches(path: Path) -> Iterator[pa.RecordBatch]:
    """The file's rows in the current schema: columns it predates are NULL, as readers see."""
    schema = arrow_schema()
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
        columns = [
            batch.column(f.name).cast(f.type)
            if f.name in batch.schema.names
            else pa.nulls(batch.num_rows, f.type)
            for f in schema
        ]
        yield pa.RecordBatch.from_arrays(columns, schema=schema)


def _merge(directory: Path, sources: list[Path], lock: TreeLock) -> bool:
    stamps = [_stamp(p) for p in sources]
    merged_leaves = [astuple(leaf) for p in sources for leaf in leaves(p)]
    schema = arrow_schema().with_metadata({LEAVES_KEY: json.dumps(merged_leaves).encode()})
    merge_id = f"{time.time_ns() // 1_000_000}-{uuid.uuid4().hex[:12]}"
    final = directory / f"merged-L{level(sources[0]) + 1}-{merge_id}.parquet"
    tmp = directory / f".{final.name}.tmp"
    try:
        with create_private_file(tmp) as fh:
            with pq.ParquetWriter(fh, schema, compression="zstd", compression_level=6) as w:
                for path in sources:
                    for batch in _batches(path):
                        w.write_batch(batch)
            fh.flush()
            os.fsync(fh.fileno())
        # a bounded wait: the sink's flushes must not stall behind a long read (an export)
        with lock.exclusive(wait_s=SWAP_WAIT_S):
            if [_stamp(p) for p in sources] != stamps:
                return False  # erasure or another merge got there first; the next flush retries
            journal = lock.path.with_name(f".merge-{merge_id}.json")
            _write_journal(journal, final, sources)
            os.replace(tmp, final)
            for path in sources:
                path.unlink()
            fsync_dir(directory)
            journal.unlink()
        return True
    except TimeoutError:
        return False  # the next flush tries again
    finally:
        tmp.unlink(missing_ok=True)


def _write_journal(journal: Path, final: Path, sources: list[Path]) -> None:
    with open(journal, "w", encoding="utf-8") as fh:
        json.dump({"merged": str(final), "sources": [str(p) for p in sources]}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    fsync_dir(journal.parent)


def finish_interrupted_merges(root: Path, lock: TreeLock) -> int:
    """A merge that crashed inside its lock: if its file was revealed, delete the sources it
    holds (else they would count twice); if not, the sources are intact and nothing is due."""
    finished = 0
    with lock.exclusive():
        for journal in sorted(Path(root).glob(_JOURNALS)):
            entry = json.loads(journal.read_text(encoding="utf-8"))
            merged = Path(entry["merged"])
            if merged.exists():
                for source in entry["sources"]:
                    Path(source).unlink(missing_ok=True)
                fsync_dir(merged.parent)
                finished += 1
            journal.unlink()
    return finished
