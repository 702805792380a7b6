"""ClickHouse side of figure 4: chDB (ClickHouse in process), the same rows, the same SQL.

The events go into a MergeTree table ordered as Plausible orders its events table (site, day,
visitor, time), partitioned by month, its low-cardinality columns LowCardinality, as
Plausible's are; the rollup tables (session_rollup, page_rollup), when measured, are the
files Beaconlake's daily job wrote, in MergeTree tables ordered by (site_id, dt, visitor_id),
as Plausible orders its sessions table.
The events also get a minmax skip index on `dt`, the day partitions Beaconlake and Athena
skip. Every statement is the Athena text the stats service builds, transpiled with sqlglot's
`clickhouse` dialect; `HAND_TUNINGS` lists the rewrites applied on top of it, and why.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from beaconlake.adapters.duckdb_engine import events_view_sql
from beaconlake.adapters.parquet_sink import ROLLUP_DIR
from beaconlake.ports import Rollup
from beaconlake.schema import COLUMNS, PARTITIONS

THREADS = 2  # DuckDB's (bench.queries: threads=2)
SETTINGS = {
    "max_threads": str(THREADS),
    "session_timezone": "'UTC'",
    # standard SQL where ClickHouse's defaults differ: outer joins give NULL where no row
    # matches; a column's name means the column, not a SELECT alias of the same name; the
    # common type of UNION ALL branches is a number type, not a Variant
    "join_use_nulls": "1",
    "prefer_column_name_to_alias": "1",
    "use_variant_as_common_type": "0",
}
CH_TYPES = {
    "timestamp": "DateTime64(3, 'UTC')",
    "string": "Nullable(String)",
    "bigint": "Nullable(Int64)",
    "int": "Nullable(Int32)",
    "boolean": "Nullable(Bool)",
    "map<string,string>": "Map(String, Nullable(String))",
    "decimal(18,4)": "Nullable(Decimal(18, 4))",
}
NOT_NULL = {"ts": "DateTime64(3, 'UTC')", "name": "String", "visitor_id": "Int64"}
NOT_NULL |= {"site_id": "String", "dt": "String"}
# LowCardinality, as in Plausible's events table
LOW_CARDINALITY = ("browser", "browser_version", "os", "os_version", "device", "country")
EVENTS_ORDER = "site_id, toDate(ts), visitor_id, ts"  # Plausible's: site, day, visitor, time
# the day partitions Beaconlake and Athena skip by `dt`, as a skip index (HAND_TUNINGS[0])
DT_INDEX = "INDEX dt_minmax dt TYPE minmax GRANULARITY 1"
ROLLUP_ORDER = "site_id, dt, visitor_id"
ROLLUP_TABLES = ("session_rollup", "page_rollup")
# what is adapted beyond sqlglot's transpile: (statements, what, why), for the doc's table
HAND_TUNINGS = (
    (
        "every statement (each carries its `dt` range)",
        "a minmax skip index on the events' `dt` (the table, not the SQL)",
        "Beaconlake and Athena skip whole day partitions by `dt`; the sort key has "
        "`toDate(ts)`, not `dt`, so without it the live-day part of a statement with rollups "
        "(`dt NOT BETWEEN …`, no rows) read every granule of the events",
    ),
    (
        "every statement with min_by / max_by (sessions: entry page, source, referrer, UTM)",
        "`argMin(x, y)` → `argMin(tuple(x), y).1` (and argMax)",
        "ClickHouse's argMin skips rows whose x is NULL; DuckDB's and Trino's min_by do not "
        "(a session's first referrer is NULL when it has none): the tuple keeps the NULL",
    ),
    (
        "statements reading a CTE more than once (the funnel's steps, sessions joined back)",
        "`WITH x AS (…)` → `WITH x AS MATERIALIZED (…)`; CTEs nothing reads dropped",
        "ClickHouse inlines a CTE at each reference, so the funnel's event window ran once "
        "per step and per count; DuckDB materialises a CTE read more than once (and skips "
        "one nothing reads, which ClickHouse would materialise)",
    ),
)


def column_type(name: str, glue_type: str) -> str:
    if name in NOT_NULL:
        return NOT_NULL[name]
    typ = CH_TYPES[glue_type]
    return f"LowCardinality({typ})" if name in LOW_CARDINALITY else typ


def events_ddl() -> str:
    cols = ", ".join(f"{c.name} {column_type(c.name, c.glue_type)}" for c in COLUMNS + PARTITIONS)
    return (
        f"CREATE TABLE events ({cols}, {DT_INDEX}) ENGINE = MergeTree "
        f"PARTITION BY toYYYYMM(ts) ORDER BY ({EVENTS_ORDER})"
    )


# ---- the SQL -----------------------------------------------------------------------------


def _arg_min_keeps_null(node: exp.Expression) -> exp.Expression:
    """argMin(x, y) [FILTER (…)] → (argMin(tuple(x), y) [FILTER (…)]).1; argMax the same
    (HAND_TUNINGS[1])."""
    inner = node.this if isinstance(node, exp.Filter) else node
    if not isinstance(inner, exp.ArgMin | exp.ArgMax):
        return node
    agg: exp.Expression = inner.__class__(
        this=exp.Anonymous(this="tuple", expressions=[inner.this.copy()]),
        expression=inner.expression.copy(),
    )
    if isinstance(node, exp.Filter):
        agg = exp.Filter(this=agg, expression=node.expression.copy())
    return exp.Dot(this=exp.Paren(this=agg), expression=exp.Literal.number(1))


def _reads(tree: exp.Expression, names: set[str]) -> dict[str, int]:
    reads: dict[str, int] = {}
    for table in tree.find_all(exp.Table):
        if table.name in names and not table.db:
            reads[table.name] = reads.get(table.name, 0) + 1
    return reads


def _materialize_shared_ctes(tree: exp.Expression) -> None:
    """CTEs nothing reads are dropped (DuckDB skips them too); a CTE read more than once →
    `AS MATERIALIZED` (HAND_TUNINGS[2])."""
    while True:
        ctes = {cte.alias: cte for cte in tree.find_all(exp.CTE)}
        reads = _reads(tree, set(ctes))
        unread = [cte for name, cte in ctes.items() if name not in reads]
        if not unread:
            break
        for cte in unread:
            cte.pop()
    for name, cte in ctes.items():
        if reads[name] > 1:
            cte.set("materialized", True)


_MARK = "__bench_param_{}__"


@lru_cache(maxsize=256)
def athena_to_clickhouse(sql: str) -> tuple[str, ...]:
    """The statement in ClickHouse's dialect, cut at its `?` parameters: n + 1 pieces."""
    tree = sqlglot.parse_one(sql, read="athena")
    count = 0

    def mark(node: exp.Expression) -> exp.Expression:
        nonlocal count
        if isinstance(node, exp.Placeholder):
            count += 1
            return exp.to_identifier(_MARK.format(count - 1))
        return _arg_min_keeps_null(node)

    tree = tree.transform(mark)
    _materialize_shared_ctes(tree)
    text = tree.sql(dialect="clickhouse")
    pieces = []
    for i in range(count):
        before, text = text.split(_MARK.format(i), 1)
        pieces.append(before)
    return (*pieces, text)


def literal(value: Any) -> str:
    """A parameter as a ClickHouse literal (a backslash escapes in ClickHouse's strings)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, datetime | date):
        value = value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def bind(sql: str, params: Sequence[Any]) -> str:
    pieces = athena_to_clickhouse(sql)
    if len(pieces) != len(params) + 1:
        raise ValueError(f"{len(pieces) - 1} placeholders, {len(params)} parameters")
    out = [pieces[0]]
    for value, piece in zip(params, pieces[1:], strict=True):
        out += [literal(value), piece]
    return "".join(out)


# ---- the engine --------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    rows: int
    seconds: float
    bytes_on_disk: int
    rollup_rows: dict[str, int]


class ClickHouseEngine:
    """The QueryEngine port over chDB, for running the stats service unchanged; with
    `rollup` the days whose rollup tables were loaded, else None (sessions from events)."""

    def __init__(self, path: Path, timeout_s: int = 600) -> None:
        from chdb import session  # bench extra only

        self._session = session.Session(str(path))
        self.rollup: Rollup | None = None
        self.reads_imported = False
        self.settings = {**SETTINGS, "max_execution_time": str(timeout_s)}

    def execute(self, sql: str) -> list[dict[str, Any]]:
        settings = ", ".join(f"{k} = {v}" for k, v in self.settings.items())
        try:
            table = self._session.query(f"{sql} SETTINGS {settings}", "ArrowTable")
        except Exception as exc:
            if "TIMEOUT_EXCEEDED" in str(exc):
                raise TimeoutError("max_execution_time") from exc
            raise
        return list(table.to_pylist())

    def session_rollup(self, site_id: str, first: date, last: date) -> Rollup | None:
        r = self.rollup
        if r is None or first > r.last or last < r.first:
            return None
        return Rollup(max(first, r.first), min(last, r.last))

    def query(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        return self.execute(bind(sql, params))

    def query_many(
        self, statements: Sequence[tuple[str, Sequence[Any]]]
    ) -> list[list[dict[str, Any]]]:
        return [self.query(sql, params) for sql, params in statements]

    def stream(
        self, sql: str, params: Sequence[Any], batch_rows: int = 10_000
    ) -> Iterator[list[dict[str, Any]]]:
        yield self.query(sql, params)

    def problem(self) -> str | None:
        return None

    def export(self, sql: str, params: Sequence[Any], header: Sequence[str]) -> None:
        return None

    def close(self) -> None:
        self._session.close()


def _copy_in(engine: ClickHouseEngine, table: str, select: str, scratch: Path, create: str) -> None:
    """DuckDB writes `select`'s rows to one Parquet file; chDB inserts them into `table`, which
    `create` (an ENGINE … clause) creates from the file's columns, if given."""
    con = duckdb.connect(config={"threads": THREADS})
    with tempfile.NamedTemporaryFile(suffix=".parquet", dir=scratch) as out:
        con.execute(f"COPY ({select}) TO '{out.name}' (FORMAT parquet)")
        con.close()
        rows = f"SELECT * FROM file('{out.name}', Parquet)"
        if create:
            engine.execute(f"CREATE TABLE {table} {create} AS {rows}")
        else:
            engine.execute(f"INSERT INTO {table} {rows}")


def _counts_unsigned(select: str) -> str:
    """The rollup's counts (BIGINT; session_no a DECIMAL sum) as UBIGINT: ClickHouse's count()
    and sum() of counts are UInt64, and it finds no common type of Int64 and UInt64 where a
    statement unions the live day's sessions with the rollup's."""
    con = duckdb.connect()
    columns = con.execute(f"DESCRIBE {select}").fetchall()
    con.close()
    counts = [
        name
        for name, typ, *_ in columns
        if name != "visitor_id" and (typ == "BIGINT" or typ == "DECIMAL(38,0)")
    ]
    if not counts:
        return select
    replace = ", ".join(f"CAST({name} AS UBIGINT) AS {name}" for name in counts)
    return f"SELECT * REPLACE ({replace}) FROM ({select})"


def load(engine: ClickHouseEngine, data_dir: Path, scratch: Path, rollups: bool) -> Load:
    """The rows the local engine reads (its `events` view), and with `rollups` the rollup
    files its daily job wrote, into MergeTree tables; merged into one part each (OPTIMIZE)."""
    started = time.perf_counter()
    for table in ("events", *ROLLUP_TABLES):
        engine.execute(f"DROP TABLE IF EXISTS {table}")
    engine.execute(events_ddl())
    names = ", ".join(c.name for c in COLUMNS + PARTITIONS)
    view = events_view_sql(data_dir / "events").removeprefix("CREATE OR REPLACE VIEW events AS ")
    _copy_in(engine, "events", f"SELECT {names} FROM ({view})", scratch, create="")
    engine.execute("OPTIMIZE TABLE events FINAL")
    rollup_rows = {}
    if rollups:
        for table in ROLLUP_TABLES:
            pattern = data_dir / ROLLUP_DIR / "site_id=*" / "dt=*" / f"{table}.parquet"
            select = _counts_unsigned(
                f"SELECT * FROM read_parquet('{pattern}', hive_partitioning = true, "
                "hive_types = {'site_id': VARCHAR, 'dt': VARCHAR})"
            )
            create = f"ENGINE = MergeTree ORDER BY ({ROLLUP_ORDER}) SETTINGS allow_nullable_key = 1"
            _copy_in(engine, table, select, scratch, create)
            engine.execute(f"OPTIMIZE TABLE {table} FINAL")
            rollup_rows[table] = engine.execute(f"SELECT count() AS n FROM {table}")[0]["n"]
    rows = engine.execute("SELECT count() AS n FROM events")[0]["n"]
    size = engine.execute(
        "SELECT sum(bytes_on_disk) AS b FROM system.parts WHERE active AND database = "
        "currentDatabase()"
    )[0]["b"]
    return Load(int(rows), time.perf_counter() - started, int(size or 0), rollup_rows)
