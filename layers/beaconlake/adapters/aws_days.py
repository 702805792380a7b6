"""The daily job's primitives on AWS (ports.DayFiles): the events bucket and Athena.

Layout, in the events bucket:
- `events/site_id=<site>/dt=<day>/…`: Firehose's objects, and a compacted day's file(s);
- `rollups/<table>/site_id=<site>/dt=<day>/…`: the Glue tables `session_rollup` and
  `page_rollup` (partition projection, as `events`);
- `rollups/_signatures/site_id=<site>/dt=<day>`: the signature a day's rollups were written
  from (ports.DayFiles.rollup_signature);
- `rollups/_state/site_id=<site>.json`: what the job covers (ports.RollupState), which the
  stats function reads (`RollupStateReader`) to choose rollups or events per day;
- `rollups/_expired/site_id=<site>/dt=<day>`: an empty mark, put by retention
  (aws_events.S3EventStore.expire) on a day whose raw events it deleted and whose rollups it
  kept, as the local `RAW_EXPIRED` file (adapters.raw_expiry): the job keeps that day's
  rollups, the stats function answers it from them (beaconlake.stats.expiry), an erasure of
  the day deletes mark and rollups.

Every statement runs as an Athena UNLOAD to a fresh prefix under `staging/` of the results
bucket (UNLOAD never overwrites; Parquet, as Firehose writes), and its files are then copied
into place and the files they replace deleted. S3 has no atomic rename of a set of objects:
for the few milliseconds between the copy and the delete a statement reading that day's raw
events or rollups would see both. Statements read rollups only for days the state covers, and
the job marks a covered day stale before rewriting it, so only raw reads of a day being
compacted can see that moment (docs/DEPLOY.md). Compaction gives up, and deletes nothing, if
the day's objects changed while Athena read them (a late delivery): the next run retries.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from typing import Any

from aws_lambda_powertools import Logger

from beaconlake.adapters.aws import AthenaEngine, new_client
from beaconlake.ports import Partition, RollupState, Statements
from beaconlake.schema import COLUMN_NAMES

logger = Logger(service="beaconlake-rollups")

ROLLUPS_PREFIX = "rollups/"
SIGNATURES_PREFIX = f"{ROLLUPS_PREFIX}_signatures/"
STATE_PREFIX = f"{ROLLUPS_PREFIX}_state/"
EXPIRED_PREFIX = f"{ROLLUPS_PREFIX}_expired/"
STAGING_PREFIX = "staging/"
MAX_DELETE_KEYS = 1000  # DeleteObjects' limit per call
# The table whose day prefixes list the days rolled up (every day has both tables' files).
LISTED_TABLE = "session_rollup"


def rollup_prefix(table: str, site_id: str, day: date) -> str:
    return f"{ROLLUPS_PREFIX}{table}/site_id={site_id}/dt={day.isoformat()}/"


def state_key(site_id: str) -> str:
    return f"{STATE_PREFIX}site_id={site_id}.json"


def signature_key(site_id: str, day: date) -> str:
    return f"{SIGNATURES_PREFIX}site_id={site_id}/dt={day.isoformat()}"


def expired_key(site_id: str, day: date) -> str:
    return f"{EXPIRED_PREFIX}site_id={site_id}/dt={day.isoformat()}"


def expired_marks(s3: Any, bucket: str, site_id: str | None = None) -> list[Partition]:
    """The days retention marked (of one site, or of all): one LIST per 1,000 days."""
    prefix = EXPIRED_PREFIX if site_id is None else f"{EXPIRED_PREFIX}site_id={site_id}/"
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            site, _, day = item["Key"][len(EXPIRED_PREFIX) :].partition("/")
            if site.startswith("site_id=") and day.startswith("dt="):
                found.append(Partition(site.removeprefix("site_id="), day.removeprefix("dt=")))
    return sorted(found)


def state_from_json(body: bytes) -> RollupState:
    data = json.loads(body)
    return RollupState(
        date.fromisoformat(data["first"]),
        date.fromisoformat(data["through"]),
        frozenset(date.fromisoformat(d) for d in data.get("stale", [])),
    )


def state_to_json(state: RollupState) -> bytes:
    stale = sorted(d.isoformat() for d in state.stale)
    data = {"first": state.first.isoformat(), "through": state.through.isoformat()}
    return json.dumps({**data, "stale": stale}).encode()


def parquet_rows(s3: Any, bucket: str, key: str) -> int:
    """Rows of a Parquet object, from its footer (two small ranged GETs)."""

    def tail(size: int) -> bytes:
        reply = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=-{size}")
        return bytes(reply["Body"].read())

    length = int.from_bytes(tail(8)[:4], "little")
    return footer_rows(tail(length + 8)[:length])


def footer_rows(footer: bytes) -> int:
    """`num_rows` (field 3) of a Parquet FileMetaData, Thrift's compact protocol: read here so
    that the Lambda layer needs no pyarrow (the functions do not ship it)."""
    reader = _Compact(footer)
    field = 0
    while True:
        header = reader.byte()
        kind = header & 0x0F
        if kind == 0:
            raise ValueError("a Parquet footer without num_rows")
        delta = header >> 4
        field = field + delta if delta else reader.zigzag()
        if field == 3 and kind == 6:
            return reader.zigzag()
        reader.skip(kind)


class _Compact:
    """Just enough of Thrift's compact protocol to step over a value of any type."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def byte(self) -> int:
        value = self.data[self.at]
        self.at += 1
        return value

    def varint(self) -> int:
        shift = value = 0
        while True:
            b = self.byte()
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def skip(self, kind: int) -> None:
        if kind in (1, 2):  # a boolean field: its value is in the type
            return
        if kind == 3:
            self.at += 1
        elif kind in (4, 5, 6):
            self.varint()
        elif kind == 7:
            self.at += 8
        elif kind == 8:
            length = self.varint()  # read before `at` moves past the bytes
            self.at += length
        elif kind in (9, 10):
            header = self.byte()
            size = header >> 4 if header >> 4 != 15 else self.varint()
            for _ in range(size):
                self.skip_element(header & 0x0F)
        elif kind == 11:
            size = self.varint()
            types = self.byte() if size else 0
            for _ in range(size):
                self.skip_element(types >> 4)
                self.skip_element(types & 0x0F)
        elif kind == 12:
            while (header := self.byte()) & 0x0F:
                if not header >> 4:
                    self.zigzag()
                self.skip(header & 0x0F)
        else:
            raise ValueError(f"a Parquet footer with Thrift type {kind}")

    def skip_element(self, kind: int) -> None:
        """A list, set or map element: a boolean takes a byte there."""
        if kind in (1, 2):
            self.at += 1
        else:
            self.skip(kind)


def read_state(s3: Any, bucket: str, site_id: str) -> RollupState | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=state_key(site_id))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return state_from_json(body)


def mark_stale(s3: Any, bucket: str, partitions: Sequence[Partition]) -> None:
    """Record the partitions' days as stale in their sites' states (erasure, retention): the
    stats function then answers them from events until the job has written them again."""
    by_site: dict[str, set[date]] = {}
    for p in partitions:
        by_site.setdefault(p.site_id, set()).add(date.fromisoformat(p.dt))
    for site, days in by_site.items():
        state = read_state(s3, bucket, site)
        if state is None:
            continue
        covered = {d for d in days if state.first <= d <= state.through}
        if covered - state.stale:
            stale = RollupState(state.first, state.through, state.stale | covered)
            s3.put_object(Bucket=bucket, Key=state_key(site), Body=state_to_json(stale))


class RollupStateReader:
    """The job's recorded state per site, for the stats function: read from S3 at most once a
    `max_age_s` per site and container (one GET per dashboard load at most)."""

    def __init__(
        self,
        bucket: str,
        s3: Any = None,
        max_age_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bucket = bucket
        self._s3 = s3
        self.max_age_s = max_age_s
        self.clock = clock
        self._cache: dict[str, tuple[float, RollupState | None]] = {}

    def __call__(self, site_id: str) -> RollupState | None:
        cached = self._cache.get(site_id)
        if cached is not None and self.clock() - cached[0] < self.max_age_s:
            return cached[1]
        if self._s3 is None:
            self._s3 = new_client("s3")
        state = read_state(self._s3, self.bucket, site_id)
        if state is not None:
            marks = expired_marks(self._s3, self.bucket, site_id)
            expired = frozenset(date.fromisoformat(p.dt) for p in marks)
            state = dataclasses.replace(state, raw_expired=expired)
        self._cache[site_id] = (self.clock(), state)
        return state


class S3DayFiles:
    def __init__(
        self,
        bucket: str,
        events_prefix: str,
        athena: AthenaEngine,
        staging_bucket: str,
        sites: Sequence[str] | Callable[[], Iterable[str]] = (),
        s3: Any = None,
    ) -> None:
        if not bucket or not staging_bucket:
            raise ValueError(
                "BEACONLAKE_EVENTS_BUCKET and BEACONLAKE_RESULTS_BUCKET must be set for the "
                "daily job (the stack sets both on functions/rollups)"
            )
        self.bucket = bucket
        self.events_prefix = events_prefix
        self.athena = athena
        self.staging_bucket = staging_bucket
        # the catalogue's sites (a callable, read at each run) or a fixed list: a site
        # removed from the catalogue is no longer compacted or rolled up
        self.configured: Callable[[], Iterable[str]] | frozenset[str] = (
            sites if callable(sites) else frozenset(sites)
        )
        self.s3: Any = s3 or new_client("s3")

    # ---- listing ---------------------------------------------------------------------------

    def _prefixes(self, prefix: str) -> Iterator[str]:
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter="/"
        ):
            for common in page.get("CommonPrefixes", []):
                yield common["Prefix"][len(prefix) :].rstrip("/")

    def _objects(self, bucket: str, prefix: str) -> list[tuple[str, str]]:
        """(key, ETag) of the objects under the prefix that Athena reads (not `_`, `.`)."""
        found = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                name = item["Key"].rsplit("/", 1)[-1]
                if name and not name.startswith(("_", ".")):
                    found.append((item["Key"], item["ETag"]))
        return sorted(found)

    def _events_day(self, site_id: str, day: date) -> str:
        return f"{self.events_prefix}site_id={site_id}/dt={day.isoformat()}/"

    def sites(self) -> list[str]:
        names = {*self._prefixes(self.events_prefix)}
        names |= set(self._prefixes(f"{ROLLUPS_PREFIX}{LISTED_TABLE}/"))
        found = {n.removeprefix("site_id=") for n in names if n.startswith("site_id=")}
        configured = self.configured
        if callable(configured):
            return sorted(found & set(configured()))
        return sorted(found & configured if configured else found)

    def days(self, site_id: str) -> list[date]:
        names = set(self._prefixes(f"{self.events_prefix}site_id={site_id}/"))
        names |= set(self._prefixes(f"{ROLLUPS_PREFIX}{LISTED_TABLE}/site_id={site_id}/"))
        return sorted(date.fromisoformat(n.removeprefix("dt=")) for n in names if n[:3] == "dt=")

    def signature(self, site_id: str, day: date) -> str | None:
        return self._signature(self._objects(self.bucket, self._events_day(site_id, day)))

    @staticmethod
    def _signature(objects: list[tuple[str, str]]) -> str | None:
        if not objects:
            return None
        return hashlib.sha256(repr(objects).encode()).hexdigest()[:32]

    def rows(self, site_id: str, day: date) -> int:
        """Athena spreads one statement over its workers: no buckets."""
        return 0

    # ---- statements into place -----------------------------------------------------------

    def _unload(self, statements: Statements) -> tuple[list[str], int]:
        """Each statement UNLOADed as Parquet under one fresh staging prefix; the staged
        keys and the rows written."""
        staging = f"{STAGING_PREFIX}{secrets.token_hex(12)}/"
        rows = 0
        for n, (sql, params) in enumerate(statements):
            location = f"s3://{self.staging_bucket}/{staging}{n}/"
            rows += self.athena.unload(sql, params, location, "PARQUET")
        return [k for k, _ in self._objects(self.staging_bucket, staging)], rows

    def _rows_of(self, key: str) -> int:
        """Rows of a Parquet object, from its footer (two small ranged GETs)."""
        return parquet_rows(self.s3, self.bucket, key)

    def _place(self, staged: list[str], prefix: str, stem: str) -> list[str]:
        """Copy the staged files under `prefix`; the new keys."""
        placed = []
        for n, key in enumerate(staged):
            target = f"{prefix}{stem}-{n:04d}.parquet"
            self.s3.copy_object(
                Bucket=self.bucket,
                Key=target,
                CopySource={"Bucket": self.staging_bucket, "Key": key},
            )
            placed.append(target)
        return placed

    def _delete(self, bucket: str, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), MAX_DELETE_KEYS):
            batch = [{"Key": k} for k in keys[start : start + MAX_DELETE_KEYS]]
            self.s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})

    def compact(self, site_id: str, day: date) -> str | None:
        prefix = self._events_day(site_id, day)
        before = self._objects(self.bucket, prefix)
        if len(before) <= 1:
            return self._signature(before)
        columns = ", ".join(f'"{c}"' for c in COLUMN_NAMES)
        select = f"SELECT {columns} FROM events WHERE site_id = ? AND dt = ?"
        staged, written = self._unload([(select, (site_id, day.isoformat()))])
        try:
            if self._objects(self.bucket, prefix) != before:
                return None  # a delivery landed while Athena read: the next run retries
            held = sum(self._rows_of(key) for key, _ in before)
            if written != held:  # never replace files by fewer rows than they hold
                logger.error(
                    "compaction wrote another number of rows than the day holds: kept the files",
                    extra={"site_id": site_id, "day": day.isoformat(), "rows": held},
                )
                return None
            self._place(staged, prefix, f"compacted-{secrets.token_hex(6)}")
            self._delete(self.bucket, [k for k, _ in before])
        finally:
            self._delete(self.staging_bucket, staged)
        return self.signature(site_id, day)

    def rollup_signature(self, site_id: str, day: date) -> str | None:
        try:
            reply = self.s3.get_object(Bucket=self.bucket, Key=signature_key(site_id, day))
        except self.s3.exceptions.NoSuchKey:
            return None
        return str(reply["Body"].read().decode())

    def write_rollups(
        self, site_id: str, day: date, tables: Mapping[str, Statements], signature: str
    ) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=signature_key(site_id, day))
        for table, statements in tables.items():
            prefix = rollup_prefix(table, site_id, day)
            old = [k for k, _ in self._objects(self.bucket, prefix)]
            staged, _ = self._unload(statements)
            try:
                self._place(staged, prefix, f"part-{secrets.token_hex(6)}")
                self._delete(self.bucket, old)
            finally:
                self._delete(self.staging_bucket, staged)
        self.s3.put_object(
            Bucket=self.bucket, Key=signature_key(site_id, day), Body=signature.encode()
        )

    def drop_rollups(self, site_id: str, day: date) -> None:
        keys = [signature_key(site_id, day)]
        for table in (LISTED_TABLE, *self._tables()):
            keys += [k for k, _ in self._objects(self.bucket, rollup_prefix(table, site_id, day))]
        self._delete(self.bucket, sorted(set(keys)))

    def raw_expired(self, site_id: str, day: date) -> bool:
        """The day's mark is there (aws_events.S3EventStore.expire)."""
        try:
            self.s3.head_object(Bucket=self.bucket, Key=expired_key(site_id, day))
        except self.s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def _tables(self) -> list[str]:
        return [t for t in self._prefixes(ROLLUPS_PREFIX) if not t.startswith("_")]

    def state(self, site_id: str) -> RollupState | None:
        return read_state(self.s3, self.bucket, site_id)

    def save_state(self, site_id: str, state: RollupState) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=state_key(site_id), Body=state_to_json(state))
