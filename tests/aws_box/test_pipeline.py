"""The pipeline's parts on a handful of beacons: what Firehose writes where, what Athena
refuses and bills, and that the stats Lambda reads it back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pyarrow.parquet as pq
import pytest

from beaconlake.model import RequestMeta
from tests.aws_box.athena_sql import MIN_BILLED, billed_bytes
from tests.aws_box.conftest import Box
from tests.conftest import CHROME_UA, FIREFOX_UA

pytestmark = pytest.mark.slow

T0 = datetime(2026, 3, 9, 23, 58, tzinfo=UTC)


def page(path: str, site: str = "example.com") -> dict[str, str]:
    return {"n": "pageview", "u": f"https://{site}{path}", "d": site}


def objects(box: Box, prefix: str) -> list[str]:
    s3 = boto3.client("s3")
    reply = s3.list_objects_v2(Bucket=box.firehose.bucket, Prefix=prefix)
    return sorted(o["Key"] for o in reply.get("Contents", []))


def test_records_are_buffered_then_partitioned_by_site_and_day(box: Box) -> None:
    alice = RequestMeta("198.51.100.1", CHROME_UA)
    bob = RequestMeta("198.51.100.2", FIREFOX_UA)
    assert box.beacon(page("/"), alice, T0)["statusCode"] == 202
    assert (
        box.beacon(page("/b", "blog.example.com"), bob, T0 + timedelta(seconds=30))["statusCode"]
        == 202
    )
    assert box.beacon(page("/next"), alice, T0 + timedelta(minutes=3))["statusCode"] == 202
    # the first two waited the template's buffer interval (120 s) and went out when the third
    # arrived; the third (next day, its own partition) is still buffered
    assert box.firehose.interval == timedelta(seconds=120)
    assert [d.records for d in box.firehose.deliveries] == [1, 1]
    assert box.firehose.buffered == 1
    box.firehose.drain()
    keys = objects(box, "events/")
    stream = box.firehose.stream_name
    assert [k.rsplit("/", 1)[0] for k in keys] == [
        "events/site_id=blog.example.com/dt=2026-03-09",
        "events/site_id=example.com/dt=2026-03-09",
        "events/site_id=example.com/dt=2026-03-10",
    ]
    assert all(k.rsplit("/", 1)[1].startswith(f"{stream}-1-2026-03-") for k in keys)
    body = boto3.client("s3").get_object(Bucket=box.firehose.bucket, Key=keys[1])["Body"].read()
    path = box.athena.cache_dir / "probe.parquet"
    path.write_bytes(body)
    parquet = pq.ParquetFile(path)
    glue_columns = [c for c, _ in box.firehose.columns or []]
    assert parquet.schema_arrow.names == glue_columns  # no site_id/dt: they are the path
    assert parquet.metadata.row_group(0).column(0).compression == "SNAPPY"
    assert parquet.schema.column(0).physical_type == "INT96"  # Hive's timestamp
    row = parquet.read().to_pylist()[0]
    assert row["pathname"] == "/" and row["props"] == []
    assert "198.51.100.1" not in body.decode("latin-1") and "Chrome/130" not in body.decode(
        "latin-1"
    )


def test_records_that_do_not_convert_go_under_the_error_prefix(box: Box) -> None:
    good = {"site_id": "example.com", "dt": "2026-03-09", "ts": "2026-03-09 10:00:00.123"}
    rows = [
        good,
        {**good, "ts": "2026-03-09T10:00:00Z"},  # ISO 8601 is not java.sql.Timestamp's form
        {**good, "visitor_id": 1.5},
        {**good, "props": {"nested": {"x": 1}}},
        {**good, "interactive": "yes"},
        {"dt": "2026-03-09"},  # no site_id: partitioning fails
        {**good, "revenue_amount": "12345678901234567890"},  # too wide for decimal(18,4)
        {**good, "TS": "2026-03-09 11:00:00", "ts": None},  # keys are case-insensitive
    ]
    box.firehose.put([json.dumps(r).encode() for r in rows] + [b"not json"])
    box.firehose.drain()
    errors = objects(box, "errors/")
    assert [k.rsplit("/", 1)[0] for k in errors] == [
        "errors/format-conversion-failed/" + box.clock().strftime("%Y-%m-%d"),
        "errors/partitioning-failed/" + box.clock().strftime("%Y-%m-%d"),
    ]
    s3 = boto3.client("s3")
    failed = [
        json.loads(line)
        for key in errors
        for line in s3.get_object(Bucket=box.firehose.bucket, Key=key)["Body"].iter_lines()
    ]
    assert [f["errorCode"] for f in failed] == ["DataFormatConversion.MalformedData"] * 4 + [
        "DynamicPartitioning.MetadataExtractionFailed"
    ] * 2
    (data,) = objects(box, "events/")
    path = box.athena.cache_dir / "rows.parquet"
    path.write_bytes(s3.get_object(Bucket=box.firehose.bucket, Key=data)["Body"].read())
    stored = pq.read_table(path).to_pylist()
    assert len(stored) == 3
    assert stored[1]["revenue_amount"] is None  # Hive turns an out-of-range decimal into NULL
    assert stored[2]["ts"] == datetime(2026, 3, 9, 11, 0)


def athena(box: Box, sql: str, params: list[str] | None = None) -> dict:
    client = boto3.client("athena")
    args = {"QueryString": sql, "WorkGroup": "beaconlake"}
    args["QueryExecutionContext"] = {"Database": "beaconlake"}
    if params:
        args["ExecutionParameters"] = params
    query_id = client.start_query_execution(**args)["QueryExecutionId"]
    return client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]


def test_athena_refuses_what_athena_refuses(box: Box) -> None:
    where = "WHERE site_id = 'example.com' AND dt = ?"  # injected: a literal (Athena's rule)
    params = ["'2026-03-09'"]
    cases = {
        f"SELECT count(*) AS n FROM events {where} LIMIT 10 OFFSET 5": "Trino grammar",
        f"SELECT ? AS x FROM events {where}": "parameter outside WHERE",
        f"SELECT count(*) AS n FROM events {where} AND pathname = ?": "Incorrect number",
        f"SELECT count(*) AS n FROM other {where}": "TABLE_NOT_FOUND",
    }
    box.athena.prime([*cases, f"SELECT count(*) AS n FROM events {where}"])  # one Node run
    for sql, reason in cases.items():
        execution = athena(box, sql, params)
        assert execution["Status"]["State"] == "FAILED", sql
        assert reason in execution["Status"]["StateChangeReason"], execution["Status"]
    injected = athena(box, f"SELECT count(*) AS n FROM events {where}", ["'x' OR 1=1"])
    assert "is not a literal" in injected["Status"]["StateChangeReason"]
    unpinned = athena(box, "SELECT count(*) AS n FROM events WHERE site_id = ?", ["'example.com'"])
    assert "CONSTRAINT_VIOLATION" in unpinned["Status"]["StateChangeReason"]
    assert [q.bytes_billed for q in box.athena.queries] == [0] * 6  # failed early: not billed


def test_athena_scans_only_the_partitions_and_columns_asked_for(box: Box) -> None:
    for day in range(3):
        for i in range(5):
            at = T0 + timedelta(days=day, minutes=i)
            box.beacon(page(f"/p{i}"), RequestMeta(f"198.51.100.{i}", CHROME_UA), at)
    box.firehose.drain()
    one_day = athena(
        box,
        "SELECT count(*) AS n FROM events WHERE site_id = 'example.com' AND dt = ?",
        ["'2026-03-10'"],
    )
    assert one_day["Status"]["State"] == "SUCCEEDED"
    counted, paths, everything = (
        box.athena.queries[-1],
        athena(
            box,
            "SELECT pathname, count(*) AS n FROM events WHERE site_id = 'example.com' "
            "AND dt >= ? GROUP BY pathname",
            ["'2026-03-10'"],
        ),
        athena(box, "SELECT * FROM events WHERE site_id IN ('example.com')"),
    )
    del paths
    by_path, star = box.athena.queries[-2], box.athena.queries[-1]
    day = len(objects(box, "events/site_id=example.com/dt=2026-03-10/"))
    assert counted.bytes_scanned == 0 and counted.objects_read == day  # count(*): no column
    assert counted.bytes_billed == MIN_BILLED
    later = len(objects(box, "events/site_id=example.com/dt=2026-03-1"))
    assert by_path.objects_read == later < star.objects_read == len(objects(box, "events/"))
    assert 0 < by_path.bytes_scanned < star.bytes_scanned
    assert everything["Statistics"]["DataScannedInBytes"] == star.bytes_scanned
    assert billed_bytes(10 * 1024 * 1024 + 1) == 11 * 1024 * 1024


def test_results_are_paged_by_1000_rows_and_pyathena_reads_them_all(box: Box) -> None:
    from beaconlake import wiring

    box.beacon(page("/"), RequestMeta("198.51.100.9", CHROME_UA), T0)
    box.firehose.drain()
    sql = (
        "SELECT x FROM events CROSS JOIN UNNEST(sequence(1, 2500)) AS t(x) "
        "WHERE site_id = ? AND dt = ? ORDER BY x"
    )
    rows = wiring.engine().query(sql, ["example.com", "2026-03-09"])
    assert [r["x"] for r in rows] == list(range(1, 2501))
    record = box.athena.queries[-1]
    assert record.row_count == 2500 and record.pages_served == 3  # 999 + header, 1000, 501
    client = boto3.client("athena")
    with pytest.raises(client.exceptions.InvalidRequestException):
        client.get_query_results(QueryExecutionId=record.query_id, MaxResults=1001)


def test_the_workgroup_cutoff_and_the_query_timeout_fail_queries(box: Box) -> None:
    box.beacon(page("/"), RequestMeta("198.51.100.9", CHROME_UA), T0)
    box.firehose.drain()
    _, configuration = box.stack.workgroup()
    assert configuration["BytesScannedCutoffPerQuery"] == 250_000_000  # the synth's context
    query = {
        "site_id": "example.com",
        "period": "custom",
        "from": "2026-03-09",
        "to": "2026-03-09",
        "metrics": "visitors,pageviews",
    }
    assert box.call("GET", "/api/v1/stats/aggregate", query=query)[0] == 200
    # Athena's smallest cutoff is 10 MB; this data is a few KB, so the test scales it down
    real = box.athena.workgroups
    box.athena.workgroups = lambda name: {**(real(name) or {}), "BytesScannedCutoffPerQuery": 100}
    status, answer = box.call("GET", "/api/v1/stats/aggregate", query=query)
    assert status == 400, answer  # QueryTooLarge: a shorter range will be answered
    record = box.athena.queries[-1]
    assert (record.state, record.reason) == ("FAILED", "Bytes scanned limit was exceeded")
    assert record.bytes_scanned == 100 and record.bytes_billed == MIN_BILLED
    box.athena.workgroups = real
    box.athena.timeout_seconds = 0.0
    status, answer = box.call("GET", "/api/v1/stats/aggregate", query=query)
    assert status == 503, answer
    assert (box.athena.queries[-1].kind, box.athena.queries[-1].reason) == (
        "timeout",
        "Query timeout",
    )


def test_partition_projection_hides_what_it_does_not_enumerate(box: Box) -> None:
    """The Glue table's projection (the sites a query names, days 2020-01-01..NOW) decides what
    Athena reads, not what S3 holds: another site or a future day is never counted."""
    row = {"ts": "2026-03-09 10:00:00", "name": "pageview", "pathname": "/"}
    records = [
        {**row, "site_id": "example.com", "dt": "2026-03-09"},
        {**row, "site_id": "blog.example.com", "dt": "2026-03-09"},
        {**row, "site_id": "stray.org", "dt": "2026-03-09"},
        {**row, "site_id": "example.com", "dt": "2999-01-01"},
    ]
    box.firehose.put([json.dumps(r).encode() for r in records])
    box.firehose.drain()
    assert len(objects(box, "events/")) == 4
    sql = "SELECT count(*) AS n FROM events WHERE site_id IN ('example.com', 'stray.org') AND pathname = ?"
    execution = athena(box, sql, ["'/'"])
    assert execution["Status"]["State"] == "SUCCEEDED"
    record = box.athena.queries[-1]
    assert record.objects_read == 2 and record.rows[1] == {"Data": [{"VarCharValue": "2"}]}


def test_a_statement_athena_refuses_is_a_503_that_names_no_sql(box: Box) -> None:
    box.beacon(page("/"), RequestMeta("198.51.100.9", CHROME_UA), T0)
    box.firehose.drain()
    refused = "Trino grammar: line 1:1 mismatched input (simulated)"
    box.athena.rule_violations = lambda statement: [(statement, refused)]  # type: ignore[method-assign]
    query = {"site_id": "example.com", "period": "custom", "from": "2026-03-09", "to": "2026-03-09"}
    status, answer = box.call("GET", "/api/v1/stats/aggregate", query=query)
    assert status == 503, answer
    record = box.athena.queries[-1]
    assert (record.state, record.kind, record.reason) == ("FAILED", "rules", refused)
    assert "SELECT" not in json.dumps(answer) and "simulated" not in json.dumps(answer)
