"""AWS adapters: Firehose sink, SSM salt store, DynamoDB key store, Athena query engine.

Every external call has a connect/read timeout and a bounded number of attempts, so a
request is answered (or refused with a clear 503) instead of hanging.
"""

from __future__ import annotations

import json
import random
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache, cached_property
from typing import Any

from aws_lambda_powertools import Logger
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from beaconlake import telemetry
from beaconlake.adapters.aws_exports import ExportTarget, unload_statement
from beaconlake.adapters.aws_site_literals import inline_site_ids
from beaconlake.adapters.file_salts import days_to_keep
from beaconlake.model import Event
from beaconlake.ports import (
    ExportFiles,
    QueryFailed,
    QueryTooLarge,
    Rollup,
    RollupState,
    SinkUnavailable,
)

logger = Logger(service="beaconlake-aws")

CLIENT_CONFIG = Config(
    connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"}
)
# Athena's StateChangeReason when the workgroup's BytesScannedCutoffPerQuery stops a query
CUTOFF_MESSAGE = "Bytes scanned limit was exceeded"


@cache
def _session() -> Any:
    """One botocore session per process, as boto3's default session: a second one would load
    the endpoint data again."""
    from botocore.session import get_session

    return get_session()


def new_client(service: str) -> Any:
    """A botocore client with the adapters' timeouts and retries: what `boto3.client` builds,
    without importing boto3 (its resource layer and s3transfer are ~15 ms of the collector's
    cold start, and the collector needs only clients)."""
    return _session().create_client(service, config=CLIENT_CONFIG)


# PutRecordBatch limits: 500 records and 4 MiB per call.
MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024


def firehose_batches(records: Sequence[bytes]) -> Iterator[list[bytes]]:
    """Split records into PutRecordBatch-sized batches."""
    batch: list[bytes] = []
    size = 0
    for record in records:
        if batch and (len(batch) == MAX_BATCH_RECORDS or size + len(record) > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += len(record)
    if batch:
        yield batch


class FirehoseSink:
    """PutRecordBatch of JSON lines. Only the records Firehose reports as failed are sent
    again, with exponential backoff and jitter; what still fails after the last attempt is
    counted (`EventsRejected`), logged without content, and the request gets a 503."""

    def __init__(
        self,
        stream: str,
        client: Any = None,
        attempts: int = 4,
        base_delay: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.stream = stream
        self._client = client
        self.attempts = attempts
        self.base_delay = base_delay
        self.sleep = sleep

    @cached_property
    def client(self) -> Any:
        """Created on first use: a beacon that is dropped never needs it."""
        return self._client or new_client("firehose")

    def problem(self) -> str | None:
        return None if self.stream else "no Firehose stream is set (BEACONLAKE_FIREHOSE_STREAM)"

    def put(self, events: Sequence[Event]) -> None:
        records = [
            (json.dumps(e.as_json_record(), separators=(",", ":")) + "\n").encode() for e in events
        ]
        failed = 0
        for batch in firehose_batches(records):
            failed += len(self._send(batch))
        if failed:
            telemetry.count("EventsRejected", failed, "collector")
            logger.error("firehose rejected events after retries", extra={"count": failed})
            raise SinkUnavailable(f"{failed} events were not accepted by Firehose")

    def _send(self, batch: list[bytes]) -> list[bytes]:
        """Send a batch; return the records still failing after the last attempt."""
        pending = batch
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self.base_delay * 2**attempt * (0.5 + random.random()))
                telemetry.count("FirehoseRetries", len(pending), "collector")
            try:
                reply = self.client.put_record_batch(
                    DeliveryStreamName=self.stream, Records=[{"Data": r} for r in pending]
                )
            except (ClientError, BotoCoreError) as exc:
                logger.warning("firehose call failed", extra={"error": type(exc).__name__})
                continue
            if not reply.get("FailedPutCount"):
                return []
            pending = [
                record
                for record, result in zip(pending, reply["RequestResponses"], strict=True)
                if result.get("ErrorCode")
            ]
        return pending

    def flush(self) -> None:
        """Nothing is buffered in the function: Firehose buffers."""

    def close(self) -> None:
        """Nothing to release."""


class SecretParameters:
    """Random 256-bit secrets as SecureString parameters `<prefix>/<key>` in SSM Parameter
    Store, created on first use. `Overwrite=False` makes concurrent creators agree: the
    first value stored wins and everyone reads it back. Secrets are cached in the container,
    so a secret seen once is still served while SSM cannot be reached."""

    def __init__(self, prefix: str, description: str, what: str, client: Any = None) -> None:
        self.prefix = prefix.rstrip("/")
        self.description = description
        self.what = what  # for errors: "the salt store", ...
        self._client = client
        self._cache: dict[str, bytes] = {}

    @cached_property
    def client(self) -> Any:
        """Created on first use: a beacon that is dropped never needs a salt."""
        return self._client or new_client("ssm")

    def secret(self, key: str) -> bytes:
        """The cached or stored secret of `key`; SinkUnavailable (a 503) if SSM is needed and
        cannot be reached."""
        if key not in self._cache:
            try:
                self._cache[key] = self.get_or_create(key)
            except (ClientError, BotoCoreError) as exc:
                logger.error(f"{self.what} cannot be reached", extra={"error": type(exc).__name__})
                raise SinkUnavailable(f"{self.what} cannot be reached") from exc
        return self._cache[key]

    def keep_cached(self, keys: set[str]) -> None:
        """Forget the cached secrets of every other key."""
        self._cache = {k: v for k, v in self._cache.items() if k in keys}

    def name(self, key: str) -> str:
        return f"{self.prefix}/{key}"

    def get_or_create(self, key: str) -> bytes:
        """The secret of `key`; raises ClientError/BotoCoreError if SSM cannot be reached."""
        stored = self._read(key)
        if stored is not None:
            return stored
        try:
            self.client.put_parameter(
                Name=self.name(key),
                Value=secrets.token_hex(32),
                Type="SecureString",
                Overwrite=False,
                Description=self.description,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ParameterAlreadyExists":
                raise
        stored = self._read(key)
        if stored is None:
            raise SinkUnavailable("a secret could not be stored in SSM")
        return stored

    def _read(self, key: str) -> bytes | None:
        try:
            reply = self.client.get_parameter(Name=self.name(key), WithDecryption=True)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ParameterNotFound":
                return None
            raise
        return bytes.fromhex(reply["Parameter"]["Value"])

    def keys(self) -> list[str]:
        found: list[str] = []
        for page in self.client.get_paginator("get_parameters_by_path").paginate(
            Path=self.prefix, Recursive=False
        ):
            found.extend(p["Name"].rsplit("/", 1)[-1] for p in page["Parameters"])
        return sorted(found)

    def delete(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), 10):  # DeleteParameters takes 10 names at most
            self.client.delete_parameters(Names=[self.name(k) for k in keys[start : start + 10]])


class ParameterSaltStore:
    """Daily salts in SSM (`<prefix>/<YYYY-MM-DD>`), cached in the container.

    Only `rotate` creates a salt (the rotation function: daily, ahead of midnight, and once
    at deploy). `salt_for` only reads, so the public-facing collector needs no right to
    write salts: a day whose salt is missing (the rotation has not run) is refused with a
    503, logged and counted (`SaltMissing`), because inventing a salt would split one
    visitor into several. If SSM cannot be reached, a cached salt of the day is used; a day
    never seen is a 503 then as well."""

    def __init__(self, prefix: str, client: Any = None) -> None:
        self.parameters = SecretParameters(
            prefix, "Beaconlake daily visitor-id salt; deleted after 48 h", "the salt store", client
        )
        self._cache: dict[str, bytes] = {}

    def salt_for(self, day: str) -> bytes:
        keep = days_to_keep(datetime.now(UTC)) | {day}
        self._cache = {d: salt for d, salt in self._cache.items() if d in keep}
        if day not in self._cache:
            self._cache[day] = self._stored(day)
        return self._cache[day]

    def _stored(self, day: str) -> bytes:
        """The stored salt of `day`; SinkUnavailable if it is missing or SSM is unreachable."""
        error: Exception
        try:
            reply = self.parameters.client.get_parameter(
                Name=self.parameters.name(day), WithDecryption=True
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ParameterNotFound":
                telemetry.count("SaltMissing", 1, "collector")
                logger.error(
                    "the day's salt is missing: the rotate_salt function has not created it",
                    extra={"day": day},
                )
                raise SinkUnavailable(f"there is no salt for {day} yet") from None
            error = exc
        except BotoCoreError as exc:
            error = exc
        else:
            return bytes.fromhex(reply["Parameter"]["Value"])
        logger.error("the salt store cannot be reached", extra={"error": type(error).__name__})
        raise SinkUnavailable("the salt store cannot be reached") from error

    def create(self, day: str) -> bytes:
        """The salt of `day`, created if missing (never replaced: SSM's Overwrite=False)."""
        salt = self.parameters.get_or_create(day)
        self._cache[day] = salt
        return salt

    def rotate(self, now: datetime) -> None:
        """Create the salt of `now`'s day if missing and delete those older than 48 h."""
        keep = days_to_keep(now)
        self.create(now.date().isoformat())
        stale = [day for day in self.days() if day not in keep]
        self.parameters.delete(stale)
        self._cache = {d: salt for d, salt in self._cache.items() if d in keep}
        logger.info("salts rotated", extra={"deleted": len(stale), "kept": sorted(keep)})

    def days(self) -> list[str]:
        return self.parameters.keys()


def athena_literal(value: Any) -> str:
    """One Athena execution parameter: the SQL literal of a value, quotes escaped.
    Athena parses it as a literal, never as SQL text, so no value can change the query."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


class AthenaEngine:
    """Runs the Athena-dialect statements as they are written, with execution parameters.

    The workgroup enforces the results location and the bytes-scanned cutoff; a query that
    fails, is cancelled by the cutoff, or exceeds `timeout_seconds` raises QueryFailed. With
    `result_reuse_minutes`, Athena answers a statement it ran with the same parameters within
    that many minutes from its stored result, scanning (and billing) nothing."""

    # the imported tables are Glue tables of the stack (infra_cdk/catalog.py)
    reads_imported = True

    def __init__(
        self,
        workgroup: str,
        database: str,
        connect: Callable[..., Any] | None = None,
        timeout_seconds: float = 25.0,
        max_concurrency: int = 5,
        result_reuse_minutes: int = 0,
        exports: ExportTarget | None = None,
        s3: Any = None,
        rollup_state: Callable[[str], RollupState | None] | None = None,
    ) -> None:
        if connect is None:
            from pyathena import connect as pyathena_connect

            connect = pyathena_connect
        self._connection = connect(
            work_group=workgroup,
            schema_name=database,
            config=CLIENT_CONFIG,
            poll_interval=0.25,
        )
        self.workgroup = workgroup
        self.result_reuse_minutes = result_reuse_minutes
        self.timeout_seconds = timeout_seconds
        self.max_concurrency = max_concurrency
        self._runner = ThreadPoolExecutor(max_workers=max_concurrency)
        self.exports = exports or ExportTarget("")
        self._s3 = s3
        # what the daily job covers per site (adapters.aws_days.RollupStateReader), or None
        self.rollup_state = rollup_state

    @cached_property
    def s3(self) -> Any:
        """For exports: SigV4 presigned links on the region's own endpoint."""
        region, style = _session().get_config_variable("region"), {"addressing_style": "virtual"}
        config = CLIENT_CONFIG.merge(Config(signature_version="s3v4", s3=style))  # type: ignore[arg-type]
        endpoint = f"https://s3.{region}.amazonaws.com" if region else None
        return self._s3 or _session().create_client("s3", config=config, endpoint_url=endpoint)

    def problem(self) -> str | None:
        return (
            None if self.workgroup else "no Athena workgroup is set (BEACONLAKE_ATHENA_WORKGROUP)"
        )

    def _execute(self, sql: str, params: Sequence[Any], reuse_results: bool = True) -> Any:
        """Start the query and wait for it at most `timeout_seconds`, then cancel it."""
        from pyathena.error import Error as AthenaError

        cursor = self._connection.cursor()
        reuse = self.result_reuse_minutes if reuse_results else 0
        sql, params = inline_site_ids(sql, params)  # the injected site_id projection's rule
        running = self._runner.submit(
            cursor.execute,
            sql,
            [athena_literal(p) for p in params] or None,
            paramstyle="qmark",
            result_reuse_enable=reuse > 0,
            result_reuse_minutes=reuse or None,
        )
        try:
            running.result(timeout=self.timeout_seconds)
        except FutureTimeout:
            if cursor.query_id:
                cursor.cancel()
            logger.warning("athena query cancelled after its time budget")
            raise QueryFailed(
                f"the query took longer than {self.timeout_seconds:.0f} s and was cancelled"
            ) from None
        except AthenaError as exc:
            if CUTOFF_MESSAGE in str(exc):
                raise QueryTooLarge(
                    "the query would scan more data than this workgroup allows"
                ) from exc
            raise QueryFailed(f"Athena could not run the query: {type(exc).__name__}") from exc
        return cursor

    def session_rollup(self, site_id: str, first: date, last: date) -> Rollup | None:
        """The days of first..last the daily job has rolled up and that are current (ports.
        RollupState.covers); statements read events for the others, today among them. With
        days whose raw events retention deleted among them, their first and last too
        (Rollup.raw_expired): the rollups answer those days even beside a stale day, up to
        the first stale day after them (a stale day among them was erased, its rollups with
        it), as nothing else can."""
        state = self.rollup_state(site_id) if self.rollup_state is not None else None
        if state is None:
            return None
        covered = state.covers(first, last)
        expired = sorted(d for d in state.raw_expired if first <= d <= last)
        if not expired:
            return covered
        if covered is None:
            later = [d for d in state.stale if expired[-1] < d <= last]
            end = min(later) - timedelta(days=1) if later else min(last, state.through)
            covered = Rollup(max(first, min(state.first, expired[0])), end)
        return Rollup(covered.first, covered.last, (expired[0], expired[-1]))

    def unload(self, sql: str, params: Sequence[Any], location: str, file_format: str) -> int:
        """Run `sql` as an UNLOAD of its rows to `location` (an empty S3 prefix) in
        `file_format` (Parquet: Snappy-compressed, as Firehose writes it); the rows written
        (GetQueryResults' UpdateCount)."""
        from beaconlake.sqldialect import string_literal  # sqlglot: not at the collector's start

        compression = "SNAPPY" if file_format == "PARQUET" else "GZIP"
        statement = (
            f"UNLOAD ({sql}) TO {string_literal(location)} "
            f"WITH (format = '{file_format}', compression = '{compression}')"
        )
        cursor = self._execute(statement, params, reuse_results=False)
        try:
            return self._rows_written(cursor)
        except (ClientError, BotoCoreError) as exc:
            raise QueryFailed(f"the UNLOAD's row count is unknown: {type(exc).__name__}") from exc

    def _rows_written(self, cursor: Any) -> int:
        """GetQueryResults' UpdateCount of a finished UNLOAD (0 when it reports none)."""
        athena: Any = self._connection.client
        reply = athena.get_query_results(QueryExecutionId=cursor.query_id, MaxResults=1)
        return int(reply.get("UpdateCount") or 0)

    def query(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        cursor = self._execute(sql, params)
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def query_many(
        self, statements: Sequence[tuple[str, Sequence[Any]]]
    ) -> list[list[dict[str, Any]]]:
        if len(statements) <= 1:
            return [self.query(sql, params) for sql, params in statements]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(statements))) as pool:
            return list(pool.map(lambda st: self.query(st[0], st[1]), statements))

    def stream(
        self, sql: str, params: Sequence[Any], batch_rows: int = 10_000
    ) -> Iterator[list[dict[str, Any]]]:
        cursor = self._execute(sql, params)
        names = [d[0] for d in cursor.description or ()]
        while rows := cursor.fetchmany(batch_rows):
            yield [dict(zip(names, row, strict=True)) for row in rows]

    def export(self, sql: str, params: Sequence[Any], header: Sequence[str]) -> ExportFiles | None:
        """UNLOAD to a fresh prefix of the results bucket, then links to the files
        (beaconlake.adapters.aws_exports); None (streamed, as before) without a bucket. The
        row count is GetQueryResults' UpdateCount; if none (or 0), a count(*) of the SELECT."""
        if not self.exports.bucket:
            return None
        prefix = self.exports.new_prefix()
        statement = unload_statement(sql, self.exports.location(prefix))
        cursor = self._execute(statement, params, reuse_results=False)
        try:
            rows = self._rows_written(cursor)
            if not rows:  # none, or 0 as for a SELECT: count them
                rows = self.query(f"SELECT count(*) AS n FROM ({sql})", params)[0]["n"]
            return self.exports.finish(self.s3, prefix, header, int(rows))
        except (ClientError, BotoCoreError) as exc:
            logger.error("export files could not be listed", extra={"error": type(exc).__name__})
            raise QueryFailed(f"the export could not be linked: {type(exc).__name__}") from exc
