"""Erasure and retention on AWS (moto): S3EventStore on a versioned events bucket holding
Parquet objects laid out as Firehose writes them. Erased prefixes keep no object, version
or delete marker; by user id only that user's rows go; nothing personal reaches the logs."""

from __future__ import annotations

import dataclasses
import io
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import boto3
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from beaconlake import erasure, wiring
from beaconlake.adapters import aws_events, aws_user_ids
from beaconlake.adapters.aws import SecretParameters
from beaconlake.adapters.aws_events import S3EventStore, late_events_note
from beaconlake.adapters.parquet_sink import events_to_table
from beaconlake.cli import main
from beaconlake.ingest.service import user_id_hash
from beaconlake.model import Event
from tests.conftest import cli_erase, cli_user_hash, retention_days
from tests.unit.test_spool import event

BUCKET = "beaconlake-events-erasure"
PREFIX = "events/"
DAYS = [f"2026-06-0{d}" for d in range(1, 6)]
SITES = ("example.com", "shop.test")
USER = "customer-4711@example.org"


@pytest.fixture
def s3(fake_aws_credentials: None) -> Iterator[object]:
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


def put_parquet(s3, site: str, day: str, rows: list[Event]) -> str:
    """One object as Firehose writes it: Snappy, INT96 timestamps, a name without suffix."""
    key = f"{PREFIX}site_id={site}/dt={day}/beaconlake-events-1-{day}-12-00-00-{uuid.uuid4()}"
    out = io.BytesIO()
    pq.write_table(
        events_to_table(rows), out, compression="snappy", use_deprecated_int96_timestamps=True
    )
    s3.put_object(Bucket=BUCKET, Key=key, Body=out.getvalue())
    return key


def load(s3, user_hash: str | None = None, days: list[str] = DAYS) -> None:
    """Two sites x days x two objects of 5 events; on example.com events 0, 3, 6, 9 of each
    day are USER's."""
    for day in days:
        for site in SITES:
            batch = [event(i, day, site) for i in range(10)]
            if site == "example.com" and user_hash:
                batch = [
                    dataclasses.replace(e, user_id=user_hash if i % 3 == 0 else f"other{i}")
                    for i, e in enumerate(batch)
                ]
            put_parquet(s3, site, day, batch[:5])
            put_parquet(s3, site, day, batch[5:])


def versions(s3, prefix: str = PREFIX) -> list[dict]:
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET, Prefix=prefix)
    return [v for page in pages for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]


def current_rows(s3, prefix: str = PREFIX) -> list[dict]:
    rows = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
            site, day = obj["Key"].split("/")[1:3]
            for row in pq.read_table(io.BytesIO(body)).to_pylist():
                rows.append(row | {"_partition": (site.split("=")[1], day.split("=")[1])})
    return rows


def per_partition(s3) -> Counter:
    return Counter(r["_partition"] for r in current_rows(s3))


def test_erase_a_sites_range_leaves_no_object_version_or_marker(s3, caplog, monkeypatch) -> None:
    monkeypatch.setattr(aws_events, "MAX_DELETE_KEYS", 3)  # several DeleteObjects batches
    load(s3)
    erased = tuple(f"{PREFIX}site_id=example.com/dt={d}/" for d in DAYS[1:4])
    [key, _] = [v["Key"] for v in versions(s3, erased[1])]
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)  # the first upload is now noncurrent
    for v in versions(s3, erased[2]):
        s3.delete_object(Bucket=BUCKET, Key=v["Key"])  # only versions and markers left there
    others = {v["Key"]: v["VersionId"] for v in versions(s3) if not v["Key"].startswith(erased)}
    store = S3EventStore(BUCKET, PREFIX, s3)
    assert len(store.partitions()) == 10  # the hidden day is found through its versions

    plan = erasure.Erasure("example.com", date(2026, 6, 2), date(2026, 6, 4))
    report = erasure.erase(store, plan)

    # current objects: 2 + 2 + 0 (the hidden day's are counted in no report, but deleted)
    assert (report.partitions, report.files_deleted, report.rows_deleted) == (3, 4, 20)
    for prefix in erased:
        assert versions(s3, prefix) == []
    after = {v["Key"]: v["VersionId"] for v in versions(s3)}
    assert {k: after.get(k) for k in others} == others
    left = per_partition(s3)
    assert set(left) == {("example.com", "2026-06-01"), ("example.com", "2026-06-05")} | {
        ("shop.test", d) for d in DAYS
    }
    assert all(n == 10 for n in left.values())
    assert [p.dt for p in store.partitions() if p.site_id == "example.com"] == [DAYS[0], DAYS[4]]
    [record] = [r for r in caplog.records if r.getMessage() == "erasure done"]
    assert record.files_deleted == 4 and record.by_user_id is False


def test_erase_one_users_rows_rewrites_in_place_and_keeps_no_old_version(s3, caplog) -> None:
    hashed = user_id_hash(b"s" * 32, USER)
    load(s3, hashed)
    only_user = [dataclasses.replace(event(20 + i, DAYS[0]), user_id=hashed) for i in range(3)]
    gone_key = put_parquet(s3, "example.com", DAYS[0], only_user)
    hidden_key = put_parquet(s3, "example.com", DAYS[1], only_user)
    s3.delete_object(Bucket=BUCKET, Key=hidden_key)  # a version behind a delete marker
    before = current_rows(s3)
    keys_before = {v["Key"] for v in versions(s3)}

    plan = erasure.Erasure("example.com", date(2026, 6, 1), date(2026, 6, 3), hashed)
    report = erasure.erase(S3EventStore(BUCKET, PREFIX, s3), plan)

    # events 0, 3, 6, 9 of example.com on three days, plus the object of 3 user rows
    assert (report.rows_deleted, report.files_rewritten, report.files_deleted) == (15, 6, 1)
    rows = current_rows(s3)
    user_days = sorted({r["_partition"][1] for r in rows if r["user_id"] == hashed})
    assert user_days == DAYS[3:]  # outside the range
    expected = [r for r in before if not (r["user_id"] == hashed and r["_partition"][1] <= DAYS[2])]
    assert sorted(rows, key=repr) == sorted(expected, key=repr)  # every other row, unchanged
    assert {v["Key"] for v in versions(s3)} == keys_before - {
        gone_key,
        hidden_key,
    }  # rewritten in place
    in_range = [
        v
        for d in DAYS[:3]
        for v in versions(s3, f"{PREFIX}site_id=example.com/dt={d}/")
        if not v.get("IsLatest") or "Size" not in v
    ]
    assert in_range == []  # no old version or delete marker holds the erased rows
    rewritten = next(iter(versions(s3, f"{PREFIX}site_id=example.com/dt={DAYS[0]}/")))
    body = s3.get_object(Bucket=BUCKET, Key=rewritten["Key"])["Body"].read()
    ts = pq.ParquetFile(io.BytesIO(body)).schema.column(0)
    assert (ts.name, ts.physical_type) == ("ts", "INT96")  # as Firehose wrote it
    logs = "\n".join(str(vars(r)) for r in caplog.records)
    assert USER not in logs and hashed not in logs


def test_retention_drops_whole_old_days(s3) -> None:
    days = retention_days()
    today = date.fromisoformat(days[-1])
    load(s3, days=days)
    report = erasure.apply_retention(S3EventStore(BUCKET, PREFIX, s3), today, 31)
    assert (report.partitions, report.files_deleted, report.rows_deleted) == (4, 8, 40)
    assert sorted({day for _, day in per_partition(s3)}) == days[2:]
    assert all(v["Key"].split("/")[2] >= f"dt={days[2]}" for v in versions(s3))


def test_late_events_note_covers_firehose_buffer() -> None:
    now = datetime(2026, 6, 5, 0, 1, tzinfo=UTC)
    note = late_events_note(date(2026, 6, 4), now, 120)
    assert note is not None and "after 2026-06-05 00:02:00 UTC" in note
    assert late_events_note(date(2026, 6, 4), now + timedelta(minutes=1), 120) is None
    assert late_events_note(date(2026, 6, 3), now, 120) is None
    today = late_events_note(date(2026, 6, 5), now, 120)
    assert today is not None and "after 2026-06-05 00:03:00 UTC" in today


def test_cli_erase_and_retention_with_the_aws_backend(s3, monkeypatch, capsys, caplog) -> None:
    monkeypatch.setenv("BEACONLAKE_BACKEND", "aws")
    monkeypatch.setenv("BEACONLAKE_SITES", "example.com,shop.test")
    monkeypatch.setenv("BEACONLAKE_USER_ID_SITES", "example.com")
    monkeypatch.setenv("BEACONLAKE_EVENTS_BUCKET", BUCKET)
    monkeypatch.setenv("BEACONLAKE_FIREHOSE_BUFFER_SECONDS", "120")
    hashed = cli_user_hash("example.com", USER)  # from the SSM secret the CLI will read
    days = retention_days()
    load(s3, hashed, days)
    erase = cli_erase

    assert erase("example.com", days[3], days[4], "--user-id", USER) == 0
    out = capsys.readouterr().out
    assert "erased 8 events of that user of example.com" in out
    assert "Run the same command again after" in out  # today may still be in Firehose
    assert USER not in out and hashed not in out
    assert not [
        r for r in current_rows(s3) if r["user_id"] == hashed and r["_partition"][1] >= days[3]
    ]
    assert erase("shop.test", days[0], days[0]) == 0
    out = capsys.readouterr().out
    assert "erased 10 events of shop.test" in out and "Firehose" not in out
    assert main(["retention", "--days", "31"]) == 0
    assert f"deleted 30 events in 3 site-days before {days[2]}" in capsys.readouterr().out
    assert sorted({day for _, day in per_partition(s3)}) == days[2:]
    logs = "\n".join(str(vars(r)) for r in caplog.records)
    assert USER not in logs and hashed not in logs
    monkeypatch.setenv("BEACONLAKE_EVENTS_BUCKET", "")
    assert erase("shop.test", days[0], days[0]) == 2
    assert "BEACONLAKE_EVENTS_BUCKET is not set" in capsys.readouterr().out
    monkeypatch.setattr(aws_user_ids, "SecretParameters", Unreachable)
    assert erase("example.com", days[3], days[4], "--user-id", USER) == 2
    assert "error: the user-id secret store cannot be reached" in capsys.readouterr().out
    wiring.reset()


class Unreachable(SecretParameters):
    """SSM parameters whose every call fails, as with no route to SSM."""

    def get_or_create(self, key: str) -> bytes:
        raise EndpointConnectionError(endpoint_url="https://ssm.invalid")
