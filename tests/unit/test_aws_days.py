"""The daily job's S3 primitives (adapters/aws_days.py) against moto's S3, with an Athena whose
UNLOAD the test plays: compaction replaces a day's objects only by as many rows as they hold,
gives up when a delivery lands meanwhile, and never touches a site the Glue tables do not
project. (The whole job through the real handlers and the Athena stand-in:
tests/aws_box/test_rollups.py.)"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from beaconlake.adapters.aws_days import S3DayFiles

BUCKET, RESULTS = "events-bucket", "results-bucket"
DAY = date(2026, 3, 10)


def parquet(rows: int) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table({"n": list(range(rows))}), sink)
    return sink.getvalue()


class Unloads:
    """Athena's part: each UNLOAD writes `rows()` rows to the target and reports them (or
    `reported`), then runs `meanwhile` (a delivery landing while Athena reads)."""

    def __init__(self, s3: Any, rows: Callable[[], int]) -> None:
        self.s3 = s3
        self.rows = rows
        self.reported: int | None = None
        self.meanwhile: Callable[[], None] = lambda: None
        self.sent: list[str] = []

    def unload(self, sql: str, params: Sequence[Any], location: str, file_format: str) -> int:
        self.sent.append(sql)
        bucket, _, prefix = location[5:].partition("/")
        rows = self.rows()
        self.s3.put_object(Bucket=bucket, Key=f"{prefix}part-0", Body=parquet(rows))
        self.meanwhile()
        return rows if self.reported is None else self.reported


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.create_bucket(Bucket=RESULTS)
        yield client


def deliver(s3: Any, site: str, name: str, rows: int) -> None:
    key = f"events/site_id={site}/dt={DAY.isoformat()}/{name}"
    s3.put_object(Bucket=BUCKET, Key=key, Body=parquet(rows))


def day_keys(s3: Any, site: str = "example.com") -> list[str]:
    prefix = f"events/site_id={site}/dt={DAY.isoformat()}/"
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"])


def files(s3: Any, athena: Unloads, sites: tuple[str, ...] = ("example.com",)) -> S3DayFiles:
    return S3DayFiles(BUCKET, "events/", athena, RESULTS, sites=sites, s3=s3)  # type: ignore[arg-type]


def test_a_day_becomes_one_file_holding_every_row(s3: Any) -> None:
    for n in range(3):
        deliver(s3, "example.com", f"firehose-{n}", 10)
    athena = Unloads(s3, lambda: 30)
    signature = files(s3, athena).compact("example.com", DAY)
    (only,) = day_keys(s3)
    assert "/compacted-" in only and signature is not None
    assert not s3.list_objects_v2(Bucket=RESULTS, Prefix="staging/").get("Contents")


def test_fewer_rows_than_the_day_holds_replace_nothing(s3: Any) -> None:
    for n in range(3):
        deliver(s3, "example.com", f"firehose-{n}", 10)
    before = day_keys(s3)
    athena = Unloads(s3, lambda: 0)  # e.g. a partition Athena does not project
    assert files(s3, athena).compact("example.com", DAY) is None
    assert day_keys(s3) == before
    athena = Unloads(s3, lambda: 30)
    athena.reported = 29
    assert files(s3, athena).compact("example.com", DAY) is None
    assert day_keys(s3) == before


def test_a_delivery_while_athena_reads_leaves_the_day_for_the_next_run(s3: Any) -> None:
    deliver(s3, "example.com", "firehose-0", 10)
    deliver(s3, "example.com", "firehose-1", 10)
    athena = Unloads(s3, lambda: 20)
    athena.meanwhile = lambda: deliver(s3, "example.com", "firehose-late", 5)
    assert files(s3, athena).compact("example.com", DAY) is None
    assert len(day_keys(s3)) == 3


def test_only_the_projected_sites_are_the_jobs(s3: Any) -> None:
    deliver(s3, "example.com", "firehose-0", 1)
    deliver(s3, "old.example", "firehose-0", 1)  # removed from `sites` after it had traffic
    athena = Unloads(s3, lambda: 1)
    assert files(s3, athena).sites() == ["example.com"]
    assert files(s3, athena, sites=()).sites() == ["example.com", "old.example"]


@pytest.mark.parametrize("rows", [0, 1, 999, 70_001])
@pytest.mark.parametrize(
    "write",
    [
        {"compression": "snappy"},
        {"compression": "zstd", "row_group_size": 1000},
        {"use_deprecated_int96_timestamps": True},  # as Firehose writes timestamps
        "duckdb",
    ],
)
def test_a_footers_row_count_is_read_without_pyarrow(tmp_path, rows: int, write: Any) -> None:
    """The rollups function has no pyarrow: its own footer reader must agree with pyarrow's
    on every writer's files (the event schema's columns: maps, decimals, booleans, nulls)."""
    import duckdb

    from beaconlake.adapters.aws_days import footer_rows
    from beaconlake.schema import arrow_schema

    schema = arrow_schema()
    columns = {
        "ts": pa.array([n * 1000 for n in range(rows)], pa.timestamp("ms")),
        "name": ["pageview"] * rows,
        "visitor_id": list(range(rows)),
        "props": pa.array([{"k": str(n)} for n in range(rows)], pa.map_(pa.string(), pa.string())),
        "interactive": [n % 2 == 0 for n in range(rows)],
    }
    table = pa.Table.from_arrays(
        [
            pa.array(columns[f.name], f.type) if f.name in columns else pa.nulls(rows, f.type)
            for f in schema
        ],
        schema=schema,
    )
    path = tmp_path / "day.parquet"
    if write == "duckdb":
        with duckdb.connect() as db:
            db.register("t", table)
            db.execute(f"COPY t TO '{path}' (FORMAT parquet)")
    else:
        pq.write_table(table, path, **write)
    data = path.read_bytes()
    length = int.from_bytes(data[-8:-4], "little")
    assert footer_rows(data[-8 - length : -8]) == pq.read_metadata(path).num_rows == rows
