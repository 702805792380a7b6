"""PostgreSQL side of figure 4: Debian's server on loopback, the same rows, the same SQL.

The stats SQL is transpiled from Athena's dialect with sqlglot, as the local engine does for
DuckDB. One adaptation: PostgreSQL has no min_by/max_by, so `min_by(x, ts)` becomes
`(array_agg(x ORDER BY ts))[1]` (and max_by the same with DESC), keeping any FILTER clause.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import sqlglot
from sqlglot import exp

from beaconlake.adapters.duckdb_engine import events_view_sql
from beaconlake.ports import Rollup
from beaconlake.schema import COLUMNS, PARTITIONS

PG_TYPES = {
    "timestamp": "timestamp(3)",
    "string": "text",
    "bigint": "bigint",
    "int": "integer",
    "boolean": "boolean",
    "map<string,string>": "jsonb",
    "decimal(18,4)": "numeric(18,4)",
}
# Umami's design: one events table, B-tree indexes on the site and time
INDEXES = (
    "CREATE INDEX events_site_ts ON events (site_id, ts)",
    "CREATE INDEX events_site_dt ON events (site_id, dt)",
    "CREATE INDEX events_site_visitor_ts ON events (site_id, visitor_id, ts)",
)
SERVER_SETTINGS = {
    "shared_buffers": "2GB",
    "work_mem": "128MB",
    "maintenance_work_mem": "1GB",
    "effective_cache_size": "16GB",
    "max_parallel_workers_per_gather": "2",
    # loading only: durability does not change query speed
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "8GB",
}


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (bench/run installs Debian's package)")
    return found[-1]


def server_version() -> str:
    out = subprocess.run([_bin("postgres"), "--version"], capture_output=True, text=True)
    return out.stdout.strip()


def _as_postgres(*args: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True)


@dataclass(frozen=True)
class Server:
    port: int
    socket_dir: Path

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        )


@contextmanager
def server(directory: Path, port: int) -> Iterator[Server]:
    """A throw-away cluster in `directory`, listening on 127.0.0.1:port; stopped on exit."""
    directory = directory.resolve()
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    shutil.chown(directory, "postgres", "postgres")
    data = directory / "data"
    _as_postgres(
        _bin("initdb"),
        "-D",
        str(data),
        "-U",
        "postgres",
        "--auth=trust",
        "--no-locale",
        "-E",
        "UTF8",
    )
    options = " ".join(f"-c {k}={v}" for k, v in SERVER_SETTINGS.items())
    options += f" -c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={directory}"
    _as_postgres(
        _bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(directory / "log"), "-w", "start"
    )
    try:
        yield Server(port, directory)
    finally:
        _as_postgres(_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")


@dataclass(frozen=True)
class Load:
    rows: int
    seconds: float
    table_bytes: int
    index_bytes: int


def load(srv: Server, data_dir: Path, scratch: Path) -> Load:
    """The Parquet rows → CSV (DuckDB) → COPY, then indexes and VACUUM ANALYZE."""
    columns = [(c.name, PG_TYPES[c.glue_type]) for c in COLUMNS + PARTITIONS]
    csv = scratch / "events.csv"
    started = time.perf_counter()
    con = duckdb.connect(config={"threads": 2})
    con.execute(events_view_sql(data_dir / "events"))
    select = ", ".join(f"to_json({n})" if n == "props" else n for n, _ in columns)
    con.execute(f"COPY (SELECT {select} FROM events) TO '{csv}' (HEADER false)")
    con.close()
    with srv.connect() as pg:
        pg.execute("DROP TABLE IF EXISTS events")
        pg.execute(f"CREATE TABLE events ({', '.join(f'{n} {t}' for n, t in columns)})")
        with (
            pg.cursor() as cur,
            cur.copy("COPY events FROM STDIN (FORMAT csv)") as copy,
            open(csv, "rb") as fh,
        ):
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        for ddl in INDEXES:
            pg.execute(ddl)
        pg.execute("VACUUM ANALYZE events")
        rows, table_bytes, index_bytes = pg.execute(
            "SELECT count(*), pg_table_size('events'), pg_indexes_size('events') FROM events"
        ).fetchone() or (0, 0, 0)
    os.remove(csv)
    return Load(int(rows), time.perf_counter() - started, int(table_bytes), int(index_bytes))


def _by_to_array_agg(node: exp.Expression) -> exp.Expression:
    """min_by(x, y) [FILTER (…)] → (array_agg(x ORDER BY y) [FILTER (…)])[1]; max_by: DESC."""
    inner = node.this if isinstance(node, exp.Filter) else node
    if not isinstance(inner, exp.ArgMin | exp.ArgMax):
        return node
    order = exp.Ordered(this=inner.expression, desc=isinstance(inner, exp.ArgMax))
    agg: exp.Expression = exp.ArrayAgg(this=exp.Order(this=inner.this, expressions=[order]))
    if isinstance(node, exp.Filter):
        agg = exp.Filter(this=agg, expression=node.expression)
    return exp.Bracket(this=exp.Paren(this=agg), expressions=[exp.Literal.number(1)], offset=1)


@lru_cache(maxsize=256)
def athena_to_postgres(sql: str) -> str:
    tree = sqlglot.parse_one(sql, read="athena")
    return tree.transform(_by_to_array_agg).sql(dialect="postgres")


class PostgresEngine:
    """The QueryEngine port over PostgreSQL, for running the stats service unchanged."""

    def __init__(self, srv: Server, statement_timeout_s: int) -> None:
        self._con = srv.connect()
        self._con.execute(f"SET statement_timeout = '{statement_timeout_s}s'")

    def session_rollup(self, site_id: str, first: date, last: date) -> Rollup | None:
        """None: PostgreSQL derives every session from the events table, as Umami does."""
        return None

    @property
    def reads_imported(self) -> bool:
        """False: the bench loads native events only."""
        return False

    def problem(self) -> str | None:
        return None

    def export(self, sql: str, params: Sequence[Any], header: Sequence[str]) -> None:
        """None: the bench never exports."""
        return None

    def query(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        with self._con.cursor() as cur:
            try:
                cur.execute(athena_to_postgres(sql), list(params))
            except psycopg.errors.QueryCanceled as exc:
                raise TimeoutError("statement_timeout") from exc
            names = [d.name for d in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def query_many(
        self, statements: Sequence[tuple[str, Sequence[Any]]]
    ) -> list[list[dict[str, Any]]]:
        return [self.query(sql, params) for sql, params in statements]

    def stream(
        self, sql: str, params: Sequence[Any], batch_rows: int = 10_000
    ) -> Iterator[list[dict[str, Any]]]:
        yield self.query(sql, params)

    def close(self) -> None:
        self._con.close()
