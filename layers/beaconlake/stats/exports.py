"""Raw (anonymous) events of a range, for `GET /api/v2/export/events`, and the CSV every
answer of this API is written as.

Every CSV cell goes through `csv_cell`: a text cell a spreadsheet would run as a formula
(OWASP, "CSV Injection") gets a leading single quote. Where the engine writes an export to
files itself (Athena's UNLOAD), `csv_lines_sql` builds each line in SQL by the same rule.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from beaconlake.ports import ExportFiles, QueryEngine
from beaconlake.schema import ALL_COLUMN_NAMES, COLUMNS, PARTITIONS
from beaconlake.sqldialect import string_literal
from beaconlake.stats.query import DateRange
from beaconlake.stats.sql import RANGE_WHERE, range_params

FORMATS = ("csv", "ndjson")
# A cell starting with one of these is a formula to a spreadsheet (OWASP, "CSV Injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EVENTS_SQL = (
    f"SELECT {', '.join(ALL_COLUMN_NAMES)} FROM events WHERE {RANGE_WHERE} "
    "ORDER BY ts, coalesce(seq, 0)"
)


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading single quote; numbers
    and other cells are written as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Iterable[list[Any]]) -> Iterator[str]:
    """Every CSV this API writes goes through here: each cell through csv_cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def export_files(engine: QueryEngine, site_id: str, date_range: DateRange) -> ExportFiles | None:
    """The range's events written to gzip-compressed CSV files by the engine (Athena), or
    None where the engine streams them instead (DuckDB)."""
    return engine.export(csv_lines_sql(), range_params(site_id, date_range), ALL_COLUMN_NAMES)


def files_answer(site_id: str, date_range: DateRange, files: ExportFiles) -> dict[str, Any]:
    """The JSON answer for an export written to files (docs/QUERY_API.md, "Export")."""
    return {
        "site_id": site_id,
        "date_range": [date_range.first.isoformat(), date_range.last.isoformat()],
        "format": "csv",
        "compression": "gzip",
        "rows": files.rows,
        "expires_at": files.expires_at.isoformat().replace("+00:00", "Z"),
        "files": [{"url": f.url, "bytes": f.size} for f in files.files],
    }


def event_chunks(
    engine: QueryEngine, site_id: str, date_range: DateRange, format: str
) -> Iterator[str]:
    """The range's events, oldest first, as CSV (with a header) or NDJSON text, one chunk per
    batch of rows. The first batch is read before this returns, so a busy or failing engine
    is still an error status, not a cut stream."""
    stream = engine.stream(EVENTS_SQL, range_params(site_id, date_range))
    first = next(stream, None)
    batches = itertools.chain([first] if first is not None else [], stream)
    return _csv_chunks(batches) if format == "csv" else _ndjson_chunks(batches)


def _cells(row: dict[str, Any]) -> list[Any]:
    return [json.dumps(v) if isinstance(v, dict | list) else v for v in row.values()]


# one chunk per batch: each chunk of a sync iterator costs the server a thread hop
def _csv_chunks(batches: Iterable[list[dict[str, Any]]]) -> Iterator[str]:
    yield from csv_text([list(ALL_COLUMN_NAMES)])
    for batch in batches:
        yield "".join(csv_text(_cells(plain(r)) for r in batch))


def _ndjson_chunks(batches: Iterable[list[dict[str, Any]]]) -> Iterator[str]:
    for batch in batches:
        yield "".join(json.dumps(plain(r), default=str) + "\n" for r in batch)


def plain(row: dict[str, Any]) -> dict[str, Any]:
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


# ---- an event's CSV line in Athena SQL, for exports the engine writes to files ----------------

# a cell holding one of these is quoted, as Python's csv writer (QUOTE_MINIMAL) does
NEEDS_QUOTES = '[",\r\n]'
_CHR = {"\t": "chr(9)", "\r": "chr(13)"}
_STARTS = ", ".join(_CHR.get(c, f"'{c}'") for c in FORMULA_STARTS)


def cell_sql(name: str, glue_type: str) -> str:
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
    cells = ", ".join(f"{cell_sql(n, t)} AS c_{n}" for n, t in columns)
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
