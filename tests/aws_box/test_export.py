"""GET /api/v2/export/events on the AWS path: Athena UNLOADs the range to the results bucket
and the stats function answers links to the files, whatever the size; the rows are those
of the local (streamed) export. Also the stand-in's UNLOAD rules."""

from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.aws_box.athena_sql import billed_bytes
from tests.aws_box.conftest import Box
from tests.aws_box.exports import comparable, csv_rows, fetch_export, local_export, write_events
from tests.aws_box.stack import REGION


def results_bucket(box: Box) -> str:
    return box.env["BEACONLAKE_RESULTS_BUCKET"]


def export_query(first: datetime, last: datetime) -> dict[str, str]:
    return {"site_id": "example.com", "date_range": f"{first:%Y-%m-%d},{last:%Y-%m-%d}"}


def start(box: Box, statement: str, parameters: list[str]) -> dict[str, Any]:
    """One statement through Athena's API (moto, the box behind it); its execution."""
    athena = boto3.client("athena", region_name=REGION)
    workgroup, _ = box.stack.workgroup()
    query_id = athena.start_query_execution(
        QueryString=statement,
        WorkGroup=workgroup,
        QueryExecutionContext={"Database": box.env["BEACONLAKE_ATHENA_DATABASE"]},
        **({"ExecutionParameters": parameters} if parameters else {}),
    )["QueryExecutionId"]
    return athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]


SELECT = (  # the site a literal: the injected projection's rule (adapters/aws_site_literals.py)
    "SELECT name, pathname FROM events WHERE site_id = 'example.com' AND dt BETWEEN ? AND ? "
    "ORDER BY ts"
)


def test_unload_writes_textfile_lines_and_bills_as_its_select(box: Box) -> None:
    first = (datetime.now(UTC) - timedelta(days=3)).replace(tzinfo=None, microsecond=0)
    write_events(box.firehose, 1000, first.date())
    day = f"'{first:%Y-%m-%d}'"
    params = [day, f"'{first + timedelta(days=1):%Y-%m-%d}'"]
    select = start(box, SELECT, params)
    target = f"s3://{results_bucket(box)}/exports/test-one/"
    unload = start(
        box,
        f"UNLOAD ({SELECT}) TO '{target}' "
        "WITH (format = 'TEXTFILE', field_delimiter = ',', compression = 'GZIP')",
        params,
    )
    assert unload["Status"]["State"] == "SUCCEEDED", unload["Status"]
    record = box.athena.queries[-1]
    assert record.unload is not None and record.update_count == 1000
    assert record.bytes_scanned == box.athena.queries[-2].bytes_scanned > 0
    assert record.bytes_billed == billed_bytes(record.bytes_scanned)
    assert unload["Statistics"]["DataScannedInBytes"] == select["Statistics"]["DataScannedInBytes"]
    s3 = boto3.client("s3", region_name=REGION)
    listed = s3.list_objects_v2(Bucket=results_bucket(box), Prefix="exports/test-one/")
    keys = [o["Key"] for o in listed["Contents"]]
    assert keys and all(k.endswith(".gz") for k in keys)
    body = b"".join(
        gzip.decompress(s3.get_object(Bucket=results_bucket(box), Key=k)["Body"].read())
        for k in keys
    ).decode()
    lines = body.split("\n")
    # no header row and no quoting: TEXTFILE joins the columns as they are, so the one row
    # whose path holds a line feed spans two lines
    assert lines[0] == 'Signup,/a,b "quoted"'
    assert lines[-1] == "" and len(lines) == 1000 + 1 + 1
    athena = boto3.client("athena", region_name=REGION)
    results = athena.get_query_results(QueryExecutionId=unload["QueryExecutionId"])
    assert results["UpdateCount"] == 1000 and results["ResultSet"]["Rows"] == []


def test_unload_refuses_a_target_that_holds_objects(box: Box) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=results_bucket(box), Key="exports/taken/old.gz", Body=b"x")
    unload = start(
        box,
        f"UNLOAD ({SELECT}) TO 's3://{results_bucket(box)}/exports/taken/' "
        "WITH (format = 'TEXTFILE')",
        ["'2026-01-01'", "'2026-01-02'"],
    )
    assert unload["Status"]["State"] == "FAILED"
    assert "HIVE_PATH_ALREADY_EXISTS" in unload["Status"]["StateChangeReason"]
    listed = s3.list_objects_v2(Bucket=results_bucket(box), Prefix="exports/taken/")
    assert [o["Key"] for o in listed["Contents"]] == ["exports/taken/old.gz"]  # not overwritten


def test_unload_checks_its_select_and_its_properties(box: Box) -> None:
    target = f"'s3://{results_bucket(box)}/exports/bad/'"
    outside = start(
        box, f"UNLOAD (SELECT ? AS x FROM events) TO {target} WITH (format = 'TEXTFILE')", ["1"]
    )
    assert outside["Status"]["State"] == "FAILED"
    assert "parameter outside WHERE" in outside["Status"]["StateChangeReason"]
    no_format = start(box, f"UNLOAD (SELECT 1 AS x) TO {target} WITH (compression = 'GZIP')", [])
    assert no_format["Status"]["State"] == "FAILED"
    assert "format" in no_format["Status"]["StateChangeReason"]


def test_export_of_an_empty_range_is_a_header_file(box: Box) -> None:
    answer = box.ok("GET", "/api/v2/export/events", query=export_query(*[datetime(2026, 1, 1)] * 2))
    assert answer["rows"] == 0 and len(answer["files"]) == 1
    text, _ = fetch_export(answer, results_bucket(box))
    assert csv_rows(text)[1:] == [] and text.endswith("\r\n")


@pytest.mark.slow
def test_an_export_of_a_million_rows_is_linked_and_equals_the_local_export(
    box: Box, tmp_path: Path
) -> None:
    """1,000,000 events (250 ms apart: about three days) written as Firehose delivers them;
    the export through the stats handler answers links (not 6 MB of body), and the files
    fetched through them hold every row, as the local export writes them."""
    rows = 1_000_000
    first = (datetime.now(UTC) - timedelta(days=5)).replace(tzinfo=None, hour=0, minute=0)
    first = first.replace(second=0, microsecond=0)
    stored = write_events(box.firehose, rows, first.date())
    last = first + timedelta(milliseconds=250 * (rows - 1))
    query = export_query(first, last)
    started = time.perf_counter()
    answer = box.ok("GET", "/api/v2/export/events", query=query)
    answered = time.perf_counter() - started
    assert answer["rows"] == rows and len(answer["files"]) > 2  # the header and several files
    expires = datetime.fromisoformat(answer["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=15)
    text, fetched = fetch_export(answer, results_bucket(box))
    fetched_at = time.perf_counter() - started
    aws = comparable(text)
    assert len(aws[1]) == rows
    compared_at = time.perf_counter() - started
    local_text = local_export(box.firehose.s3, box.firehose.bucket, tmp_path, query)
    local_at = time.perf_counter() - started
    local = comparable(local_text)
    assert aws[0] == local[0]
    assert aws[1] == local[1]
    unload = [q for q in box.athena.queries if q.unload is not None]
    assert len(unload) == 1 and unload[0].update_count == rows
    print(
        f"\n1M-row export: stored {stored / 1e6:.1f} MB Parquet, scanned "
        f"{unload[0].bytes_scanned / 1e6:.1f} MB; answered in {answered:.1f} s "
        f"(stand-in {unload[0].seconds:.1f} s); {len(answer['files'])} files, "
        f"{fetched / 1e6:.1f} MB gzip, {len(text) / 1e6:.1f} MB CSV, fetched by "
        f"{fetched_at:.1f} s, parsed by {compared_at:.1f} s; local export by {local_at:.1f} s; "
        f"whole test {time.perf_counter() - started:.1f} s"
    )
