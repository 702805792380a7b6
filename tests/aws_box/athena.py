"""An Athena stand-in: Athena's documented rules enforced, the statement run on DuckDB over
the S3 objects moto holds, the answer served through Athena's own API shapes.

Per query, in StartQueryExecution's order:
1. the statement must be valid for Athena: Trino grammar and `?` only inside WHERE
   (tests/support/athena_rules.py decides; a violation is a FAILED query with the reason);
2. ExecutionParameters are substituted as Athena does: one per `?`, in order, each parsed as
   one SQL literal (a parameter that is SQL text, not a literal, fails the query);
3. tables: the stack's Glue tables (events, the daily job's rollups, the imported tables:
   columns, types and S3 location come from Glue); any other table fails with
   TABLE_NOT_FOUND; SELECT / WITH, and UNLOAD (its inner SELECT is checked, billed and run;
   the rows go to S3: tests/aws_box/athena_unload.py); other kinds fail loudly until a
   later issue models them (INSERT, CTAS: see `run_kind`);
4. partition projection from the Glue table's parameters (enum sites, a date range up to NOW:
   Athena never reads other partitions, whatever S3 holds; an `injected` key must be pinned
   by static equalities, literals and not `?`, or the query fails with Athena's
   CONSTRAINT_VIOLATION: tests/support/athena_rules.injected_violations), partition pruning on the
   partition keys (the WHERE conjuncts that read only them), then
   the bytes a real scan reads: the compressed sizes of the column chunks of the referenced
   columns in the objects left (pyarrow's footer metadata); objects whose names start with
   `_` or `.` are not read, as in Hive and Athena;
5. the workgroup's BytesScannedCutoffPerQuery (from its configuration, i.e. the template's):
   beyond it the query fails with Athena's "Bytes scanned limit was exceeded";
6. the statement is transpiled with the project's own transpile (beaconlake.sqldialect) and run
   on DuckDB, the events view over copies of the objects in a `site_id=/dt=` tree, under a
   query timeout (DuckDB is interrupted; the query fails with "Query timeout");
7. the rows are kept as Athena returns them: strings, a header row first, ColumnInfo types;
   GetQueryResults serves at most 1,000 rows per page (MaxResults above is refused) with a
   NextToken, as pyathena pages through it.

Every query is recorded on `AthenaBox.queries` (statement, parameters, state, reason, bytes
scanned, bytes billed = max(10 MB, scanned) rounded up to the MB with MB = 2**20, objects
read), so a later issue can test a daily job and billed bytes through the same object. A
statement runs to its end inside StartQueryExecution, so the first GetQueryExecution already
sees its final state (pyathena then never sleeps between polls).

It is hooked into moto's Athena responses (start_query_execution, get_query_execution,
get_query_results, stop_query_execution): moto keeps speaking the wire protocol, and offers no
public hook to run a statement or report statistics."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from beaconlake.sqldialect import athena_to_duckdb
from tests.aws_box.athena_sql import (
    GlueTable,
    QueryFailure,
    StoredObject,
    athena_text,
    athena_type,
    billed_bytes,
    cte_names,
    partition_filter,
    referenced_columns,
    run_kind,
    substitute,
)
from tests.aws_box.athena_unload import Unload, check_empty, is_unload, parse_unload, write_unload
from tests.support.athena_rules import injected_violations

ACCOUNT = "123456789012"  # moto's default account
MAX_PAGE = 1000  # GetQueryResults' MaxResults limit
CUTOFF_REASON = "Bytes scanned limit was exceeded"
DEFAULT_TIMEOUT = 30 * 60.0  # Athena's default DML query timeout (service quota), seconds


_VERDICTS: dict[str, list[tuple[str, str]]] = {}


@dataclass
class QueryRecord:
    """One StartQueryExecution, as the tests inspect it."""

    query_id: str
    statement: str
    parameters: list[str]
    workgroup: str
    database: str | None
    state: str = "QUEUED"
    reason: str | None = None
    kind: str = ""  # "rules", "parameters", "table", "cutoff", "timeout", "engine": why it failed
    bytes_scanned: int = 0
    bytes_billed: int = 0
    objects_read: int = 0
    duckdb_sql: str = ""
    seconds: float = 0.0
    engine_seconds: float = 0.0  # of which DuckDB ran the statement
    pages_served: int = 0  # GetQueryResults calls answered
    submitted: float = field(default_factory=time.time)
    completed: float = 0.0
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)  # Athena's Rows
    column_info: list[dict[str, Any]] = field(default_factory=list, repr=False)
    output_location: str | None = None
    unload: Unload | None = None  # an UNLOAD: its target and format (tests/aws_box/athena_unload)
    update_count: int = 0  # rows an UNLOAD wrote

    @property
    def row_count(self) -> int:
        return max(0, len(self.rows) - 1)


@dataclass
class Plan:
    scans: list[tuple[GlueTable, str | None, set[str]]]  # table, partition predicate, columns
    duckdb_sql: str


class AthenaBox:
    def __init__(
        self,
        s3: Any,
        glue: Any,
        workgroups: Callable[[str], dict[str, Any] | None],
        cache_dir: Path,
        timeout_seconds: float = DEFAULT_TIMEOUT,
    ) -> None:
        from tests.support.athena_rules import athena_violations  # another engineer's module

        self.violations = athena_violations
        self.s3 = s3
        self.glue = glue
        self.workgroups = workgroups  # name → configuration, from moto's Athena back end
        self.cache_dir = cache_dir
        self.timeout_seconds = timeout_seconds
        self.queries: list[QueryRecord] = []
        self.by_id: dict[str, QueryRecord] = {}
        self._tables: dict[tuple[str, str], GlueTable] = {}
        self._copied: dict[tuple[str, str, str], StoredObject] = {}
        self._plans: dict[tuple[str, str], Plan] = {}
        self._lock = threading.Lock()
        self.learning = False
        self.unchecked: list[str] = []

    # ---- API ----------------------------------------------------------------------------------

    def start(
        self,
        statement: str,
        workgroup: str,
        database: str | None,
        parameters: list[str] | None,
    ) -> QueryRecord:
        record = QueryRecord(
            uuid.uuid4().hex, statement, list(parameters or []), workgroup, database
        )
        configuration = self.workgroups(workgroup) or {}
        output = configuration.get("ResultConfiguration", {}).get("OutputLocation")
        if output:
            record.output_location = f"{output.rstrip('/')}/{record.query_id}.csv"
        with self._lock:
            self.queries.append(record)
            self.by_id[record.query_id] = record
        started = time.perf_counter()
        try:
            self._run(record, configuration)
            record.state = "SUCCEEDED"
        except QueryFailure as failure:
            record.state, record.kind, record.reason = "FAILED", failure.kind, failure.reason
        record.seconds = time.perf_counter() - started
        record.completed = time.time()
        return record

    def stop(self, query_id: str) -> None:
        record = self.by_id[query_id]
        if record.state in ("QUEUED", "RUNNING"):
            record.state = "CANCELLED"

    def page(self, query_id: str, max_results: int | None, token: str | None) -> dict[str, Any]:
        """One GetQueryResults page: the header row first, at most MaxResults rows."""
        record = self.by_id[query_id]
        if record.state != "SUCCEEDED":
            raise QueryFailure("api", f"Query has not yet finished. Current state: {record.state}")
        size = MAX_PAGE if max_results is None else max_results
        if not 1 <= size <= MAX_PAGE:
            raise QueryFailure("api", f"MaxResults must be between 1 and {MAX_PAGE}")
        offset = 0
        if token:
            owner, _, raw = base64.b64decode(token).decode().partition(":")
            if owner != query_id:
                raise QueryFailure("api", "NextToken does not belong to this query")
            offset = int(raw)
        rows = record.rows[offset : offset + size]
        record.pages_served += 1
        reply: dict[str, Any] = {
            "UpdateCount": record.update_count,
            "ResultSet": {
                "Rows": rows,
                "ResultSetMetadata": {"ColumnInfo": record.column_info},
            },
        }
        if offset + size < len(record.rows):
            reply["NextToken"] = base64.b64encode(f"{query_id}:{offset + size}".encode()).decode()
        return reply

    def execution(self, query_id: str) -> dict[str, Any]:
        record = self.by_id[query_id]
        status: dict[str, Any] = {
            "State": record.state,
            "SubmissionDateTime": record.submitted,
            "CompletionDateTime": record.completed,
        }
        if record.reason:
            status["StateChangeReason"] = record.reason
        reply: dict[str, Any] = {
            "QueryExecutionId": query_id,
            "Query": record.statement,
            "StatementType": "DML",
            "ResultConfiguration": {"OutputLocation": record.output_location}
            if record.output_location
            else {},
            "QueryExecutionContext": {"Database": record.database, "Catalog": "awsdatacatalog"},
            "Status": status,
            "Statistics": {
                "EngineExecutionTimeInMillis": int(record.seconds * 1000),
                "DataScannedInBytes": record.bytes_scanned,
                "TotalExecutionTimeInMillis": int(record.seconds * 1000),
                "QueryQueueTimeInMillis": 0,
                "ServicePreProcessingTimeInMillis": 0,
                "QueryPlanningTimeInMillis": 0,
                "ServiceProcessingTimeInMillis": 0,
                "ResultReuseInformation": {"ReusedPreviousResult": False},
            },
            "WorkGroup": record.workgroup,
            "EngineVersion": {
                "SelectedEngineVersion": "Athena engine version 3",
                "EffectiveEngineVersion": "Athena engine version 3",
            },
        }
        if record.parameters:
            reply["ExecutionParameters"] = record.parameters
        return reply

    # ---- running a statement ------------------------------------------------------------------

    def rule_violations(self, statement: str) -> list[tuple[str, str]]:
        """athena_violations of one statement, remembered for the session: its Trino grammar
        check starts a Node process (about a second), and the stats code sends the same
        statement texts again and again with other parameters. While `learning`, statements
        are only noted (they run unchecked) for one batched check by `prime`."""
        if statement in _VERDICTS:
            return _VERDICTS[statement]
        if self.learning:
            self.unchecked.append(statement)
            return []
        _VERDICTS[statement] = self.violations([statement])
        return _VERDICTS[statement]

    @contextmanager
    def learn(self) -> Iterator[None]:
        """Run statements without the rules, noting them, then check them all in one batch
        (one Node process): a warm-up pass of a module's requests, whose answers are thrown
        away, makes the checks of its tests cost nothing. The records of the warm-up's queries
        are dropped, so per-query figures count the real requests only."""
        mark = len(self.queries)
        self.learning = True
        try:
            yield
        finally:
            self.learning = False
            del self.queries[mark:]
        self.prime(self.unchecked)
        self.unchecked = []

    def prime(self, statements: Sequence[str]) -> None:
        """Check statements in one batch and remember the verdicts."""
        new = sorted({s for s in statements if s not in _VERDICTS})
        found: dict[str, list[tuple[str, str]]] = {s: [] for s in new}
        for statement, reason in self.violations(new) if new else []:
            found[statement].append((statement, reason))
        _VERDICTS.update(found)

    def table(self, database: str, name: str) -> GlueTable:
        key = (database, name)
        if key not in self._tables:
            self._tables[key] = GlueTable.from_glue(self.glue, database, name)
        return self._tables[key]

    def _run(self, record: QueryRecord, configuration: dict[str, Any]) -> None:
        record.state = "RUNNING"
        record.unload = parse_unload(record.statement) if is_unload(record.statement) else None
        select = record.unload.select if record.unload else record.statement
        violations = self.rule_violations(select)
        if violations:
            raise QueryFailure("rules", "; ".join(reason for _, reason in violations))
        sql = substitute(select, record.parameters)
        plan = self.plan(sql, record.database or "default")
        # an injected partition key needs static equalities in the statement as sent
        injected = {t.name: t.injected_keys for t, _, _ in plan.scans if t.injected_keys}
        if injected and (reasons := injected_violations(select, injected)):
            raise QueryFailure("rules", "; ".join(dict.fromkeys(reasons)))
        files: dict[tuple[str, str], list[StoredObject]] = {}
        for table, where, columns in plan.scans:
            stored = self._objects(table, where)
            record.objects_read += len(stored)
            # the compressed bytes of the referenced columns' chunks, in every row group
            record.bytes_scanned += sum(o.sizes.get(c, 0) for o in stored for c in columns)
            files[(table.database, table.name)] = stored
        cutoff = configuration.get("BytesScannedCutoffPerQuery")
        if cutoff is not None and record.bytes_scanned > cutoff:
            record.bytes_scanned = int(cutoff)  # Athena stops reading there, and bills it
            record.bytes_billed = billed_bytes(record.bytes_scanned)
            raise QueryFailure("cutoff", CUTOFF_REASON)
        record.bytes_billed = billed_bytes(record.bytes_scanned) if plan.scans else 0
        record.duckdb_sql = plan.duckdb_sql
        if record.unload:
            check_empty(self.s3, record.unload)
        self._execute(record, files)

    def plan(self, sql: str, database: str) -> Plan:
        """What a statement (parameters substituted) reads and its DuckDB text, remembered:
        parsing and transpiling cost more than running it at this size, and a module's
        warm-up pass sends every statement twice."""
        key = (sql, database)
        if key in self._plans:
            return self._plans[key]
        try:
            tree = sqlglot.parse_one(sql, read="athena")
        except sqlglot.errors.ParseError as exc:
            raise QueryFailure("rules", f"SYNTAX_ERROR: {exc}") from exc
        run_kind(tree)
        ctes = cte_names(tree)
        tables: dict[tuple[str, str], GlueTable] = {}
        for source in tree.find_all(exp.Table):
            name = source.name.lower()
            if name in ctes and not source.db:
                continue
            db = (source.db or database).lower()
            try:
                tables[(db, name)] = self.table(db, name)
            except self.glue.exceptions.EntityNotFoundException:
                raise QueryFailure(
                    "table", f"TABLE_NOT_FOUND: Table 'awsdatacatalog.{db}.{name}' does not exist"
                ) from None
        scans = [
            (t, partition_filter(tree, t), referenced_columns(tree, t)) for t in tables.values()
        ]
        self._plans[key] = Plan(scans, athena_to_duckdb(sql))
        return self._plans[key]

    def _objects(self, table: GlueTable, where: str | None) -> list[StoredObject]:
        """The table's objects in the partitions the predicate keeps."""
        listed = self._listing(table.bucket, table.prefix)
        names = [n for n, _ in table.partition_keys]
        by_partition: dict[tuple[str, ...], list[tuple[str, str]]] = {}
        for key, etag in listed:
            parts = key[len(table.prefix) :].split("/")
            if len(parts) != len(names) + 1 or parts[-1].startswith(("_", ".")) or not parts[-1]:
                continue
            values = []
            for name, part in zip(names, parts, strict=False):
                if not part.startswith(f"{name}="):
                    break
                values.append(part.split("=", 1)[1])
            else:
                if table.projected(tuple(values)):
                    by_partition.setdefault(tuple(values), []).append((key, etag))
        kept = list(by_partition)
        if where is not None and by_partition:
            kept = self._pruned(by_partition, names, where)
        chosen = sorted(k for values in kept for k in by_partition[values])
        return [self._stored(table, key, etag) for key, etag in chosen]

    @staticmethod
    def _pruned(
        partitions: dict[tuple[str, ...], Any], names: list[str], where: str
    ) -> list[tuple[str, ...]]:
        """The partitions the predicate keeps (all, if DuckDB cannot evaluate it alone)."""
        try:
            with duckdb.connect() as db:
                rows = ", ".join(
                    "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"
                    for values in partitions
                )
                columns = ", ".join(f'"{n}"' for n in names)
                return [
                    tuple(values)
                    for values in db.execute(
                        f"SELECT * FROM (VALUES {rows}) AS p({columns}) WHERE {where}"
                    ).fetchall()
                ]
        except duckdb.Error:
            return list(partitions)

    def _listing(self, bucket: str, prefix: str) -> list[tuple[str, str]]:
        """(key, ETag) of the bucket's current objects under the prefix, read from moto's S3
        back end: ListObjectsV2 through the wire costs ~0.4 s per query at 200 objects (moto
        serializes, botocore parses every date), more than running the query (moto internals,
        for that reason)."""
        from moto.s3.models import FakeKey, s3_backends

        backend = s3_backends[ACCOUNT]["aws"]
        found = []
        for name, key in backend.get_bucket(bucket).keys.items():
            # the current version only; a delete marker (FakeDeleteMarker) hides the object
            if name.startswith(prefix) and isinstance(key, FakeKey):
                found.append((name, key.etag))
        return sorted(found)

    def _stored(self, table: GlueTable, key: str, etag: str) -> StoredObject:
        """The object copied into the cache at its key (so the path carries site_id=/dt=), with
        its column chunks' compressed sizes; once per version of the object."""
        cache_key = (table.bucket, key, etag)
        with self._lock:
            if cache_key not in self._copied:
                path = self.cache_dir / table.bucket / etag.strip('"') / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(self.s3.get_object(Bucket=table.bucket, Key=key)["Body"].read())
                sizes: dict[str, int] = {}
                metadata = pq.read_metadata(path)
                names = tuple(metadata.schema.to_arrow_schema().names)
                for g in range(metadata.num_row_groups):
                    group = metadata.row_group(g)
                    for c in range(group.num_columns):
                        chunk = group.column(c)
                        column = chunk.path_in_schema.split(".")[0].lower()
                        sizes[column] = sizes.get(column, 0) + chunk.total_compressed_size
                self._copied[cache_key] = StoredObject(key, path, sizes, names)
            return self._copied[cache_key]

    def _execute(
        self, record: QueryRecord, files: dict[tuple[str, str], list[StoredObject]]
    ) -> None:
        db = duckdb.connect(config={"threads": 1})
        timer = threading.Timer(self.timeout_seconds, db.interrupt)
        try:
            for (database, name), paths in files.items():
                view = self.table(database, name).view_sql(paths)
                db.execute(f'CREATE SCHEMA IF NOT EXISTS "{database}"')
                db.execute(f'CREATE VIEW "{database}"."{name}" AS {view}')
                db.execute(f'CREATE VIEW "{name}" AS SELECT * FROM "{database}"."{name}"')
            timer.start()
            started = time.perf_counter()
            try:
                result = db.execute(record.duckdb_sql)
                if record.unload:  # the rows go to S3, not to GetQueryResults
                    record.update_count = write_unload(self.s3, record.unload, result)
                    record.engine_seconds = time.perf_counter() - started
                    return
                names = [d[0] for d in result.description or ()]
                types = [str(d[1]) for d in result.description or ()]
                values = result.fetchall()
            except duckdb.InterruptException as exc:
                raise QueryFailure("timeout", "Query timeout") from exc
            except duckdb.Error as exc:
                raise QueryFailure(
                    "engine", f"the stand-in's DuckDB could not run it: {exc}"
                ) from exc
            record.engine_seconds = time.perf_counter() - started
            if record.engine_seconds > self.timeout_seconds:
                raise QueryFailure("timeout", "Query timeout")
        finally:
            timer.cancel()
            db.close()
        info = []
        for name, duck in zip(names, types, strict=True):
            kind, precision, scale = athena_type(duck)
            info.append(
                {
                    "CatalogName": "hive",
                    "SchemaName": "",
                    "TableName": "",
                    "Name": name,
                    "Label": name,
                    "Type": kind,
                    "Precision": precision,
                    "Scale": scale,
                    "Nullable": "UNKNOWN",
                    "CaseSensitive": kind == "varchar",
                }
            )
        header = {"Data": [{"VarCharValue": n} for n in names]}
        body = [
            {"Data": [{} if v is None else {"VarCharValue": athena_text(v)} for v in row]}
            for row in values
        ]
        record.column_info, record.rows = info, [header, *body]


# ---- hooking into moto ---------------------------------------------------------------------------


def install(monkeypatch: Any, box: AthenaBox) -> None:
    """Serve moto's Athena StartQueryExecution, GetQueryExecution, GetQueryResults and
    StopQueryExecution from the box. moto's own models do not run statements, report no
    statistics, fail no query and do not page, and have no public hook for any of it: the
    response class's methods are replaced (moto internals, for that reason)."""
    import json

    from moto.athena.responses import AthenaResponse

    def start_query_execution(self: Any) -> Any:
        workgroup = self._get_param("WorkGroup") or "primary"
        if not self.athena_backend.get_work_group(workgroup):
            return self.error("WorkGroup does not exist", 400)
        context = self._get_param("QueryExecutionContext") or {}
        record = box.start(
            self._get_param("QueryString"),
            workgroup,
            context.get("Database"),
            self._get_param("ExecutionParameters"),
        )
        return json.dumps({"QueryExecutionId": record.query_id})

    def get_query_execution(self: Any) -> Any:
        query_id = self._get_param("QueryExecutionId")
        if query_id not in box.by_id:
            return self.error(f"QueryExecution {query_id} was not found", 400)
        return json.dumps({"QueryExecution": box.execution(query_id)})

    def get_query_results(self: Any) -> Any:
        query_id = self._get_param("QueryExecutionId")
        if query_id not in box.by_id:
            return self.error(f"QueryExecution {query_id} was not found", 400)
        try:
            page = box.page(query_id, self._get_param("MaxResults"), self._get_param("NextToken"))
        except QueryFailure as failure:
            return self.error(failure.reason, 400)
        return json.dumps(page)

    def stop_query_execution(self: Any) -> Any:
        box.stop(self._get_param("QueryExecutionId"))
        return json.dumps({})

    for name, method in {
        "start_query_execution": start_query_execution,
        "get_query_execution": get_query_execution,
        "get_query_results": get_query_results,
        "stop_query_execution": stop_query_execution,
    }.items():
        monkeypatch.setattr(AthenaResponse, name, method)
