"""What Beaconlake costs on AWS for a month: pure arithmetic over published prices.

`PRICES` holds each price with the page it was read from and the date; `monthly_cost` adds up
API Gateway, both Lambdas and their logs, Firehose (ingestion with its per-record 5 KB
rounding, Parquet conversion, dynamic partitioning), S3 and Athena for one `Usage`, and
`levers` recomputes the month with one input changed at a time. `beaconlake cost` prints both.
Only on-demand list prices of us-east-1 are used: no free tier, no savings plans.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

REGION = "us-east-1"
PRICES_READ_ON = "2026-11-23"
GB = 2**30  # AWS bills a "GB" of data as 2^30 bytes and a "TB" as 2^40
TB = 2**40
FIREHOSE_RECORD_UNIT = 5 * 1024
ATHENA_MIN_BYTES = 10 * 2**20


@dataclass(frozen=True)
class Price:
    usd: float
    per: str
    source: str


_APIGW = "https://aws.amazon.com/api-gateway/pricing/"
_LAMBDA = "https://aws.amazon.com/lambda/pricing/"
_FIREHOSE = "https://aws.amazon.com/firehose/pricing/"
_S3 = "https://aws.amazon.com/s3/pricing/"
_ATHENA = "https://aws.amazon.com/athena/pricing/"
_LOGS = "https://aws.amazon.com/cloudwatch/pricing/"

PRICES: dict[str, Price] = {
    "apigw_request": Price(1.00 / 1e6, "HTTP API request (first 300 M a month)", _APIGW),
    "lambda_request": Price(0.20 / 1e6, "Lambda request", _LAMBDA),
    "lambda_gb_second": Price(0.0000133334, "GB-second, arm64 (first 7.5 G GB-s)", _LAMBDA),
    "logs_ingest_gb": Price(0.50, "GB of CloudWatch Logs ingested (standard class)", _LOGS),
    "firehose_ingest_gb": Price(0.029, "GB ingested, each record rounded up to 5 KB", _FIREHOSE),
    "firehose_conversion_gb": Price(0.018, "GB converted to Parquet (5 KB rounding)", _FIREHOSE),
    "firehose_partitioning_gb": Price(0.020, "GB through dynamic partitioning", _FIREHOSE),
    "firehose_partitioning_object": Price(
        0.005 / 1000, "S3 object delivered (dyn. part.)", _FIREHOSE
    ),
    "s3_storage_gb_month": Price(0.023, "GB-month, S3 Standard (first 50 TB)", _S3),
    "s3_put": Price(0.005 / 1000, "S3 PUT request", _S3),
    "s3_get": Price(0.0004 / 1000, "S3 GET request", _S3),
    "athena_tb": Price(5.00, "TB scanned, at least 10 MB a query", _ATHENA),
}


@dataclass(frozen=True)
class Usage:
    """One month of one deployment. The defaults of sizes and durations are what bench/run
    measured on 2026-11-23 (docs/BENCHMARKS.md); the two waits on AWS are assumptions."""

    events_per_month: int
    dashboard_loads: int = 300
    sites: int = 1
    api_gateway: bool = True  # False: a Lambda function URL behind CloudFront
    record_bytes: int = 542  # one event as the JSON line the collector sends to Firehose
    events_per_record: int = 1  # the collector sends one Firehose record per event
    collect_ms: float = 15.1  # collector: 0.1 ms measured + an assumed 15 ms PutRecordBatch
    collect_memory_mb: int = 128
    stats_ms: float = 2000.0  # stats: an assumed 2 s waiting for Athena per query
    stats_memory_mb: int = 512
    # Lambda's START, END and REPORT lines (~350 bytes) are not logged: the stack sets the
    # functions' system log level to WARN (infra_cdk/api.py)
    log_bytes_per_invocation: int = 0
    parquet_bytes_per_event: float = 8.9
    # per query of one dashboard load: Parquet bytes read per event in the range
    scan_bytes_per_event: tuple[float, ...] = (5.0, 4.7, 5.0, 4.0, 5.4, 4.2, 3.9, 3.7)
    gets_per_object: int = 1  # Athena's engine reads a small Parquet file in one request
    buffer_seconds: int = 900  # Firehose buffer interval: one object per partition per interval
    retention_months: int = 13


@dataclass(frozen=True)
class Line:
    service: str
    item: str
    quantity: float
    unit: str
    usd: float


def firehose_billed_bytes(record_bytes: int, records: int) -> int:
    """Firehose bills each record rounded up to the next 5 KB."""
    return math.ceil(record_bytes / FIREHOSE_RECORD_UNIT) * FIREHOSE_RECORD_UNIT * records


def athena_billed_bytes(scanned: float) -> float:
    """Athena bills at least 10 MB per query."""
    return max(float(ATHENA_MIN_BYTES), scanned)


def objects_per_month(u: Usage) -> int:
    """Firehose writes one object per site and day partition per buffer interval."""
    return u.sites * 30 * math.ceil(86400 / u.buffer_seconds)


def _line(service: str, item: str, quantity: float, unit: str, price: str) -> Line:
    return Line(service, item, quantity, unit, quantity * PRICES[price].usd)


def monthly_cost(u: Usage) -> list[Line]:
    events = u.events_per_month
    records = math.ceil(events / u.events_per_record)
    billed = firehose_billed_bytes(u.record_bytes * u.events_per_record, records)
    queries = u.dashboard_loads * len(u.scan_bytes_per_event)
    gb_s_collect = events * u.collect_memory_mb / 1024 * math.ceil(u.collect_ms) / 1000
    gb_s_stats = queries * u.stats_memory_mb / 1024 * math.ceil(u.stats_ms) / 1000
    objects = objects_per_month(u)
    scanned = u.dashboard_loads * sum(
        athena_billed_bytes(b * events / u.sites) for b in u.scan_bytes_per_event
    )
    stored = u.parquet_bytes_per_event * events * u.retention_months
    invocations = events + queries
    gateway = [_line("API Gateway", "requests", invocations, "requests", "apigw_request")]
    return [
        *(gateway if u.api_gateway else []),
        _line("Lambda", "requests", invocations, "requests", "lambda_request"),
        _line("Lambda", "collector duration", gb_s_collect, "GB-s", "lambda_gb_second"),
        _line("Lambda", "stats duration", gb_s_stats, "GB-s", "lambda_gb_second"),
        _line(
            "CloudWatch Logs",
            "Lambda platform lines",
            invocations * u.log_bytes_per_invocation / GB,
            "GB",
            "logs_ingest_gb",
        ),
        _line("Firehose", "ingestion (5 KB records)", billed / GB, "GB", "firehose_ingest_gb"),
        _line("Firehose", "Parquet conversion", billed / GB, "GB", "firehose_conversion_gb"),
        _line("Firehose", "dynamic partitioning", billed / GB, "GB", "firehose_partitioning_gb"),
        _line("Firehose", "objects delivered", objects, "objects", "firehose_partitioning_object"),
        _line("S3", "PUT (Firehose deliveries)", objects, "requests", "s3_put"),
        _line("S3", "storage", stored / GB, "GB-month", "s3_storage_gb_month"),
        _line(
            "S3",
            "GET (Athena reads)",
            queries * objects / u.sites * u.gets_per_object,
            "requests",
            "s3_get",
        ),
        _line("Athena", "data scanned", scanned / TB, "TB", "athena_tb"),
    ]


def total(lines: list[Line]) -> float:
    return sum(line.usd for line in lines)


def per_million_events(u: Usage) -> float:
    return total(monthly_cost(u)) / u.events_per_month * 1e6


def levers(u: Usage) -> list[tuple[str, float]]:
    """What each change alone would make the month cost, cheapest first."""
    changes = {
        "pack 10 events into each Firehose record (5 KB rounding paid once per 10)": replace(
            u, events_per_record=10
        ),
        "compact each day into one Parquet file (fewer objects for Athena to read)": replace(
            u, buffer_seconds=86400
        ),
        "a Lambda function URL behind CloudFront instead of API Gateway": replace(
            u, api_gateway=False
        ),
        "half the dashboard loads (cache answers for past days)": replace(
            u, dashboard_loads=u.dashboard_loads // 2
        ),
    }
    out = [(label, total(monthly_cost(changed))) for label, changed in changes.items()]
    return sorted(out, key=lambda item: item[1])


def report(u: Usage) -> str:
    """The month as a plain-text table, the prices used, and what would lower it."""
    lines = monthly_cost(u)
    out = [
        f"Beaconlake on AWS ({REGION}), {u.events_per_month:,} events a month, "
        f"{u.dashboard_loads:,} dashboard loads of {len(u.scan_bytes_per_event)} queries",
        "",
        f"{'service':<16} {'item':<28} {'quantity':>16} {'unit':<9} {'USD':>9}",
    ]
    out += [
        f"{x.service:<16} {x.item:<28} {x.quantity:>16,.3f} {x.unit:<9} {x.usd:>9.4f}"
        for x in lines
    ]
    out += [
        f"{'total':<72} {total(lines):>9.4f}",
        f"{'per million events':<72} {per_million_events(u):>9.4f}",
        "",
        "What would bring it lower (each change alone; the month would cost):",
    ]
    out += [f"  ${usd:8.4f}  {label}" for label, usd in levers(u)]
    out += ["", f"Prices (on-demand list prices, {REGION}, read {PRICES_READ_ON}):"]
    out += [f"  ${p.usd:.10g} per {p.per}  {p.source}" for p in PRICES.values()]
    return "\n".join(out)
