"""UNLOAD in the Athena stand-in (tests/aws_box/athena.py), as Athena documents it
(https://docs.aws.amazon.com/athena/latest/ug/unload.html):

- `UNLOAD (SELECT …) TO 's3://bucket/prefix/' WITH (property = 'value', …)`: the inner SELECT
  is what Athena checks, plans, bills (as a SELECT) and runs; execution parameters fill its `?`;
- the target must hold no object yet: Athena checks before writing, and never overwrites;
- `format` is required; the stand-in writes TEXTFILE (exports) and PARQUET (the daily job's
  compaction and rollups) and refuses the others rather than guess their byte layout;
  `field_delimiter` (TEXTFILE only, default \\001), `compression` (TEXTFILE: GZIP, Athena's
  examples' default, or NONE; PARQUET: SNAPPY, its default, GZIP, ZSTD or NONE) are
  honoured; `partitioned_by` is refused (not modelled);
- PARQUET: the columns keep the SELECT's names and types (as Athena writes Hive types), one
  file per ROWS_PER_FILE rows;
- TEXTFILE: one line per row, the columns joined by the delimiter, NULL written as \\N, no
  header row and no quoting; files written in parallel: each file's rows are in the SELECT's
  order, the files are not ordered relative to each other (random names here);
- the answer has no rows; GetQueryResults' UpdateCount is the number of rows written."""

from __future__ import annotations

import gzip
import io
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tests.aws_box.athena_sql import QueryFailure, athena_text

ROWS_PER_FILE = 250_000  # Athena splits the output over writers; so does the stand-in
FORMATS = {"TEXTFILE", "JSON", "PARQUET", "ORC", "AVRO"}
# what the stand-in writes: format → its compressions, the default first
COMPRESSIONS = {"TEXTFILE": ("GZIP", "NONE"), "PARQUET": ("SNAPPY", "GZIP", "ZSTD", "NONE")}
_UNLOAD = re.compile(
    r"^\s*UNLOAD\s*\((?P<select>.*)\)\s*TO\s*'(?P<target>[^']*)'\s*WITH\s*\((?P<props>.*)\)\s*$",
    re.S | re.I,
)
_PROPERTY = re.compile(r"\s*(\w+)\s*=\s*'((?:[^']|'')*)'\s*(?:,|$)")


@dataclass(frozen=True)
class Unload:
    select: str
    bucket: str
    prefix: str
    format: str
    delimiter: str
    compression: str


def is_unload(statement: str) -> bool:
    return statement.lstrip().upper().startswith("UNLOAD")


def parse_unload(statement: str) -> Unload:
    found = _UNLOAD.match(statement)
    if found is None:
        raise QueryFailure("rules", "SYNTAX_ERROR: UNLOAD (SELECT …) TO 's3://…/' WITH (…)")
    target = found["target"]
    if not target.startswith("s3://") or "/" not in target[5:]:
        raise QueryFailure("rules", f"INVALID_LOCATION: {target!r} is not an S3 location")
    bucket, _, prefix = target[5:].partition("/")
    props: dict[str, str] = {}
    rest = found["props"].strip()
    while rest:
        match = _PROPERTY.match(rest)
        if match is None:
            raise QueryFailure("rules", f"the Athena stand-in cannot read UNLOAD's WITH ({rest})")
        props[match[1].lower()] = match[2].replace("''", "'")
        rest = rest[match.end() :].strip()
    unknown = set(props) - {"format", "field_delimiter", "compression"}
    if unknown:
        raise QueryFailure("rules", f"the Athena stand-in does not model UNLOAD's {unknown}")
    fmt = props.get("format", "").upper()
    if fmt not in FORMATS:
        raise QueryFailure("rules", "UNLOAD needs format = one of " + ", ".join(sorted(FORMATS)))
    if fmt not in COMPRESSIONS:
        raise QueryFailure("engine", f"the Athena stand-in writes TEXTFILE and PARQUET, not {fmt}")
    if "field_delimiter" in props and fmt != "TEXTFILE":
        raise QueryFailure("rules", "field_delimiter is a TEXTFILE property")
    compression = props.get("compression", COMPRESSIONS[fmt][0]).upper()
    if compression not in COMPRESSIONS[fmt]:
        raise QueryFailure(
            "engine", f"the Athena stand-in cannot compress {fmt} with {compression}"
        )
    return Unload(
        found["select"].strip(),
        bucket,
        prefix if prefix.endswith("/") or not prefix else prefix + "/",
        fmt,
        props.get("field_delimiter", "\x01"),
        compression,
    )


def check_empty(s3: Any, unload: Unload) -> None:
    """Athena refuses a target that holds any object (it never overwrites)."""
    held = s3.list_objects_v2(Bucket=unload.bucket, Prefix=unload.prefix, MaxKeys=1)
    if held.get("KeyCount", 0):
        raise QueryFailure(
            "target",
            "HIVE_PATH_ALREADY_EXISTS: Target directory for UNLOAD already exists: "
            f"s3://{unload.bucket}/{unload.prefix}",
        )


def write_unload(s3: Any, unload: Unload, result: Any) -> int:
    """Write a DuckDB result as UNLOAD's files; the number of rows written."""
    if unload.format == "PARQUET":
        return _write_parquet(s3, unload, result)
    written = 0
    while batch := result.fetchmany(ROWS_PER_FILE):
        lines = [
            unload.delimiter.join("\\N" if v is None else athena_text(v) for v in row)
            for row in batch
        ]
        body = ("\n".join(lines) + "\n").encode()
        name = uuid.uuid4().hex
        if unload.compression == "GZIP":
            body, name = gzip.compress(body, compresslevel=1), name + ".gz"
        s3.put_object(Bucket=unload.bucket, Key=unload.prefix + name, Body=body)
        written += len(batch)
    return written


def _write_parquet(s3: Any, unload: Unload, result: Any) -> int:
    written = 0
    reader = result.to_arrow_reader(ROWS_PER_FILE)
    for batch in reader:
        if not batch.num_rows:
            continue
        sink = io.BytesIO()
        pq.write_table(pa.Table.from_batches([batch]), sink, compression=unload.compression.lower())
        key = unload.prefix + uuid.uuid4().hex
        s3.put_object(Bucket=unload.bucket, Key=key, Body=sink.getvalue())
        written += batch.num_rows
    return written
