"""What the Athena stand-in (tests/aws_box/athena.py) does with a statement's text and its
Glue table: billing arithmetic, execution-parameter substitution as Athena does it, the columns
and partitions a statement reads, and the Glue table as a DuckDB view with Athena's types."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from beaconlake.sqldialect import athena_to_duckdb

MB = 1024 * 1024
MIN_BILLED = 10 * MB  # Athena bills at least 10 MB per query, rounded up to the MB


@dataclass
class StoredObject:
    key: str
    path: Path  # the local copy DuckDB reads
    sizes: dict[str, int]  # top-level column → compressed bytes of its chunks
    columns: tuple[str, ...]


def billed_bytes(scanned: int) -> int:
    return max(MIN_BILLED, math.ceil(scanned / MB) * MB)


class QueryFailure(Exception):
    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind, self.reason = kind, reason


# ---- Glue table → DuckDB ------------------------------------------------------------------------

_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "varchar": "VARCHAR",
    "boolean": "BOOLEAN",
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "date": "DATE",
    # Athena's timestamp is timestamp(3): milliseconds
    "timestamp": "TIMESTAMP_MS",
    "map<string,string>": "MAP(VARCHAR, VARCHAR)",
}


def duckdb_type(glue_type: str) -> str:
    glue_type = glue_type.replace(" ", "").lower()
    if glue_type in _DUCKDB_TYPES:
        return _DUCKDB_TYPES[glue_type]
    decimal = _DECIMAL.match(glue_type)
    if decimal:
        return f"DECIMAL({decimal.group(1)},{decimal.group(2)})"
    raise AssertionError(f"the Athena stand-in cannot type Glue column type {glue_type!r}")


@dataclass
class GlueTable:
    database: str
    name: str
    columns: list[tuple[str, str]]  # (name, glue type), data columns
    partition_keys: list[tuple[str, str]]
    bucket: str
    prefix: str  # the table's location inside the bucket, ending in "/"
    parameters: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_glue(cls, glue: Any, database: str, name: str) -> GlueTable:
        table = glue.get_table(DatabaseName=database, Name=name)["Table"]
        location = table["StorageDescriptor"]["Location"]
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        return cls(
            database,
            name,
            [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]],
            [(c["Name"], c["Type"]) for c in table.get("PartitionKeys", [])],
            bucket,
            prefix if prefix.endswith("/") else prefix + "/",
            table.get("Parameters", {}),
        )

    def projected(self, values: tuple[str, ...]) -> bool:
        """Whether partition projection enumerates this partition: Athena never reads a
        partition outside an enum's values or a date range, whatever S3 holds."""
        params = self.parameters
        if params.get("projection.enabled") != "true":
            return True
        for (name, _), value in zip(self.partition_keys, values, strict=True):
            kind = params.get(f"projection.{name}.type")
            if kind == "enum":
                if value not in params[f"projection.{name}.values"].split(","):
                    return False
            elif kind == "injected":
                continue  # the query names the values: injected_keys, athena_rules
            elif kind == "date":
                if params.get(f"projection.{name}.format") != "yyyy-MM-dd":
                    raise AssertionError(f"the Athena stand-in cannot project {params}")
                first, last = params[f"projection.{name}.range"].split(",")
                today = datetime.now(UTC).date().isoformat()
                try:
                    day = date.fromisoformat(value).isoformat()
                except ValueError:
                    return False
                if (
                    not (first if first != "NOW" else today)
                    <= day
                    <= (last if last != "NOW" else today)
                ):
                    return False
            else:
                raise AssertionError(f"the Athena stand-in cannot project {name}: {kind}")
        return True

    @property
    def injected_keys(self) -> set[str]:
        """The partition keys projected with the `injected` type."""
        params = self.parameters
        if params.get("projection.enabled") != "true":
            return set()
        return {
            n.lower()
            for n, _ in self.partition_keys
            if params.get(f"projection.{n}.type", "").strip().lower() == "injected"
        }

    @property
    def all_columns(self) -> list[tuple[str, str]]:
        return self.columns + self.partition_keys

    def view_sql(self, files: list[StoredObject]) -> str:
        """The table over these files, as Athena reads Parquet (columns by name; a column a file
        lacks reads as NULL); no files: no rows, same columns. DuckDB's union_by_name (reading
        every footer first, 7 times slower at 200 files) only when the files' columns differ."""
        typed = ", ".join(f'CAST(NULL AS {duckdb_type(t)}) AS "{n}"' for n, t in self.all_columns)
        empty = f"SELECT {typed} WHERE false"
        if not files:
            return empty
        listed = ", ".join("'" + str(f.path).replace("'", "''") + "'" for f in files)
        by_name = "true" if len({f.columns for f in files}) > 1 else "false"
        hive_types = ", ".join(f"'{n}': VARCHAR" for n, _ in self.partition_keys)
        select = ", ".join(f'CAST("{n}" AS {duckdb_type(t)}) AS "{n}"' for n, t in self.all_columns)
        return (
            f"SELECT {select} FROM (SELECT * FROM read_parquet([{listed}], "
            f"hive_partitioning = true, hive_types = {{{hive_types}}}, union_by_name = {by_name}) "
            f"UNION ALL BY NAME {empty})"
        )


# ---- statements ---------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def parameter_markers(statement: str) -> tuple[tuple[int, int], ...]:
    """(start, end) of each `?` token (not a `?` inside a string or a comment)."""
    tokens = sqlglot.tokenize(statement, read="athena")
    return tuple(
        (t.start, t.end) for t in tokens if t.token_type == TokenType.PLACEHOLDER and t.text == "?"
    )


def substitute(statement: str, parameters: Sequence[str]) -> str:
    """The statement with each `?` replaced by its execution parameter, as Athena does."""
    markers = parameter_markers(statement)
    if len(markers) != len(parameters):
        raise QueryFailure(
            "parameters",
            "INVALID_PARAMETER_USAGE: Incorrect number of parameters: "
            f"expected {len(markers)} but found {len(parameters)}",
        )
    for value in parameters:
        check_literal(value)
    out = statement
    for (start, end), value in sorted(zip(markers, parameters, strict=True), reverse=True):
        out = out[:start] + value + out[end + 1 :]
    return out


def check_literal(value: str) -> None:
    """An execution parameter is a literal (a string, number, boolean, NULL, or a typed literal
    like DATE '…'/TIMESTAMP '…'), never SQL text."""
    try:
        parsed = sqlglot.parse_one(value, read="athena")
    except sqlglot.errors.ParseError:
        parsed = None
    node = parsed.this if isinstance(parsed, exp.Neg) else parsed
    typed = (
        isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string
    )
    if not (isinstance(node, exp.Literal | exp.Boolean | exp.Null) or typed):
        raise QueryFailure(
            "parameters", f"INVALID_PARAMETER_USAGE: parameter {value!r} is not a literal"
        )


def cte_names(tree: exp.Expression) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def referenced_columns(tree: exp.Expression, table: GlueTable) -> set[str]:
    """The table's columns a scan must read. Trino prunes columns through CTEs and `SELECT *`
    that later steps do not use, so a column counts where it is named; only a `*` in the
    statement's own output reads every column."""
    names = {c.name.lower() for c in tree.find_all(exp.Column)}
    outer = tree if isinstance(tree, exp.Select) else None
    if isinstance(tree, exp.Query) and not isinstance(tree, exp.Select):
        outer = tree.find(exp.Select)
    if outer is not None and any(isinstance(e, exp.Star) for e in outer.expressions):
        names |= {n for n, _ in table.columns}
    return {n for n, _ in table.columns} & names


def partition_filter(tree: exp.Expression, table: GlueTable) -> str | None:
    """A DuckDB predicate over the partition keys that every partition a scan of the table
    may read satisfies (None: all partitions). Per scan, the WHERE conjuncts that read only
    partition keys (and literals) prune; partitions of all scans are united."""
    keys = {n for n, _ in table.partition_keys}
    scans: list[str] = []
    for source in tree.find_all(exp.Table):
        if source.name.lower() != table.name:
            continue
        select = source.find_ancestor(exp.Select)
        where = select.args.get("where") if select is not None else None
        if where is None:
            return None
        kept = []
        for conjunct in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
            columns = {c.name.lower() for c in conjunct.find_all(exp.Column)}
            if columns and columns <= keys and not conjunct.find(exp.Subquery, exp.Select):
                kept.append(conjunct.sql(dialect="athena"))
        if not kept:
            return None
        scans.append("(" + " AND ".join(kept) + ")")
    return athena_to_duckdb("SELECT 1 WHERE " + " OR ".join(scans)).split(" WHERE ", 1)[1]


def run_kind(tree: exp.Expression) -> str:
    """What the stand-in runs: SELECT / WITH, and UNLOAD's inner SELECT (the box takes UNLOAD
    apart first: tests/aws_box/athena_unload.py); CTAS and INSERT not yet."""
    if isinstance(tree, exp.Query):
        return "select"
    raise QueryFailure(
        "engine",
        f"the Athena stand-in runs SELECT and UNLOAD only, not {type(tree).__name__} (yet)",
    )


# ---- values as Athena renders them ---------------------------------------------------------------


def athena_type(duck: str) -> tuple[str, int, int]:
    """(Athena type name, precision, scale) of a DuckDB result column type."""
    duck = duck.upper()
    decimal = re.match(r"DECIMAL\((\d+),\s*(\d+)\)", duck)
    if decimal:
        return "decimal", int(decimal.group(1)), int(decimal.group(2))
    if duck.endswith("[]"):
        return "array", 0, 0
    if duck.startswith("MAP("):
        return "map", 0, 0
    if duck.startswith("STRUCT("):
        return "row", 0, 0
    if duck.startswith("TIMESTAMP"):
        return ("timestamp with time zone" if "TIME ZONE" in duck else "timestamp"), 3, 0
    simple = {
        "BIGINT": "bigint",
        "HUGEINT": "bigint",  # DuckDB's sum(bigint); Trino's is bigint
        "UBIGINT": "bigint",
        "INTEGER": "integer",
        "SMALLINT": "smallint",
        "TINYINT": "tinyint",
        "DOUBLE": "double",
        "FLOAT": "real",
        "VARCHAR": "varchar",
        "BOOLEAN": "boolean",
        "DATE": "date",
        "UUID": "varchar",
        '"NULL"': "unknown",
        "NULL": "unknown",
    }
    if duck in simple:
        return simple[duck], 0, 0
    raise AssertionError(f"the Athena stand-in cannot render DuckDB type {duck}")


def athena_text(value: Any) -> str:
    """A value as Athena's GetQueryResults writes it (VarCharValue)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:23]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join("null" if v is None else athena_text(v) for v in value) + "]"
    if isinstance(value, dict):
        items = value.items() if "key" not in value else zip(value["key"], value["value"])
        return "{" + ", ".join(f"{athena_text(k)}={athena_text(v)}" for k, v in items) + "}"
    return str(value)


# ---- the service ---------------------------------------------------------------------------------
