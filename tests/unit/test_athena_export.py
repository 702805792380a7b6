"""AthenaEngine.export with stand-in pyathena and S3 clients: the UNLOAD statement it sends,
the header object, the links (header first) and the row count, with and without Athena's
UpdateCount. The AWS-in-a-box suite runs the whole path (tests/aws_box/test_export.py)."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from beaconlake.adapters.aws import AthenaEngine
from beaconlake.adapters.aws_exports import HEADER_NAME, ExportTarget, unload_statement
from beaconlake.wiring import local_engine

SQL = "SELECT 'a,b' AS line FROM events WHERE site_id = ?"
# as Athena gets it: the site id written in (the tables project site_id as `injected`)
SENT = "SELECT 'a,b' AS line FROM events WHERE site_id = 'example.com'"


class Cursor:
    def __init__(self, log: list[tuple[str, Any, dict[str, Any]]]) -> None:
        self.log = log
        self.query_id = "q-1"
        self.description = [("n",)]

    def execute(self, sql: str, params: Any, paramstyle: str, **options: Any) -> Cursor:
        self.log.append((sql, params, options))
        return self

    def fetchall(self) -> list[tuple[int]]:
        return [(7,)]


class Athena:
    def __init__(self, update_count: int | None) -> None:
        self.update_count = update_count

    def get_query_results(self, **kw: Any) -> dict[str, Any]:
        reply: dict[str, Any] = {"ResultSet": {"Rows": []}}
        if self.update_count is not None:
            reply["UpdateCount"] = self.update_count
        return reply


class Connection:
    def __init__(self, update_count: int | None) -> None:
        self.log: list[tuple[str, Any, dict[str, Any]]] = []
        self.client = Athena(update_count)

    def cursor(self) -> Cursor:
        return Cursor(self.log)


class Paginator:
    def __init__(self, s3: S3) -> None:
        self.s3 = s3

    def paginate(self, Bucket: str, Prefix: str) -> list[dict[str, Any]]:
        keys = sorted(k for k in self.s3.objects if k.startswith(Prefix))
        return [{"Contents": [{"Key": k, "Size": len(self.s3.objects[k])} for k in keys]}]


class S3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes, **kw: Any) -> None:
        self.objects[Key] = Body

    def get_paginator(self, name: str) -> Paginator:
        return Paginator(self)

    def generate_presigned_url(self, op: str, Params: dict[str, str], ExpiresIn: int) -> str:
        return f"https://{Params['Bucket']}.s3.test/{Params['Key']}?X-Amz-Expires={ExpiresIn}"


def engine(update_count: int | None, bucket: str = "results") -> tuple[AthenaEngine, Any, S3]:
    connection, s3 = Connection(update_count), S3()
    athena = AthenaEngine("wg", "db", lambda **_: connection, exports=ExportTarget(bucket), s3=s3)
    return athena, connection, s3


def unloaded(s3: S3, connection: Connection) -> str:
    """Play Athena's part: write one data file under the prefix the UNLOAD names."""
    statement = connection.log[0][0]
    prefix = statement.split("TO 's3://results/", 1)[1].split("'", 1)[0]
    s3.objects[prefix + "20261207_0001.gz"] = gzip.compress(b"a,b\r\n")
    return prefix


def test_unload_to_a_fresh_prefix_then_links_with_the_header_first() -> None:
    athena, connection, s3 = engine(update_count=1)
    original = s3.get_paginator

    def paginator(name: str) -> Paginator:
        unloaded(s3, connection)
        return original(name)

    s3.get_paginator = paginator  # type: ignore[method-assign]
    before = datetime.now(UTC)
    files = athena.export(SQL, ["example.com"], ("ts", "name"))
    sql, params, options = connection.log[0]
    assert sql.startswith(f"UNLOAD ({SENT}) TO 's3://results/exports/")
    assert sql.endswith(
        "/' WITH (format = 'TEXTFILE', field_delimiter = ',', compression = 'GZIP')"
    )
    assert not params
    assert options["result_reuse_enable"] is False  # an UNLOAD is never answered from reuse
    assert len(connection.log) == 1  # UpdateCount given: no count(*)
    assert files.rows == 1
    header_key, data_key = [f.url.split(".s3.test/", 1)[1].split("?")[0] for f in files.files]
    assert header_key.endswith("/" + HEADER_NAME) and data_key.endswith("20261207_0001.gz")
    assert gzip.decompress(s3.objects[header_key]) == b"ts,name\r\n"
    assert all("X-Amz-Expires=900" in f.url for f in files.files)
    assert [f.size for f in files.files] == [len(s3.objects[header_key]), len(s3.objects[data_key])]
    assert (
        before + timedelta(seconds=899)
        <= files.expires_at
        <= datetime.now(UTC) + timedelta(seconds=900)
    )


@pytest.mark.parametrize("update_count", [None, 0])
def test_without_an_update_count_the_rows_are_counted(update_count: int | None) -> None:
    athena, connection, _ = engine(update_count)
    files = athena.export(SQL, ["example.com"], ("line",))
    assert files.rows == 7
    count_sql, params, _ = connection.log[1]
    assert count_sql == f"SELECT count(*) AS n FROM ({SENT})" and not params


def test_every_export_gets_its_own_prefix() -> None:
    athena, connection, _ = engine(update_count=1)
    athena.export(SQL, ["a"], ("line",))
    athena.export(SQL, ["a"], ("line",))
    first, second = (sql.split(" TO ", 1)[1] for sql, _, _ in connection.log)
    assert first != second


def test_without_a_results_bucket_exports_are_streamed_as_before() -> None:
    """A stack deployed before BEACONLAKE_RESULTS_BUCKET existed keeps its streamed export."""
    athena, connection, _ = engine(update_count=1, bucket="")
    assert athena.export(SQL, ["a"], ("line",)) is None
    assert connection.log == []


def test_the_location_is_one_quoted_literal() -> None:
    assert unload_statement("SELECT 1", "s3://b/exports/o'x/").endswith(
        "TO 's3://b/exports/o''x/' "
        "WITH (format = 'TEXTFILE', field_delimiter = ',', compression = 'GZIP')"
    )


def test_the_local_engine_streams_its_exports(tmp_path: Any) -> None:
    local = local_engine(tmp_path)
    try:
        assert local.export(SQL, ["a"], ("line",)) is None
    finally:
        local.close()
