"""Minimal mode on the AWS back end: the collect Lambda coarsens what reaches S3 through
Firehose, and the stats Lambda (same environment, as the template sets it from the `privacy`
setting) answers the timed metrics as unavailable."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest

from beaconlake.model import RequestMeta
from tests.aws_box.conftest import aws_box
from tests.aws_box.stack import Stack
from tests.conftest import IPHONE_UA

pytestmark = pytest.mark.slow

T0 = datetime(2026, 3, 9, 10, 41, 7, tzinfo=UTC)
TIMED = ["bounce_rate", "visit_duration", "views_per_visit"]


def test_minimal_mode_through_firehose_and_athena(stack: Stack, tmp_path: Path) -> None:
    assert stack.lambda_environment("beaconlake-stats")["BEACONLAKE_PRIVACY"] == "standard"
    with aws_box(stack, tmp_path, env={"BEACONLAKE_PRIVACY": "minimal"}) as box:
        for i, page in enumerate(["/a", "/b", "/c"]):
            data = {
                "n": "pageview",
                "u": f"https://example.com{page}",
                "d": "example.com",
                "r": "https://news.example.org/item?id=1",
            }
            meta = RequestMeta(f"198.51.100.{7 + i * 100}", IPHONE_UA)
            assert box.beacon(data, meta, T0 + timedelta(minutes=i))["statusCode"] == 202
        box.firehose.drain()
        s3 = boto3.client("s3")
        keys = [
            o["Key"]
            for o in s3.list_objects_v2(Bucket=box.firehose.bucket, Prefix="events/")["Contents"]
        ]
        assert keys
        rows = []
        for i, key in enumerate(keys):
            path = box.athena.cache_dir / f"privacy-{i}.parquet"
            path.write_bytes(s3.get_object(Bucket=box.firehose.bucket, Key=key)["Body"].read())
            rows += pq.read_table(path).to_pylist()
        assert len(rows) == 3
        for row in rows:
            assert row["ts"].replace(tzinfo=None) == datetime(2026, 3, 9, 10, 0)
            assert (row["browser_version"], row["device"], row["referrer"]) == (
                None,
                None,
                "news.example.org",
            )
        # one /24: truncated addresses hash to one visitor
        assert len({row["visitor_id"] for row in rows}) == 1

        body = {
            "site_id": "example.com",
            "metrics": ["visitors", "pageviews", "visits", *TIMED],
            "date_range": ["2026-03-09", "2026-03-09"],
        }
        answer = box.ok("POST", "/api/v2/query", body=body)
        (result,) = answer["results"]
        assert result["metrics"][:2] == [1, 3]
        assert result["metrics"][3:] == [None, None, None]
        assert sorted(answer["meta"]["unavailable"]) == sorted(TIMED)
        assert "visits" in answer["meta"]["approximate"]
        assert json.dumps(answer).count("hour") >= 3
