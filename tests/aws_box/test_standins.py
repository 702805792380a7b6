"""The stand-ins' own rules, without the pipeline: what they evaluate, and what they refuse
to model (loudly, so a template change they cannot follow is noticed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.aws_box.athena_sql import QueryFailure, billed_bytes, substitute
from tests.aws_box.firehose import (
    ConversionError,
    FirehoseBox,
    ManualClock,
    UnsupportedConfiguration,
    compile_jq,
    evaluate_prefix,
    hive_value,
)
from tests.aws_box.stack import Stack

AT = datetime(2026, 3, 9, 7, 5, 3, tzinfo=UTC)


def test_jq_subset_is_the_templates_and_nothing_else() -> None:
    keys = compile_jq("{site_id: .site_id, dt: .dt, deep: .a.b}")
    assert keys({"site_id": "x", "dt": "d", "a": {"b": 1}}) == {
        "site_id": "x",
        "dt": "d",
        "deep": 1,
    }
    assert keys({"dt": "d"})["site_id"] is None
    for query in (".site_id", "{site_id: .site_id | ascii_downcase}", "{a: .x[0]}", "{a: 1}"):
        with pytest.raises(UnsupportedConfiguration):
            compile_jq(query)


def test_prefix_namespaces() -> None:
    prefix = "events/site_id=!{partitionKeyFromQuery:site_id}/!{timestamp:yyyy/MM/dd/HH}/"
    assert (
        evaluate_prefix(prefix, AT, {"site_id": "a.com"}) == "events/site_id=a.com/2026/03/09/07/"
    )
    errors = "errors/!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/"
    assert evaluate_prefix(errors, AT, {}, "format-conversion-failed") == (
        "errors/format-conversion-failed/2026-03-09/"
    )
    for bad in ("!{partitionKeyFromLambda:x}/", "!{timestamp:yyyy-ww}/", "!{firehose:other}/"):
        with pytest.raises(UnsupportedConfiguration):
            evaluate_prefix(bad, AT, {})


def test_hive_json_serde_rules() -> None:
    assert hive_value("timestamp", "2026-03-09 07:05:03.5") == datetime(2026, 3, 9, 7, 5, 3, 500000)
    assert hive_value("decimal(18,4)", "9.99995") == Decimal("10.0000")  # HALF_UP to the scale
    assert hive_value("decimal(18,4)", 10**15) is None  # more digits than precision - scale
    assert hive_value("string", 12) == "12" and hive_value("boolean", "TRUE") is True
    assert hive_value("map<string,string>", {"a": 1, "b": None}) == [("a", "1"), ("b", None)]
    for kind, value in [
        ("timestamp", 1773039903000),  # epoch millis need TimestampFormats ["millis"]
        ("timestamp", "2026-03-09T07:05:03Z"),
        ("bigint", 2**63),
        ("int", "seven"),
        ("boolean", "yes"),
        ("map<string,string>", {"a": [1]}),
        ("string", {"a": 1}),
    ]:
        with pytest.raises(ConversionError):
            hive_value(kind, value)


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> None:  # noqa: N803
        self.objects[Key] = Body


class FakeGlue:
    def get_table(self, DatabaseName: str, Name: str) -> dict[str, Any]:  # noqa: N803
        columns = [{"Name": "ts", "Type": "timestamp"}, {"Name": "name", "Type": "string"}]
        return {"Table": {"StorageDescriptor": {"Columns": columns}}}


def test_buffers_go_out_on_size_or_interval(stack: Stack) -> None:
    name, destination = stack.delivery_stream()
    destination = {**destination, "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 1}}
    s3, clock = FakeS3(), ManualClock(AT)
    box = FirehoseBox(name, destination, s3, FakeGlue(), clock)
    record = {"site_id": "a.com", "dt": "2026-03-09", "ts": "2026-03-09 07:05:03", "name": "x"}
    big = dict(record, name="x" * 600_000)
    box.put([json.dumps(big).encode()] * 2)
    assert [d.records for d in box.deliveries] == [2]  # 1 MiB reached: delivered at once
    box.put([b'{"site_id": "a.com", "dt": "2026-03-09", "ts": "2026-03-09 07:05:03"}'])
    box.advance(59)
    assert len(box.deliveries) == 1 and box.buffered == 1
    box.advance(1)
    assert [d.records for d in box.deliveries] == [2, 1]
    assert all(k.startswith("events/site_id=a.com/dt=2026-03-09/") for k in s3.objects)


def test_the_template_stream_is_what_the_stand_in_models(stack: Stack) -> None:
    name, destination = stack.delivery_stream()
    for change in (
        {"CompressionFormat": "GZIP"},
        {"ErrorOutputPrefix": ""},
        {
            "DataFormatConversionConfiguration": {
                **destination["DataFormatConversionConfiguration"],
                "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
            }
        },
    ):
        with pytest.raises(UnsupportedConfiguration):
            FirehoseBox(name, {**destination, **change}, FakeS3(), FakeGlue())


def test_parameters_are_substituted_as_literals_only() -> None:
    sql = "SELECT '?' AS q FROM events WHERE site_id = ? AND dt >= ? -- ?\n"
    got = substitute(sql, ["'a''b'", "DATE '2026-03-09'"])
    assert (
        got
        == "SELECT '?' AS q FROM events WHERE site_id = 'a''b' AND dt >= DATE '2026-03-09' -- ?\n"
    )
    for bad in (["x", "1"], ["'a' OR true", "1"], ["(SELECT 1)", "1"]):
        with pytest.raises(QueryFailure):
            substitute(sql, bad)
    with pytest.raises(QueryFailure, match="expected 2 but found 1"):
        substitute(sql, ["'a'"])
    assert billed_bytes(0) == billed_bytes(10 * 2**20) == 10 * 2**20
    assert billed_bytes(10 * 2**20 + 1) == 11 * 2**20
