"""A Firehose stand-in that does what the deployed delivery stream does, read from its
resolved ExtendedS3DestinationConfiguration (tests/aws_box/stack.py):

- dynamic partitioning: the MetadataExtraction processor's JQ query gives each record its
  partition keys; only the JQ the template uses is evaluated (an object of `.field` paths),
  anything else fails loudly when the stream is built;
- the S3 prefix and error prefix, with the `partitionKeyFromQuery`, `timestamp` and `firehose`
  namespaces evaluated as Firehose does;
- record format conversion: each JSON record is deserialized with the Hive JSON SerDe's rules
  against the Glue table's columns (read from Glue, as Firehose does) and written as Parquet
  with the serializer's compression; a record that does not convert, or whose partition keys
  cannot be read, goes under the error prefix as Firehose's error JSON, never under events/;
- buffering: one buffer per evaluated prefix, delivered as one object when it holds the
  buffering hints' size or has waited their interval, by a clock the tests drive.

It is hooked in where the records arrive: moto's Firehose back end's put_record_batch for this
stream (moto has no public hook for delivery), so the collector's FirehoseSink and botocore
client are the real ones."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

MIB = 1024 * 1024


class UnsupportedConfiguration(AssertionError):
    """The delivery stream uses a feature this stand-in does not model."""


class ConversionError(ValueError):
    """A record the Hive JSON SerDe would not convert."""


# ---- JQ: the subset the template uses ---------------------------------------------------------

_JQ_OBJECT = re.compile(r"^\s*\{(?P<body>.*)\}\s*$", re.DOTALL)
_JQ_ENTRY = re.compile(r"^\s*(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*:\s*(?P<path>(\.[A-Za-z_]\w*)+)\s*$")


def compile_jq(query: str) -> Callable[[Any], dict[str, Any]]:
    """`{name: .path, ...}` → a function of a parsed record; anything else raises."""
    match = _JQ_OBJECT.match(query)
    if not match:
        raise UnsupportedConfiguration(f"JQ query {query!r}: only an object of paths is modelled")
    entries: list[tuple[str, list[str]]] = []
    for part in match.group("body").split(","):
        entry = _JQ_ENTRY.match(part)
        if not entry:
            raise UnsupportedConfiguration(f"JQ query {query!r}: cannot evaluate {part!r}")
        entries.append((entry.group("key"), entry.group("path").split(".")[1:]))

    def evaluate(record: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, path in entries:
            value = record
            for step in path:
                if value is None:
                    break
                if not isinstance(value, dict):  # jq: "Cannot index <type> with <step>"
                    raise ConversionError(f"cannot index {type(value).__name__} with {step!r}")
                value = value.get(step)
            out[key] = value
        return out

    return evaluate


# ---- prefixes ---------------------------------------------------------------------------------

_EXPRESSION = re.compile(r"!\{(?P<namespace>[A-Za-z]+):(?P<arg>[^}]*)\}")
_JAVA_DATE = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}


def java_date(pattern: str, at: datetime) -> str:
    """A java.time pattern of the letters Firehose's timestamp namespace is used with."""
    out, rest = [], pattern
    while rest:
        for token, directive in _JAVA_DATE.items():
            if rest.startswith(token):
                out.append(at.strftime(directive))
                rest = rest[len(token) :]
                break
        else:
            if rest[0].isalpha():
                raise UnsupportedConfiguration(f"timestamp pattern {pattern!r}")
            out.append(rest[0])
            rest = rest[1:]
    return "".join(out)


def evaluate_prefix(
    prefix: str, arrival: datetime, keys: dict[str, str], error_type: str | None = None
) -> str:
    def replace(match: re.Match[str]) -> str:
        namespace, arg = match.group("namespace"), match.group("arg")
        if namespace == "partitionKeyFromQuery":
            return keys[arg]
        if namespace == "timestamp":
            return java_date(arg, arrival)
        if namespace == "firehose" and arg == "error-output-type" and error_type:
            return error_type
        if namespace == "firehose" and arg == "random-string":
            return uuid.uuid4().hex[:11]
        raise UnsupportedConfiguration(f"prefix expression {match.group(0)} in {prefix!r}")

    return _EXPRESSION.sub(replace, prefix)


# ---- the Hive JSON SerDe ----------------------------------------------------------------------

_TIMESTAMP = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$")
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_INT_RANGES = {"tinyint": 8, "smallint": 16, "int": 32, "bigint": 64}


def arrow_type(glue_type: str) -> pa.DataType:
    """The Parquet column Firehose's Parquet SerDe writes for a Glue type. Timestamps are
    INT96, as Hive's writer (and so Firehose's) stores them."""
    simple = {
        "string": pa.string(),
        "boolean": pa.bool_(),
        "tinyint": pa.int8(),
        "smallint": pa.int16(),
        "int": pa.int32(),
        "bigint": pa.int64(),
        "double": pa.float64(),
        "float": pa.float32(),
        "timestamp": pa.timestamp("ns"),
        "date": pa.date32(),
        "map<string,string>": pa.map_(pa.string(), pa.string()),
    }
    if glue_type in simple:
        return simple[glue_type]
    decimal = _DECIMAL.match(glue_type)
    if decimal:
        return pa.decimal128(int(decimal.group(1)), int(decimal.group(2)))
    raise UnsupportedConfiguration(f"Glue column type {glue_type!r}")


def _scalar_text(value: Any) -> str:
    """A JSON scalar as the text Hive reads for a string: numbers and booleans as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    raise ConversionError(f"expected a scalar, got {type(value).__name__}")


def hive_value(glue_type: str, value: Any) -> Any:
    """One JSON value read into a Glue column as the Hive JSON SerDe does (default
    TimestampFormats: java.sql.Timestamp.valueOf). Raises ConversionError where it fails."""
    if value is None:
        return None
    if glue_type == "string":
        return _scalar_text(value)
    if glue_type in _INT_RANGES:
        if isinstance(value, bool | float):
            raise ConversionError(f"{value!r} is not an integer")
        try:
            number = int(value) if isinstance(value, int) else int(str(value).strip())
        except ValueError as exc:
            raise ConversionError(f"{value!r} is not an integer") from exc
        bits = _INT_RANGES[glue_type]
        if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
            raise ConversionError(f"{number} is out of range for {glue_type}")
        return number
    if glue_type in ("double", "float"):
        if isinstance(value, bool):
            raise ConversionError(f"{value!r} is not a number")
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise ConversionError(f"{value!r} is not a number") from exc
    if glue_type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ConversionError(f"{value!r} is not a boolean")
    if glue_type == "timestamp":
        if not isinstance(value, str):  # epoch numbers need TimestampFormats ["millis"]
            raise ConversionError(f"{value!r} is not a timestamp (yyyy-mm-dd hh:mm:ss[.f...])")
        match = _TIMESTAMP.match(value)
        if not match:
            raise ConversionError(f"{value!r} is not a timestamp (yyyy-mm-dd hh:mm:ss[.f...])")
        y, mo, d, h, mi, s = (int(g) for g in match.groups()[:6])
        fraction = (match.group(7) or "").ljust(9, "0")
        try:
            base = datetime(y, mo, d, h, mi, s)
        except ValueError as exc:
            raise ConversionError(f"{value!r} is not a valid timestamp") from exc
        return base + timedelta(microseconds=int(fraction) // 1000)
    if glue_type == "map<string,string>":
        if not isinstance(value, dict):
            raise ConversionError(f"{value!r} is not an object")
        return [(str(k), None if v is None else _scalar_text(v)) for k, v in value.items()]
    decimal = _DECIMAL.match(glue_type)
    if decimal:
        precision, scale = int(decimal.group(1)), int(decimal.group(2))
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ConversionError(f"{value!r} is not a decimal")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ConversionError(f"{value!r} is not a decimal") from exc
        if not number.is_finite():
            raise ConversionError(f"{value!r} is not a decimal")
        rounded = number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
        # Hive's HiveDecimal.enforcePrecisionScale: a value that does not fit becomes NULL
        if len(rounded.as_tuple().digits) - (-rounded.as_tuple().exponent) > precision - scale:
            return None
        return rounded
    raise UnsupportedConfiguration(f"Glue column type {glue_type!r}")


def hive_row(columns: list[tuple[str, str]], record: Any) -> dict[str, Any]:
    """A JSON object as a row of the table: keys matched case-insensitively, as Hive
    lower-cases them; keys that are no column (the partition keys) are ignored."""
    if not isinstance(record, dict):
        raise ConversionError("the record is not a JSON object")
    lowered = {str(k).lower(): v for k, v in record.items()}
    return {name: hive_value(kind, lowered.get(name.lower())) for name, kind in columns}


# ---- the stream -------------------------------------------------------------------------------


@dataclass
class Buffer:
    opened: datetime
    rows: list[dict[str, Any]] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)  # error buffers hold Firehose's error JSON
    size: int = 0


@dataclass
class Delivery:
    key: str
    records: int
    size: int
    at: datetime


class ManualClock:
    """The time Firehose sees; tests move it (buffer intervals are minutes)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def set(self, at: datetime) -> None:
        if at < self.now:
            raise ValueError("the clock only moves forward")
        self.now = at


class FirehoseBox:
    def __init__(
        self,
        stream_name: str,
        destination: dict[str, Any],
        s3: Any,
        glue: Any,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.stream_name = stream_name
        self.clock = clock or ManualClock()
        self.s3 = s3
        self.bucket = destination["BucketARN"].split(":::", 1)[1]
        self.prefix = destination.get("Prefix", "")
        self.error_prefix = destination.get("ErrorOutputPrefix", "")
        hints = destination.get("BufferingHints", {})
        self.interval = timedelta(seconds=int(hints.get("IntervalInSeconds", 300)))
        self.size_limit = int(hints.get("SizeInMBs", 5)) * MIB
        self.extension = destination.get("FileExtension", "")
        if destination.get("CompressionFormat", "UNCOMPRESSED") != "UNCOMPRESSED":
            raise UnsupportedConfiguration("S3 compression with format conversion")
        self.partition_keys = self._partitioning(destination)
        self.columns, self.compression = self._conversion(destination, glue)
        self.buffers: dict[tuple[str, str], Buffer] = {}
        self.deliveries: list[Delivery] = []
        self.received = 0
        self._lock = threading.Lock()

    def _partitioning(self, destination: dict[str, Any]) -> Callable[[Any], dict[str, Any]] | None:
        enabled = destination.get("DynamicPartitioningConfiguration", {}).get("Enabled", False)
        processing = destination.get("ProcessingConfiguration", {})
        query = None
        for processor in processing.get("Processors", []) if processing.get("Enabled") else []:
            params = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
            if processor["Type"] != "MetadataExtraction":
                raise UnsupportedConfiguration(f"processor {processor['Type']}")
            if params.get("JsonParsingEngine", "JQ-1.6") != "JQ-1.6":
                raise UnsupportedConfiguration(f"JSON parsing engine {params}")
            query = params["MetadataExtractionQuery"]
        if not enabled:
            if "partitionKeyFromQuery" in self.prefix:
                raise UnsupportedConfiguration("partition keys in the prefix need partitioning")
            return None
        if query is None:
            raise UnsupportedConfiguration("dynamic partitioning without a MetadataExtraction")
        if not self.error_prefix:  # Firehose refuses dynamic partitioning without one
            raise UnsupportedConfiguration("dynamic partitioning needs an ErrorOutputPrefix")
        return compile_jq(query)

    def _conversion(
        self, destination: dict[str, Any], glue: Any
    ) -> tuple[list[tuple[str, str]] | None, str]:
        conversion = destination.get("DataFormatConversionConfiguration", {})
        if not conversion.get("Enabled", False):
            return None, "NONE"
        deserializer = conversion["InputFormatConfiguration"]["Deserializer"]
        if set(deserializer) != {"HiveJsonSerDe"} or deserializer["HiveJsonSerDe"].get(
            "TimestampFormats"
        ):
            raise UnsupportedConfiguration(f"deserializer {deserializer}")
        serializer = conversion["OutputFormatConfiguration"]["Serializer"]
        if set(serializer) != {"ParquetSerDe"}:
            raise UnsupportedConfiguration(f"serializer {serializer}")
        schema = conversion["SchemaConfiguration"]
        table = glue.get_table(DatabaseName=schema["DatabaseName"], Name=schema["TableName"])
        columns = [
            (c["Name"], c["Type"].replace(" ", ""))
            for c in table["Table"]["StorageDescriptor"]["Columns"]
        ]
        for _, kind in columns:
            arrow_type(kind)  # fails loudly on a type this stand-in cannot write
        return columns, serializer["ParquetSerDe"].get("Compression", "SNAPPY")

    # ---- records in -------------------------------------------------------------------------

    def put(self, records: list[bytes]) -> list[dict[str, str]]:
        """Accept a PutRecordBatch: every record is buffered (or routed to the errors);
        buffers that are due are delivered first, as time has passed."""
        with self._lock:
            self._deliver_due()
            arrival = self.clock()
            for data in records:
                self.received += 1
                self._accept(data, arrival)
            self._deliver_due()
        return [{"RecordId": uuid.uuid4().hex} for _ in records]

    def _accept(self, data: bytes, arrival: datetime) -> None:
        try:
            record = json.loads(data)
        except ValueError:
            self._error(data, arrival, "partitioning-failed", "Non JSON record provided")
            return
        keys: dict[str, str] = {}
        if self.partition_keys is not None:
            try:
                found = self.partition_keys(record)
            except ConversionError as exc:
                self._error(data, arrival, "partitioning-failed", str(exc))
                return
            missing = [k for k, v in found.items() if v is None or isinstance(v, dict | list)]
            if missing:
                message = f"partition keys {missing} not found or not scalar"
                self._error(data, arrival, "partitioning-failed", message)
                return
            keys = {k: _scalar_text(v) for k, v in found.items()}
        if self.columns is None:
            raise UnsupportedConfiguration("a stream without format conversion")
        try:
            row = hive_row(self.columns, record)
        except ConversionError as exc:
            self._error(data, arrival, "format-conversion-failed", str(exc))
            return
        prefix = evaluate_prefix(self.prefix, arrival, keys)
        buffer = self.buffers.setdefault(("data", prefix), Buffer(arrival))
        buffer.rows.append(row)
        buffer.size += len(data)
        if buffer.size >= self.size_limit:
            self._deliver(("data", prefix))

    def _error(self, data: bytes, arrival: datetime, kind: str, message: str) -> None:
        code = {
            "partitioning-failed": "DynamicPartitioning.MetadataExtractionFailed",
            "format-conversion-failed": "DataFormatConversion.MalformedData",
        }[kind]
        line = {
            "attemptsMade": 1,
            "arrivalTimestamp": int(arrival.timestamp() * 1000),
            "errorCode": code,
            "errorMessage": message,
            "attemptEndingTimestamp": int(arrival.timestamp() * 1000),
            "rawData": base64.b64encode(data).decode(),
        }
        prefix = evaluate_prefix(self.error_prefix, arrival, {}, error_type=kind)
        buffer = self.buffers.setdefault(("error", prefix), Buffer(arrival))
        buffer.lines.append((json.dumps(line) + "\n").encode())
        buffer.size += len(data)

    # ---- delivery ---------------------------------------------------------------------------

    def _deliver_due(self) -> None:
        now = self.clock()
        for key in [k for k, b in self.buffers.items() if now - b.opened >= self.interval]:
            self._deliver(key)

    def _deliver(self, key: tuple[str, str]) -> None:
        kind, prefix = key
        buffer = self.buffers.pop(key)
        at = self.clock()
        name = f"{self.stream_name}-1-{at.strftime('%Y-%m-%d-%H-%M-%S')}-{uuid.uuid4()}"
        if kind == "data":
            assert self.columns is not None
            schema = pa.schema([pa.field(n, arrow_type(t)) for n, t in self.columns])
            table = pa.Table.from_pylist(buffer.rows, schema=schema)
            sink = io.BytesIO()
            pq.write_table(
                table,
                sink,
                compression=self.compression.lower(),
                use_deprecated_int96_timestamps=True,
            )
            body, records = sink.getvalue(), len(buffer.rows)
            object_key = f"{prefix}{name}{self.extension}"
        else:
            body, records = b"".join(buffer.lines), len(buffer.lines)
            object_key = f"{prefix}{name}"
        self.s3.put_object(Bucket=self.bucket, Key=object_key, Body=body)
        self.deliveries.append(Delivery(object_key, records, len(body), at))

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass (the clock must be a ManualClock) and deliver what is due."""
        assert isinstance(self.clock, ManualClock), "advance needs the stand-in's own clock"
        self.clock.set(self.clock() + timedelta(seconds=seconds))
        with self._lock:
            self._deliver_due()

    def drain(self) -> None:
        """Wait out the buffer interval: everything buffered is delivered."""
        if isinstance(self.clock, ManualClock):
            self.advance(self.interval.total_seconds())
        else:
            with self._lock:
                for key in list(self.buffers):
                    self._deliver(key)

    @property
    def buffered(self) -> int:
        return sum(len(b.rows) + len(b.lines) for b in self.buffers.values())
