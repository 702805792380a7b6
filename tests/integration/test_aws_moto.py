"""The AWS back end against moto: collector → Firehose → S3, salts in SSM, keys in DynamoDB,
and the stats handler (Mangum) running its SQL through pyathena on Athena."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends
from moto.core import DEFAULT_ACCOUNT_ID

from beaconlake import wiring
from beaconlake.adapters.aws import FirehoseSink, ParameterSaltStore, athena_literal
from beaconlake.keys import create_key
from beaconlake.ports import SinkUnavailable
from functions.collect.app import handler as collect
from tests.apigw import Context, http_event
from tests.conftest import CHROME_UA

REGION = "us-east-1"
BUCKET = "beaconlake-events"
STREAM = "beaconlake-events"
IP = "198.51.100.77"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, fake_aws_credentials: None) -> Iterator[None]:
    for name, value in {
        "BEACONLAKE_BACKEND": "aws",
        "BEACONLAKE_SITES": "example.com",
        "BEACONLAKE_FIREHOSE_STREAM": STREAM,
        "BEACONLAKE_SALT_PREFIX": "/beaconlake/salts",
        "BEACONLAKE_KEYS_TABLE": "beaconlake-keys",
        "BEACONLAKE_ATHENA_WORKGROUP": "beaconlake",
        "BEACONLAKE_ATHENA_DATABASE": "beaconlake",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        boto3.client("firehose").create_delivery_stream(
            DeliveryStreamName=STREAM,
            ExtendedS3DestinationConfiguration={
                "RoleARN": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/firehose",
                "BucketARN": f"arn:aws:s3:::{BUCKET}",
                "Prefix": "events/",
            },
        )
        boto3.client("dynamodb").create_table(
            TableName="beaconlake-keys",
            KeySchema=[{"AttributeName": "key_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "key_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        boto3.client("athena").create_work_group(
            Name="beaconlake",
            Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{BUCKET}/athena/"}},
        )
        ParameterSaltStore("/beaconlake/salts").rotate(datetime.now(UTC))  # as rotate_salt does
        wiring.reset()
        yield
        wiring.reset()


def stored_records() -> list[dict[str, Any]]:
    s3 = boto3.client("s3")
    rows: list[dict[str, Any]] = []
    for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        body = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read().decode()
        rows.extend(json.loads(line) for line in body.splitlines() if line)
    return rows


def beacon(path: str) -> dict[str, Any]:
    body = json.dumps({"n": "pageview", "u": f"https://example.com{path}", "d": "example.com"})
    headers = {"content-type": "text/plain", "user-agent": CHROME_UA}
    return collect(
        http_event("POST", "/api/event", body=body, headers=headers, source_ip=IP), Context()
    )


class FlakyFirehose:
    """Delegates to moto, but reports every other record of the first `bad_calls` calls as
    failed (and does not deliver those), like a throttled Firehose does."""

    def __init__(self, real: Any, bad_calls: int) -> None:
        self.real = real
        self.bad_calls = bad_calls
        self.calls: list[int] = []

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, Any]]) -> Any:  # noqa: N803
        self.calls.append(len(Records))
        failing = len(self.calls) <= self.bad_calls
        responses: list[dict[str, str]] = []
        good: list[dict[str, Any]] = []
        for i, record in enumerate(Records):
            if failing and i % 2 == 1:
                responses.append({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "x"})
            else:
                good.append(record)
                responses.append({"RecordId": "r"})
        if good:
            self.real.put_record_batch(DeliveryStreamName=DeliveryStreamName, Records=good)
        failed = sum(1 for r in responses if "ErrorCode" in r)
        return {"FailedPutCount": failed, "RequestResponses": responses}


def test_collector_lands_records_in_s3_without_ip_or_ua(aws_env: None) -> None:
    for path in ("/", "/pricing", "/docs"):
        assert beacon(path)["statusCode"] == 202
    rows = stored_records()
    assert sorted(r["pathname"] for r in rows) == ["/", "/docs", "/pricing"]
    assert {r["site_id"] for r in rows} == {"example.com"}
    assert all(r["dt"] == r["ts"][:10] for r in rows)
    raw = json.dumps(rows)
    assert IP not in raw and CHROME_UA not in raw and "Chrome/130" not in raw


def test_partial_failures_are_retried_and_nothing_is_lost(aws_env: None) -> None:
    sink = wiring.ports().sink
    assert isinstance(sink, FirehoseSink)
    flaky = FlakyFirehose(sink.client, bad_calls=2)
    delays: list[float] = []
    sink.client, sink.sleep = flaky, delays.append
    payloads = [f"/p{i}" for i in range(8)]
    from beaconlake.ingest.service import collect as collect_events
    from beaconlake.model import RequestMeta

    meta = RequestMeta(ip=IP, user_agent=CHROME_UA)
    batch = []
    for path in payloads:
        outcome = collect_events(
            {"n": "pageview", "u": f"https://example.com{path}", "d": "example.com"},
            meta,
            wiring.ports().policy,
            wiring.ports().salts.salt_for,
            datetime.now(UTC),
            None,
        )
        batch.extend(outcome.events)
    sink.put(batch)
    assert flaky.calls == [8, 4, 2]  # only the failed records are sent again
    assert len(delays) == 2  # exponential backoff with ±50 % jitter around 0.1 s, then 0.2 s
    assert 0.05 <= delays[0] <= 0.15 and 0.1 <= delays[1] <= 0.3
    paths = sorted(r["pathname"] for r in stored_records())
    assert paths == sorted(payloads)


def test_failures_beyond_retries_answer_503_and_are_counted(
    aws_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    sink = wiring.ports().sink
    assert isinstance(sink, FirehoseSink)
    sink.client, sink.sleep = FlakyFirehose(sink.client, bad_calls=99), lambda _: None
    sink.attempts = 3
    assert beacon("/a")["statusCode"] == 202  # a single record is index 0, which never fails

    class AlwaysThrottled:
        def put_record_batch(self, **_: Any) -> Any:
            raise EndpointConnectionError(endpoint_url="https://firehose")

    sink.client = AlwaysThrottled()
    reply = beacon("/b")
    assert reply["statusCode"] == 503
    assert json.loads(reply["body"])["error"].startswith("the event store is unavailable")
    out = capsys.readouterr().out
    metrics = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    assert any(m.get("EventsRejected") == [1.0] for m in metrics)
    assert IP not in out and CHROME_UA not in out


def test_salts_live_in_ssm_rotate_after_48h_and_fall_back_to_the_cache(aws_env: None) -> None:
    store = ParameterSaltStore("/beaconlake/salts")
    now = datetime.now(UTC)
    today, old = now.date().isoformat(), (now - timedelta(days=3)).date().isoformat()
    salt = store.salt_for(today)
    assert (
        ParameterSaltStore("/beaconlake/salts").salt_for(today) == salt
    )  # shared, not per container
    store.create(old)  # only the rotation creates salts
    assert old in store.days()
    store.rotate(now)
    assert old not in store.days() and today in store.days()

    class Unreachable:
        def __getattr__(self, name: str) -> Any:
            def fail(*_: Any, **__: Any) -> Any:
                raise EndpointConnectionError(endpoint_url="https://ssm")

            return fail

    store.parameters.client = Unreachable()
    assert store.salt_for(today) == salt  # cached
    with pytest.raises(SinkUnavailable):
        store.salt_for("2999-01-01")


def test_keys_live_in_dynamodb_as_hashes(aws_env: None) -> None:
    keys = wiring.ports().keys
    token, api_key = create_key(keys, ("example.com",), "ci")
    assert [k.key_id for k in keys.list()] == [api_key.key_id]
    item = (
        boto3.resource("dynamodb")
        .Table("beaconlake-keys")
        .get_item(Key={"key_id": api_key.key_id})["Item"]
    )
    assert token.split("_")[-1] not in json.dumps(item, default=str)
    assert keys.revoke(api_key.key_id) and keys.list() == []


def athena_result(rows: list[dict[str, Any]]) -> QueryResults:
    """What Athena returns for `rows`: a header row, then strings, with column types."""
    names = list(rows[0])

    def athena_type(name: str) -> str:
        values = [r[name] for r in rows if r[name] is not None]
        if values and isinstance(values[0], bool):
            return "boolean"
        if values and isinstance(values[0], int):
            return "bigint"
        if values and isinstance(values[0], float):
            return "double"
        if values and isinstance(values[0], Decimal):
            return "decimal"
        return "varchar"

    def cell(value: Any) -> dict[str, str]:
        return {} if value is None else {"VarCharValue": str(value)}

    header = {"Data": [{"VarCharValue": n} for n in names]}
    data = [{"Data": [cell(r[n]) for n in names]} for r in rows]
    info = [
        {
            "Name": n,
            "Label": n,
            "Type": athena_type(n),
            "CatalogName": "hive",
            "SchemaName": "",
            "TableName": "",
            "Nullable": "UNKNOWN",
            "CaseSensitive": False,
            "Precision": 38 if athena_type(n) == "decimal" else 0,
            "Scale": 4 if athena_type(n) == "decimal" else 0,
        }
        for n in names
    ]
    return QueryResults(rows=[header, *data], column_info=info)


def test_stats_handler_runs_the_same_sql_through_pyathena(
    aws_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local engine answers the query first; Athena (moto) is given those rows and the
    Lambda must return the same JSON, having sent the SQL with every value as a parameter
    but the site id (a checked domain name, written as a literal)."""
    from fastapi.testclient import TestClient

    from beaconlake.adapters.parquet_sink import ParquetSink
    from beaconlake.handlers.stats import create_app
    from beaconlake.ingest.service import collect as collect_events
    from beaconlake.model import RequestMeta
    from beaconlake.stats.query_parser import parse_query
    from beaconlake.wiring import local_engine
    from functions.stats.app import handler as stats

    body = {
        "site_id": "example.com",
        "metrics": ["visitors", "pageviews", "bounce_rate"],
        "date_range": "7d",
        "dimensions": ["event:page"],
        "filters": [["contains", "event:page", ["'; DROP TABLE events; --", "/"]]],
    }
    local_sink = ParquetSink(tmp_path)
    for i, path in enumerate(["/", "/a", "/a", "/b"]):
        outcome = collect_events(
            {"n": "pageview", "u": f"https://example.com{path}", "d": "example.com"},
            RequestMeta(ip=f"198.51.100.{i}", user_agent=CHROME_UA),
            wiring.ports().policy,
            lambda _: b"s" * 32,
            datetime.now(UTC) - timedelta(hours=1),
            None,
        )
        local_sink.put(outcome.events)
    local_sink.close()
    local = local_engine(tmp_path)
    expected_rows = local.query(*_first_statement(parse_query(body, {})))
    athena_backends[DEFAULT_ACCOUNT_ID][REGION].query_results_queue.append(
        athena_result(expected_rows)
    )
    token, _ = create_key(wiring.ports().keys, ("example.com",), "ci")
    event = http_event(
        "POST",
        "/api/v2/query",
        body=json.dumps(body),
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
    )
    reply = stats(event, Context())
    assert reply["statusCode"] == 200, reply["body"]
    results = json.loads(reply["body"])["results"]
    assert sorted(r["dimensions"][0] for r in results) == ["/", "/a", "/b"]

    monkeypatch.setenv("BEACONLAKE_BACKEND", "local")
    monkeypatch.setenv("BEACONLAKE_DATA_DIR", str(tmp_path))
    wiring.reset()
    local = TestClient(create_app()).post(
        "/api/v2/query", json=body, headers={"authorization": f"Bearer {_local_key()}"}
    )
    assert local.json()["results"] == results

    (execution,) = athena_backends[DEFAULT_ACCOUNT_ID][REGION].executions.values()
    assert "DROP TABLE" not in execution.query
    assert athena_literal("'; drop table events; --") in execution.execution_parameters
    # the site id alone is a literal: the injected projection's rule (aws_site_literals.py)
    assert "site_id = 'example.com'" in execution.query
    assert "'example.com'" not in execution.execution_parameters


def _first_statement(query: Any) -> tuple[str, tuple[Any, ...]]:
    from beaconlake.stats import sql

    st = sql.build(query)
    return st.sql, st.params


def _local_key() -> str:
    token, _ = create_key(wiring.ports().keys, ("example.com",), "local")
    return token
