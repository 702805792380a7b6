"""Helpers for the export tests of the AWS box: events written straight into the events
prefix as Firehose would (many rows, fast), the export's files fetched through their presigned
links, and the same export from the local back end to compare with."""

from __future__ import annotations

import csv
import gzip
import io
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from beaconlake import wiring
from beaconlake.keys import create_key
from tests.aws_box.firehose import FirehoseBox, arrow_type

ROWS_PER_OBJECT = 125_000
# Rows a spreadsheet or a naive CSV reader would get wrong: commas, quotes, line breaks,
# formula starts, other scripts; one in a few hundred rows carries one of them.
EVENTS_SQL = """
SELECT
    CAST(? AS TIMESTAMP) + to_milliseconds(i * 250) AS ts,
    CASE WHEN i % 10 = 0 THEN 'Signup' ELSE 'pageview' END AS name,
    'example.com' AS hostname,
    CASE WHEN i % 997 = 0 THEN '/a,b "quoted"'
         WHEN i % 991 = 0 THEN '=HYPERLINK("http://x.test")'
         WHEN i % 983 = 0 THEN '/line' || chr(10) || 'break' || chr(13)
         WHEN i % 977 = 0 THEN '/über/日本'
         ELSE '/p/' || (i % 5000) END AS pathname,
    CASE i % 3 WHEN 0 THEN 'Google' WHEN 1 THEN NULL ELSE '-minus' END AS referrer_source,
    CASE WHEN i % 3 = 0 THEN 'https://www.google.com/' END AS referrer,
    CASE WHEN i % 11 = 0 THEN '+plus' END AS utm_source,
    CASE WHEN i % 11 = 0 THEN '@at' END AS utm_medium,
    CASE WHEN i % 13 = 0 THEN chr(9) || 'tab' END AS utm_campaign,
    NULL AS utm_content,
    CASE WHEN i % 17 = 0 THEN '' END AS utm_term,
    (i % 50000) * 7919 - 100000 AS visitor_id,
    'Chrome' AS browser,
    '131.0' AS browser_version,
    CASE WHEN i % 2 = 0 THEN 'Linux' ELSE 'iOS' END AS os,
    CASE WHEN i % 2 = 1 THEN '18.1' END AS os_version,
    CASE WHEN i % 2 = 0 THEN 'desktop' ELSE 'mobile' END AS device,
    CASE WHEN i % 5 = 0 THEN NULL ELSE 'DE' END AS country,
    CASE WHEN i % 10 = 0 THEN MAP {'plan': 'pro', 'k,q': 'v"x', 'ü': '=1'}
         WHEN i % 10 = 1 THEN MAP {}::MAP(VARCHAR, VARCHAR) END AS props,
    CASE WHEN i % 10 = 0 THEN CAST(i % 100000 AS DECIMAL(18, 4)) / 100 END AS revenue_amount,
    CASE WHEN i % 10 = 0 THEN 'EUR' END AS revenue_currency,
    i % 7 <> 0 AS interactive,
    CASE WHEN i % 7 = 0 THEN CAST(i % 101 AS INTEGER) END AS scroll_depth,
    CASE WHEN i % 7 = 0 THEN i % 600000 END AS engaged_ms,
    NULL AS user_id
FROM range(?) AS t(i)
"""


def write_events(firehose: FirehoseBox, rows: int, first: date, site: str = "example.com") -> int:
    """`rows` events from `first` on, 250 ms apart, written as Firehose delivers them: Parquet
    with the Glue table's columns (INT96 timestamps) under events/site_id=/dt=, a few
    objects per day. Returns the bytes written."""
    assert firehose.columns is not None
    schema = pa.schema([pa.field(n, arrow_type(t)) for n, t in firehose.columns])
    with duckdb.connect() as db:
        table = db.sql(EVENTS_SQL, params=[first.isoformat(), rows]).to_arrow_table()
    for field in schema:  # columns the generator leaves empty (any added to the schema later)
        if field.name not in table.column_names:
            table = table.append_column(field.name, pa.nulls(len(table), field.type))
    days = table.column("ts").cast(pa.date32()).to_pylist()
    written = 0
    start = 0
    while start < len(days):
        day = days[start]
        end = start
        while end < len(days) and days[end] == day and end - start < ROWS_PER_OBJECT:
            end += 1
        part = table.slice(start, end - start).select(schema.names).cast(schema)
        sink = io.BytesIO()
        pq.write_table(
            part,
            sink,
            compression=firehose.compression.lower(),
            use_deprecated_int96_timestamps=True,
        )
        key = (
            f"events/site_id={site}/dt={day.isoformat()}/"
            f"{firehose.stream_name}-1-{day.isoformat()}-00-00-00-{uuid.uuid4()}"
            f"{firehose.extension}"
        )
        firehose.s3.put_object(Bucket=firehose.bucket, Key=key, Body=sink.getvalue())
        written += len(sink.getvalue())
        start = end
    return written


def fetch_export(answer: dict[str, Any], bucket: str) -> tuple[str, int]:
    """Every linked file through its presigned URL (moto serves presigned GETs under
    mock_aws, through `requests`), gunzipped and concatenated; (text, bytes fetched). Each
    link must be a SigV4 GET of an object under exports/ in `bucket`, valid 15 minutes."""
    parts = []
    for linked in answer["files"]:
        url = urlsplit(linked["url"])
        assert url.scheme == "https"
        assert url.hostname is not None and url.hostname.startswith(f"{bucket}.s3.")
        assert url.path.startswith("/exports/")
        signed = parse_qs(url.query)
        assert signed["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        assert signed["X-Amz-Expires"] == ["900"]
        reply = requests.get(linked["url"], timeout=120)
        assert reply.status_code == 200, reply.text[:300]
        assert len(reply.content) == linked["bytes"]
        parts.append(reply.content)
    fetched = sum(len(p) for p in parts)
    return gzip.decompress(b"".join(parts)).decode(), fetched


def local_export(s3: Any, bucket: str, data_dir: Path, query: dict[str, str]) -> str:
    """The same export from the local back end (its stats app, streaming CSV) over copies of
    the events objects in a local data directory."""
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix="events/"):
        for item in page.get("Contents", []):
            path = data_dir / item["Key"]  # named as the local sink names its files
            path = path.with_name(path.name.removesuffix(".parquet") + ".parquet")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    from fastapi.testclient import TestClient

    from beaconlake.handlers.stats import create_app

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BEACONLAKE_BACKEND", "local")
        mp.setenv("BEACONLAKE_DATA_DIR", str(data_dir))
        mp.setenv("BEACONLAKE_SITES", "example.com")
        mp.setenv("BEACONLAKE_FLUSH_SECONDS", "3600")
        wiring.reset()
        try:
            token, _ = create_key(wiring.ports().keys, ("example.com",), "local")
            client = TestClient(create_app(), headers={"authorization": f"Bearer {token}"})
            with client.stream("GET", "/api/v2/export/events", params=query) as reply:
                assert reply.status_code == 200, reply.read()[:300]
                text = b"".join(reply.iter_bytes()).decode()
        finally:
            wiring.reset()
    wiring.reset()
    return text


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def comparable(text: str) -> tuple[list[str], list[tuple[str, ...]]]:
    """(header, data rows sorted): the files of an UNLOAD are not ordered relative to each
    other. `props` is compared as the JSON object it is (the local export writes
    json.dumps' spacing and the stored key order, Athena json_format's compact form)."""
    header, *rows = csv_rows(text)
    at = header.index("props")
    out = []
    for row in rows:
        if row[at]:
            row[at] = json.dumps(json.loads(row[at]), sort_keys=True)
        out.append(tuple(row))
    return header, sorted(out)
