"""Athena SQL → other dialects, cached (the SQL is written once, in Athena's dialect)."""

from __future__ import annotations

from functools import lru_cache

import sqlglot


@lru_cache(maxsize=512)
def athena_to_duckdb(sql: str) -> str:
    return sqlglot.transpile(sql, read="athena", write="duckdb")[0]


def string_literal(value: str) -> str:
    """`value` as an Athena (Trino) string literal, for the few places where Athena takes no
    `?` parameter (it takes them only in WHERE). Doubling the quotes is the only escape
    Trino knows; a backslash is a plain character in Trino, in sqlglot's athena reader and
    in DuckDB alike, so no value can end the literal early, in either engine."""
    return "'" + value.replace("'", "''") + "'"
