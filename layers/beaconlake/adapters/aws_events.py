"""The AWS EventStore: Firehose's Parquet objects under `<prefix>site_id=<site>/dt=<day>/`.

Run by the operator's CLI (`beaconlake erase`, `beaconlake retention`) with their own
credentials. Deleting means deleting every version and delete marker too, so an erasure
also holds if the bucket is (or once was) versioned. A file losing rows is overwritten
under its own key (an S3 PUT replaces an object atomically, so a query sees the file
before or after, never both or neither); then every older version and delete marker of
the partition is deleted, as they may hold the rows too.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import boto3
import pyarrow.parquet as pq

from beaconlake.adapters.aws import CLIENT_CONFIG
from beaconlake.adapters.aws_days import (
    ROLLUPS_PREFIX,
    expired_key,
    expired_marks,
    mark_stale,
    parquet_rows,
    signature_key,
)
from beaconlake.adapters.parquet_sink import without_rows
from beaconlake.ports import Partition, StoreReport

MAX_DELETE_KEYS = 1000  # DeleteObjects' limit per call


def late_events_note(last_day: date, now: datetime, buffer_seconds: int) -> str | None:
    """What to tell the operator if Firehose may still hold events of the days erased. An
    event reaches S3 at most `buffer_seconds` after it was accepted: those of a past day by
    its end plus that interval, those accepted today by now plus that interval."""
    end_of_range = datetime.combine(last_day + timedelta(days=1), time(), tzinfo=UTC)
    settled_at = min(now, end_of_range) + timedelta(seconds=buffer_seconds)
    if now >= settled_at:
        return None
    return (
        f"note: Firehose holds events for up to {buffer_seconds} s before writing them to S3, "
        "so events accepted shortly before this run may land after it. Run the same command "
        f"again after {settled_at:%Y-%m-%d %H:%M:%S} UTC to erase them too."
    )


class S3EventStore:
    def __init__(self, bucket: str, prefix: str, client: Any = None) -> None:
        if not bucket:
            raise ValueError(
                "BEACONLAKE_EVENTS_BUCKET is not set (the stack's EventsBucket output)"
            )
        self.bucket = bucket
        self.prefix = prefix
        self.s3: Any = client or boto3.client("s3", config=CLIENT_CONFIG)

    def partitions(self) -> list[Partition]:
        """Listed from the versions, so a partition hidden behind delete markers is found too."""
        found = []
        for site_prefix in self._common_prefixes(self.prefix):
            site = site_prefix[len(self.prefix) :].rstrip("/")
            for day_prefix in self._common_prefixes(site_prefix):
                day = day_prefix[len(site_prefix) :].rstrip("/")
                if site.startswith("site_id=") and day.startswith("dt="):
                    found.append(Partition(site.removeprefix("site_id="), day.removeprefix("dt=")))
        return sorted(found)

    def settle(self) -> None:
        """Nothing to wait for that S3 can see: Firehose's buffer is out of reach, which the
        CLI tells the operator (late_events_note)."""

    def drop(self, partitions: Sequence[Partition]) -> StoreReport:
        mark_stale(self.s3, self.bucket, partitions)
        report = self._delete_events(partitions)
        self._forget_rollups(partitions)
        return report

    def _delete_events(self, partitions: Sequence[Partition]) -> StoreReport:
        """Every version of the days' event objects, counted as they were."""
        files = rows = 0
        for p in partitions:
            keys = self._current_keys(self._prefix_of(p))
            files += len(keys)
            rows += sum(parquet_rows(self.s3, self.bucket, key) for key in keys)
            self._delete_versions(self._versions(self._prefix_of(p)))
        return StoreReport(len(partitions), files_deleted=files, rows_deleted=rows)

    def expire(self, partitions: Sequence[Partition]) -> StoreReport:
        """Retention: each day marked first (aws_days.expired_key), then its events deleted;
        its rollups stay, and the days are not marked stale: the rollups (written from these
        very events: erasure.apply_retention brought them up to date) answer them at once.
        A run that stops half-way leaves marked days with events, which the next run
        deletes; never a day with neither events nor mark whose rollups the job would drop."""
        for p in partitions:
            self.s3.put_object(
                Bucket=self.bucket, Key=expired_key(p.site_id, date.fromisoformat(p.dt)), Body=b""
            )
        return self._delete_events(partitions)

    def expired(self) -> list[Partition]:
        return expired_marks(self.s3, self.bucket)

    def delete_rows(self, partitions: Sequence[Partition], column: str, value: str) -> StoreReport:
        mark_stale(self.s3, self.bucket, partitions)
        deleted = rewritten = rows = 0
        for p in partitions:
            for key in self._current_keys(self._prefix_of(p)):
                body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                source = pq.ParquetFile(io.BytesIO(body))
                kept, hits = without_rows(source.read(), column, value)
                if not hits:
                    continue
                rows += hits
                keep_version = None
                if kept.num_rows:
                    out = io.BytesIO()
                    pq.write_table(
                        kept,
                        out,
                        compression="snappy",  # as Firehose writes
                        use_deprecated_int96_timestamps=any(
                            c.physical_type == "INT96" for c in source.schema
                        ),
                    )
                    put = self.s3.put_object(Bucket=self.bucket, Key=key, Body=out.getvalue())
                    # unversioned bucket: the PUT replaced the only copy
                    keep_version = put.get("VersionId", "null")
                    rewritten += 1
                else:
                    deleted += 1
                self._delete_versions(
                    v
                    for v in self._versions(key)
                    if v["Key"] == key and v["VersionId"] != keep_version
                )
            # older versions of the other objects may hold the rows too; no query reads them
            self._delete_versions(self._versions(self._prefix_of(p), hidden_only=True))
        self._forget_rollups(partitions)
        return StoreReport(len(partitions), deleted, rewritten, rows)

    def _forget_rollups(self, partitions: Sequence[Partition]) -> None:
        """The daily job's rollups of these days go with the events they were derived from,
        and so does a day's retention mark; the days were marked stale first
        (aws_days.mark_stale), so statements read their events until the job has run."""
        tables = [
            t for t in self._common_prefixes(ROLLUPS_PREFIX) if t[len(ROLLUPS_PREFIX) :][:1] != "_"
        ]
        for p in partitions:
            for table in tables:
                self._delete_versions(self._versions(f"{table}site_id={p.site_id}/dt={p.dt}/"))
            day = date.fromisoformat(p.dt)
            for key in (signature_key(p.site_id, day), expired_key(p.site_id, day)):
                self._delete_versions(v for v in self._versions(key) if v["Key"] == key)

    def _prefix_of(self, p: Partition) -> str:
        return f"{self.prefix}site_id={p.site_id}/dt={p.dt}/"

    def _common_prefixes(self, prefix: str) -> Iterator[str]:
        pages = self.s3.get_paginator("list_object_versions").paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter="/"
        )
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                yield common["Prefix"]

    def _current_keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]

    def _versions(self, prefix: str, hidden_only: bool = False) -> Iterator[dict[str, str]]:
        """Every version and delete marker under `prefix` ("null" in an unversioned bucket);
        with `hidden_only`, all but the current objects."""
        pages = self.s3.get_paginator("list_object_versions").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            objects = page.get("Versions", [])
            if hidden_only:
                objects = [v for v in objects if not v["IsLatest"]]
            for entry in objects + page.get("DeleteMarkers", []):
                yield {"Key": entry["Key"], "VersionId": entry["VersionId"]}

    def _delete_versions(self, versions: Iterable[dict[str, str]]) -> None:
        batch: list[dict[str, str]] = []
        for version in list(versions):  # listed in full before deleting from under the listing
            batch.append(version)
            if len(batch) == MAX_DELETE_KEYS:
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    def _delete_batch(self, batch: list[dict[str, str]]) -> None:
        answer = self.s3.delete_objects(
            Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
        )
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise RuntimeError(
                f"S3 refused to delete {len(answer['Errors'])} of {len(batch)} objects "
                f"({first.get('Code')}); run the command again"
            )
