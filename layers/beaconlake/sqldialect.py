"""Athena SQL → other dialects, cached (the SQL is written once, in Athena's dialect)."""

from __future__ import annotations

from functools import lru_cache

import sqlglot


@lru_cache(maxsize=512)
def athena_to_duckdb(sql: str) -> str:
    return sqlglot.transpile(sql, read="athena", write="duckdb")[0]
