"""Plausible's CSV export (Site settings → Imports & Exports → "Export data", or the CE
export): a zip of `imported_<table>[_<YYYYMMDD>_<YYYYMMDD>].csv` files, each with a header
line, one row per day and dimension values (the layout of Plausible's `exports.ex`). Read by
header, so columns Plausible adds later are ignored; every column stats.sql.imported.TABLES
names must be there. Each table becomes one Parquet file per import,
`imported/<table>/site_id=<site>/<first>_<last>.parquet` under the data directory (locally)
or the events bucket (AWS), with a `dt` column (the day, as text) and the CSV's columns."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from beaconlake.stats.sql.imported import TABLE, ImportedTable

IMPORTED_DIR = "imported"
_NAME = re.compile(r"^(?:imported_)?([a-z_]+?)(?:_(\d{8})_(\d{8}))?\.csv$")
_ARROW = {"varchar": pa.string(), "bigint": pa.int64()}
MAX_TEXT = 2000  # a dimension value longer than this is refused


class ImportFailed(ValueError):
    """The export cannot be imported: the message names the file, the line and the column."""


@dataclass(frozen=True)
class TableRows:
    table: ImportedTable
    rows: list[dict[str, Any]]

    @property
    def first(self) -> str:
        return min(r["dt"] for r in self.rows)

    @property
    def last(self) -> str:
        return max(r["dt"] for r in self.rows)


@dataclass(frozen=True)
class Stored:
    """One table's file written by an import."""

    table: str
    where: str
    rows: int
    first: str
    last: str


def table_of(filename: str) -> ImportedTable | None:
    """The imported table a file of the export holds, or None for any other file."""
    m = _NAME.match(Path(filename).name)
    return TABLE.get(f"imported_{m.group(1)}") if m else None


def _value(table: ImportedTable, column: str, kind: str, text: str, where: str) -> Any:
    if column == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ImportFailed(f"{where}: date {text!r} is not YYYY-MM-DD") from None
    if kind == "bigint":
        if not text.isdigit():
            raise ImportFailed(f"{where}: {column} {text!r} is not a whole number >= 0")
        return int(text)
    if len(text) > MAX_TEXT:
        raise ImportFailed(f"{where}: {column} is longer than {MAX_TEXT} characters")
    return text


def parse_csv(table: ImportedTable, name: str, text: str) -> TableRows:
    """One export file's rows, checked; `date` becomes `dt`."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c, _ in table.columns if c not in (reader.fieldnames or [])]
    if missing:
        raise ImportFailed(f"{name}: no column {', '.join(missing)} (is it Plausible's export?)")
    rows = []
    for line, raw in enumerate(reader, start=2):
        row = {}
        for column, kind in table.columns:
            where = f"{name} line {line}"
            value = _value(table, column, kind, raw.get(column) or "", where)
            row["dt" if column == "date" else column] = value
        rows.append(row)
    return TableRows(table, rows)


def read_export(path: Path) -> list[TableRows]:
    """The tables of an export zip (or of one CSV file), with their rows."""
    out: dict[str, TableRows] = {}
    try:
        if path.suffix == ".csv":
            members = [(path.name, path.read_bytes())]
        else:
            with zipfile.ZipFile(path) as z:
                members = [(n, z.read(n)) for n in z.namelist() if table_of(n) is not None]
    except (OSError, zipfile.BadZipFile) as exc:
        raise ImportFailed(f"{path}: cannot read it ({exc})") from None
    for name, data in members:
        table = table_of(name)
        if table is None:
            continue
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportFailed(f"{name}: not UTF-8 text") from None
        parsed = parse_csv(table, name, text)
        if table.name in out:
            parsed = TableRows(table, out[table.name].rows + parsed.rows)
        out[table.name] = parsed
    if not out:
        raise ImportFailed(f"{path}: no imported_*.csv file of Plausible's export in it")
    return [t for t in out.values() if t.rows]


def parquet_bytes(rows: TableRows) -> bytes:
    """The table's rows as one Parquet file (the stored columns, in their order)."""
    schema = pa.schema([(c, _ARROW[k]) for c, k in rows.table.stored])
    data = {c: [r[c] for r in rows.rows] for c, _ in rows.table.stored}
    buffer = io.BytesIO()
    pq.write_table(pa.table(data, schema=schema), buffer)
    return buffer.getvalue()


def without_days(data: bytes, first: str, last: str) -> tuple[bytes | None, int]:
    """A stored file without its rows of the days first..last (YYYY-MM-DD): (the new file,
    None when no row is left, or `data` itself when none was in the range; rows removed)."""
    table = pq.read_table(io.BytesIO(data))
    days = table.column("dt").to_pylist()
    keep = [not (first <= d <= last) for d in days]
    removed = keep.count(False)
    if removed == 0:
        return data, 0
    if removed == len(days):
        return None, removed
    buffer = io.BytesIO()
    pq.write_table(table.filter(pa.array(keep)), buffer)
    return buffer.getvalue(), removed


def object_key(rows: TableRows, site: str) -> str:
    """Where the file goes, under the data directory or the events bucket."""
    first, last = rows.first.replace("-", ""), rows.last.replace("-", "")
    return f"{IMPORTED_DIR}/{rows.table.name}/site_id={site}/{first}_{last}.parquet"


def overlap(rows: TableRows, existing: list[str]) -> str | None:
    """The stored file (by name, `<first>_<last>.parquet`) whose days overlap these rows',
    if any: an import never counts a day twice."""
    first, last = rows.first.replace("-", ""), rows.last.replace("-", "")
    for key in existing:
        m = re.search(r"(\d{8})_(\d{8})\.parquet$", key)
        if m and m.group(1) <= last and first <= m.group(2):
            return key
    return None
