"""POST /api/v2/query (Plausible Stats API v2 shape, with comparisons) and exports."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator
from datetime import date
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from beaconlake.ports import ExportFiles, QueryEngine
from beaconlake.schema import ALL_COLUMN_NAMES, COLUMNS, PARTITIONS
from beaconlake.sqldialect import string_literal
from beaconlake.stats import v2
from beaconlake.stats.api import Key, check_site, query_engine
from beaconlake.stats.goals import load_goals
from beaconlake.stats.query import Goal, QueryError
from beaconlake.stats.sql import RANGE_WHERE, range_params
from beaconlake.wiring import ports

router = APIRouter(tags=["query v2"])

EXAMPLE: dict[str, Any] = {
    "site_id": "example.com",
    "metrics": ["visitors", "visits", "bounce_rate"],
    "date_range": "30d",
    "dimensions": ["visit:source"],
    "filters": [["is", "visit:device", ["mobile"]]],
    "order_by": [["visitors", "desc"]],
    "include": {"total_rows": True, "comparisons": {"mode": "previous_period"}},
    "pagination": {"limit": 10, "offset": 0},
}


class QueryBody(BaseModel):
    """Plausible's Stats API v2 query; see docs/QUERY_API.md for every field."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})

    site_id: str = Field(min_length=1, max_length=253)
    metrics: list[str] = Field(min_length=1, max_length=20)
    date_range: str | list[str] = "30d"
    dimensions: list[str] = Field(default_factory=list, max_length=4)
    filters: list[Any] = Field(
        default_factory=list, description="At most 30 filters (see docs/SECURITY.md)"
    )
    order_by: list[list[str]] = Field(default_factory=list, max_length=10)
    include: dict[str, Any] | None = None
    pagination: dict[str, int] | None = None
    date: str | None = Field(default=None, description="Reference day for relative ranges")


@lru_cache(maxsize=1)
def _goals() -> dict[str, tuple[Goal, ...]]:
    return load_goals(ports().settings.data_dir)


def _ref(body: QueryBody) -> date | None:
    if body.date is None:
        return None
    try:
        return date.fromisoformat(body.date)
    except ValueError:
        raise QueryError("date", "date must look like 2026-01-31") from None


# A cell starting with one of these is a formula to a spreadsheet (OWASP, "CSV Injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading single quote; numbers
    and other cells are written as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv(rows: Iterator[list[Any]]) -> Iterator[str]:
    """Every CSV this API writes goes through here: each cell through csv_cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


@router.post("/api/v2/query", response_model=None)
def query(
    key: Key,
    body: Annotated[QueryBody, Body(openapi_examples={"sources": {"value": EXAMPLE}})],
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> dict[str, Any] | StreamingResponse:
    """Metrics over a range, optionally split by dimensions, filtered, compared.

    `format=csv` returns the same result as CSV (one column per dimension and metric)."""
    check_site(key, body.site_id)
    ref = _ref(body)
    q = v2.parse_query(body.model_dump(), _goals(), ref)
    result = v2.run_query(query_engine(key), q, v2.parse_include(body.include), ref)
    if format == "json":
        return result
    header = [*q.group_by(), *q.metrics]
    rows = iter([header] + [r["dimensions"] + r["metrics"] for r in result["results"]])
    return StreamingResponse(
        _csv(rows),
        media_type="text/csv",
        headers={"content-disposition": f'attachment; filename="{q.site_id}-query.csv"'},
    )


@router.get("/api/v2/export/events", response_model=None)
def export_events(
    key: Key,
    site_id: Annotated[str, Query(min_length=1, max_length=253)],
    date_range: Annotated[str, Query(description="'7d', or 'YYYY-MM-DD,YYYY-MM-DD'")] = "7d",
    format: Annotated[str, Query(pattern="^(csv|ndjson)$")] = "csv",
) -> StreamingResponse | dict[str, Any]:
    """Raw (anonymous) events of a range, oldest first: streamed, or (CSV, where the engine
    writes exports to files: Athena) links to gzip-compressed CSV files, valid 15 minutes."""
    site = check_site(key, site_id)
    raw_range: str | list[str] = date_range.split(",") if "," in date_range else date_range
    q = v2.StatsQuery(site_id=site, date_range=v2.parse_date_range(raw_range), metrics=("events",))
    engine = query_engine(key)
    if format == "csv":
        files = engine.export(csv_lines_sql(), range_params(q), ALL_COLUMN_NAMES)
        if files is not None:
            return export_answer(q, files)
    return _stream_export(engine, q, format)


def export_answer(q: v2.StatsQuery, files: ExportFiles) -> dict[str, Any]:
    """The JSON answer for an export written to files (docs/QUERY_API.md, "Export")."""
    return {
        "site_id": q.site_id,
        "date_range": [q.date_range.first.isoformat(), q.date_range.last.isoformat()],
        "format": "csv",
        "compression": "gzip",
        "rows": files.rows,
        "expires_at": files.expires_at.isoformat().replace("+00:00", "Z"),
        "files": [{"url": f.url, "bytes": f.size} for f in files.files],
    }


def _stream_export(engine: QueryEngine, q: v2.StatsQuery, format: str) -> StreamingResponse:
    columns = ", ".join(ALL_COLUMN_NAMES)
    sql = f"SELECT {columns} FROM events WHERE {RANGE_WHERE} ORDER BY ts"
    stream = engine.stream(sql, range_params(q))
    # the first batch now: a busy or failing engine is still an error status, not a cut stream
    first = next(stream, None)
    batches = itertools.chain([first] if first is not None else [], stream)

    def cells(row: dict[str, Any]) -> list[Any]:
        return [json.dumps(v) if isinstance(v, dict | list) else v for v in row.values()]

    # one chunk per batch: each chunk of a sync iterator costs the server a thread hop
    def as_csv() -> Iterator[str]:
        yield from _csv(iter([list(ALL_COLUMN_NAMES)]))
        for batch in batches:
            yield "".join(_csv(iter([cells(_plain(r)) for r in batch])))

    def as_ndjson() -> Iterator[str]:
        for batch in batches:
            yield "".join(json.dumps(_plain(r), default=str) + "\n" for r in batch)

    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(
        as_csv() if format == "csv" else as_ndjson(),
        media_type=media,
        headers={"content-disposition": f'attachment; filename="{q.site_id}-events.{format}"'},
    )


# ---- an event's CSV line in Athena SQL, for exports the engine writes to files ----------------

# a cell holding one of these is quoted, as Python's csv writer (QUOTE_MINIMAL) does
NEEDS_QUOTES = '[",\r\n]'
_CHR = {"\t": "chr(9)", "\r": "chr(13)"}
_STARTS = ", ".join(_CHR.get(c, f"'{c}'") for c in FORMULA_STARTS)


def _cell_sql(name: str, glue_type: str) -> str:
    """The text of one cell as the streamed CSV export writes it (NULL: an empty cell)."""
    c = f'"{name}"'
    if glue_type == "string":  # csv_cell: a formula start gets a leading single quote
        return f"CASE WHEN substr({c}, 1, 1) IN ({_STARTS}) THEN '''' || {c} ELSE {c} END"
    if glue_type == "timestamp":  # datetime.isoformat(): the fraction only when not zero
        fraction = f"date_format({c}, '%f')"
        return (
            f"date_format({c}, '%Y-%m-%dT%H:%i:%s') || "
            f"CASE WHEN {fraction} = '000000' THEN '' ELSE '.' || {fraction} END"
        )
    if glue_type == "boolean":  # str(True)
        return f"CASE WHEN {c} THEN 'True' WHEN NOT {c} THEN 'False' END"
    if glue_type.startswith("map<"):  # a JSON object (compact)
        return f"json_format(CAST({c} AS JSON))"
    return f"CAST({c} AS varchar)"


@lru_cache(maxsize=1)
def csv_lines_sql() -> str:
    """The range's events (RANGE_WHERE's parameters), oldest first, each as one finished CSV
    line `line` with the cells of the streamed CSV export, quoted where needed and formulas
    neutralised (csv_cell). It ends in a carriage return: the file's line feed follows, so
    lines end in CRLF as the csv module writes them."""
    columns = [(c.name, c.glue_type) for c in (*COLUMNS, *PARTITIONS)]
    cells = ", ".join(f"{_cell_sql(n, t)} AS c_{n}" for n, t in columns)
    quoted = []
    for name, _ in columns:
        v = f"coalesce(c_{name}, '')"
        quoted.append(
            f"CASE WHEN regexp_like({v}, {string_literal(NEEDS_QUOTES)}) "
            f"THEN '\"' || replace({v}, '\"', '\"\"') || '\"' ELSE {v} END"
        )
    line = " || ',' || ".join(quoted)
    return (
        f"SELECT {line} || chr(13) AS line FROM (SELECT {cells}, ts AS sort_ts "
        f"FROM events WHERE {RANGE_WHERE}) ORDER BY sort_ts"
    )


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """JSON-friendly values: timestamps as ISO text, maps as objects, decimals as text."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if hasattr(v, "isoformat"):
            out[k] = v.isoformat()
        elif isinstance(v, list) and k == "props":
            out[k] = dict(v)
        elif v is not None and k == "revenue_amount":
            out[k] = str(v)
        else:
            out[k] = v
    return out
