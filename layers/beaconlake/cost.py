"""What Beaconlake costs on AWS for a month: arithmetic over published prices, for the stack
as `cdk.json` deploys it.

`PRICES` holds each price with its page, the date it was read and AWS's always-free allowance.
`Usage` is one month of traffic plus the deployment's settings (`Usage.deployed` reads them from
cdk.json's context, `-c` overrides included) and the sizes and durations bench/ measured.
`monthly_cost` lists every billed item the stack creates: CloudFront, API Gateway, both Lambdas,
X-Ray, CloudWatch (logs, metrics, alarms, dashboard), Firehose (5 KB rounding, conversion,
dynamic partitioning, JQ), S3 (PUT, GET and LIST per object a query reads, storage), Athena
(10 MB minimum per query), Glue, DynamoDB and KMS; `with_free_tier` applies the always-free
allowances (never the 12-month ones), `levers` recomputes the month with one input changed.
On-demand list prices of us-east-1; no savings plans.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

REGION = "us-east-1"
GB = 2**30  # AWS bills a "GB" of data as 2^30 bytes and a "TB" as 2^40
TB = 2**40
MONTH_SECONDS = 30 * 86400
FIREHOSE_RECORD_UNIT = 5 * 1024
ATHENA_MIN_BYTES = 10 * 2**20


@dataclass(frozen=True)
class Price:
    usd: float
    per: str
    source: str
    read_on: str
    free_per_month: float = 0.0  # AWS's always-free allowance, in the unit of `per`


_CF = "https://aws.amazon.com/cloudfront/pricing/"
_APIGW = "https://aws.amazon.com/api-gateway/pricing/"
_LAMBDA = "https://aws.amazon.com/lambda/pricing/"
_XRAY = "https://aws.amazon.com/xray/pricing/"
_CW = "https://aws.amazon.com/cloudwatch/pricing/"
_FIREHOSE = "https://aws.amazon.com/firehose/pricing/"
_S3 = "https://aws.amazon.com/s3/pricing/"
_ATHENA = "https://aws.amazon.com/athena/pricing/"
_GLUE = "https://aws.amazon.com/glue/pricing/"
_DDB = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
_KMS = "https://aws.amazon.com/kms/pricing/"
_NOV = "2026-11-23"
_DEC = "2026-12-07"

PRICES: dict[str, Price] = {
    "cf_request": Price(0.0100 / 1e4, "HTTPS request (US)", _CF, _DEC, 10_000_000),
    "cf_out_gb": Price(0.085, "GB out to the internet (US, first 10 TB)", _CF, _DEC, 1024),
    "apigw_request": Price(1.00 / 1e6, "HTTP API request (first 300 M a month)", _APIGW, _NOV),
    "lambda_request": Price(0.20 / 1e6, "Lambda request", _LAMBDA, _NOV, 1_000_000),
    "lambda_gb_second": Price(0.0000133334, "GB-second, arm64", _LAMBDA, _NOV, 400_000),
    "xray_trace": Price(5.00 / 1e6, "trace recorded", _XRAY, _DEC, 100_000),
    "logs_ingest_gb": Price(0.50, "GB of CloudWatch Logs ingested", _CW, _NOV, 5),
    "cw_metric": Price(0.30, "custom metric a month (first 10,000)", _CW, _DEC, 10),
    "cw_alarm": Price(0.10, "standard-resolution alarm metric a month", _CW, _DEC, 10),
    "cw_dashboard": Price(3.00, "dashboard a month", _CW, _DEC, 3),
    "firehose_ingest_gb": Price(
        0.029, "GB ingested, each record rounded up to 5 KB", _FIREHOSE, _NOV
    ),
    "firehose_conversion_gb": Price(
        0.018, "GB converted to Parquet (5 KB rounding)", _FIREHOSE, _NOV
    ),
    "firehose_partitioning_gb": Price(0.020, "GB through dynamic partitioning", _FIREHOSE, _NOV),
    "firehose_partitioning_object": Price(
        0.005 / 1000, "S3 object delivered (dyn. part.)", _FIREHOSE, _NOV
    ),
    "firehose_jq_hour": Price(0.07, "JQ processing hour (dyn. part.)", _FIREHOSE, _DEC),
    "s3_storage_gb_month": Price(0.023, "GB-month, S3 Standard (first 50 TB)", _S3, _NOV),
    "s3_put": Price(0.005 / 1000, "S3 PUT, COPY, POST or LIST request", _S3, _NOV),
    "s3_get": Price(0.0004 / 1000, "S3 GET request", _S3, _NOV),
    "athena_tb": Price(5.00, "TB scanned, at least 10 MB a query", _ATHENA, _NOV),
    "glue_request": Price(1.00 / 1e6, "Data Catalog request", _GLUE, _DEC, 1_000_000),
    "ddb_read": Price(0.125 / 1e6, "DynamoDB read request unit (on-demand)", _DDB, _DEC),
    "ddb_write": Price(0.625 / 1e6, "DynamoDB write request unit (on-demand)", _DDB, _DEC),
    "kms_request": Price(0.03 / 1e4, "KMS request (SSM SecureString decrypt)", _KMS, _DEC, 20_000),
}


@dataclass(frozen=True)
class Usage:
    """One month of one deployment. Sizes and durations are what bench/run measured
    (docs/BENCHMARKS.md) unless a comment says it is an assumption; the deployment's settings
    default to cdk.json's as of this commit (`deployed` reads the file)."""

    events_per_month: int
    dashboard_loads: int = 200
    sites: int = 1
    # --- the deployment (cdk.json) ---
    cloudfront: bool = True  # CloudFront in front of the tracker, ingest and the stats API
    api_gateway: bool = True  # False: a Lambda function URL behind CloudFront
    tracing: bool = False  # X-Ray active on both functions, with its default sampling
    buffer_seconds: int = 120  # Firehose buffer interval
    collect_memory_mb: int = 256
    stats_memory_mb: int = 1024
    retention_months: int = 13
    alarms: int = 13  # CloudWatch alarms the stack creates (tests/infra checks the count)
    # metric series: BeaconsDropped for 6 reasons (dnt, gpc, localhost, unknown_site, bot,
    # origin), EventsRejected, FirehoseRetries, SaltMissing, and the stats' failed-query filter
    custom_metrics: int = 10
    dashboards: int = 1  # the stack's CloudWatch dashboard (tests/infra checks the count)
    # --- what the stack does not do yet (docs/COST.md: the levers) ---
    compacted: bool = False  # one object per site and past day (the daily job, not deployed)
    rolled_up: bool = False  # past days answered from session rollups (not deployed)
    # --- measured or assumed per unit ---
    record_bytes: int = 557  # one event as the JSON line the collector sends to Firehose
    events_per_record: int = 1  # the collector sends one Firehose record per event
    collect_ms: float = 16.7  # collector: 1.7 ms measured warm + an assumed 15 ms PutRecordBatch
    stats_ms: float = 2000.0  # stats: an assumed 2 s waiting for Athena per query
    access_log_bytes: int = 260  # one API Gateway access-log line (the stack's format)
    response_bytes: int = 400  # headers and body of a 202 or a stats answer, out of CloudFront
    tracker_loads_per_event: float = 0.1  # tracker.js fetched once a day per visitor (assumed)
    tracker_bytes: int = 1448  # gzipped
    parquet_bytes_per_event: float = 8.9
    # per query of one dashboard load: Parquet bytes read per event in the range
    scan_bytes_per_event: tuple[float, ...] = (5.0, 4.7, 5.0, 4.0, 5.4, 4.2, 3.9, 3.7)
    rollup_scan_ratio: float = 0.35  # rollup rows per event, relative bytes (assumed)
    gets_per_object: int = 1  # Athena's engine reads a small Parquet file in one request
    jq_ms_per_record: float = 0.05  # Firehose's JQ time per record (assumed)
    range_days: int = 30  # the dashboard's default range

    @classmethod
    def deployed(cls, context: dict[str, Any], **traffic: Any) -> Usage:
        """The month for the stack as cdk.json's `context` (with any -c overrides, as text)
        deploys it: the settings the bill depends on, read as infra_cdk.settings reads them
        (tests/unit/test_cost.py checks that the two agree)."""
        retention_days = int(context.get("retention_days") or 0)
        settings: dict[str, Any] = {
            "cloudfront": _flag(context.get("cloudfront", True)),
            "tracing": _flag(context.get("tracing", False)),
            "buffer_seconds": int(context.get("firehose_buffer_seconds", 120)),
            "collect_memory_mb": int(context.get("collector_memory_mb", 256)),
            "stats_memory_mb": int(context.get("stats_memory_mb", 1024)),
        }
        if retention_days:
            settings["retention_months"] = max(1, math.ceil(retention_days / 30))
        sites = context.get("sites") or []
        names = sites if isinstance(sites, list) else str(sites).split(",")
        if any(str(n).strip() for n in names):
            settings["sites"] = sum(1 for n in names if str(n).strip())
        return cls(**{**settings, **traffic})

    @property
    def queries_per_load(self) -> int:
        return len(self.scan_bytes_per_event)


@dataclass(frozen=True)
class Line:
    service: str
    item: str
    quantity: float
    unit: str
    usd: float
    price: str  # the key in PRICES


def _flag(raw: Any) -> bool:
    """A boolean setting from cdk.json (true) or from -c (the text "true")."""
    return raw if isinstance(raw, bool) else str(raw).strip().lower() in ("true", "1", "yes")


def firehose_billed_bytes(record_bytes: int, records: int) -> int:
    """Firehose bills each record rounded up to the next 5 KB."""
    return math.ceil(record_bytes / FIREHOSE_RECORD_UNIT) * FIREHOSE_RECORD_UNIT * records


def athena_billed_bytes(scanned: float) -> float:
    """Athena bills at least 10 MB per query."""
    return max(float(ATHENA_MIN_BYTES), scanned)


def traces_recorded(requests: float) -> float:
    """X-Ray's default sampling: the first request each second, then 5 % of the rest."""
    reservoir = min(requests, MONTH_SECONDS)
    return reservoir + 0.05 * (requests - reservoir)


def objects_per_site_day(u: Usage) -> float:
    """Firehose writes one object per site and day partition per buffer interval that saw an
    event (at most one an interval)."""
    intervals = math.ceil(86400 / u.buffer_seconds)
    return min(intervals, u.events_per_month / 30 / u.sites)


def objects_per_month(u: Usage) -> float:
    return u.sites * 30 * objects_per_site_day(u)


def objects_per_query(u: Usage) -> float:
    """Objects one dashboard query reads: every Firehose object of the range, or, once the
    daily job compacts past days, one a past day and today's small objects (half a day's)."""
    if u.compacted:
        return (u.range_days - 1) + objects_per_site_day(u) / 2
    return u.range_days * objects_per_site_day(u)


def _line(service: str, item: str, quantity: float, unit: str, price: str) -> Line:
    return Line(service, item, quantity, unit, quantity * PRICES[price].usd, price)


def monthly_cost(u: Usage) -> list[Line]:
    events = u.events_per_month
    records = math.ceil(events / u.events_per_record)
    billed = firehose_billed_bytes(u.record_bytes * u.events_per_record, records)
    queries = u.dashboard_loads * u.queries_per_load
    api_requests = events + queries
    tracker_loads = events * u.tracker_loads_per_event
    gb_s_collect = events * u.collect_memory_mb / 1024 * math.ceil(u.collect_ms) / 1000
    gb_s_stats = queries * u.stats_memory_mb / 1024 * math.ceil(u.stats_ms) / 1000
    per_site = events / u.sites * u.range_days / 30  # events one dashboard range holds
    ratio = u.rollup_scan_ratio if u.rolled_up else 1.0
    scanned = u.dashboard_loads * sum(
        athena_billed_bytes(b * per_site * ratio) for b in u.scan_bytes_per_event
    )
    objects = objects_per_month(u)
    compaction_puts = u.sites * 30 if u.compacted else 0
    stored = u.parquet_bytes_per_event * events * u.retention_months
    lines: list[Line] = []
    if u.cloudfront:
        out_bytes = api_requests * u.response_bytes + tracker_loads * u.tracker_bytes
        lines += [
            _line("CloudFront", "requests", api_requests + tracker_loads, "requests", "cf_request"),
            _line("CloudFront", "data out", out_bytes / GB, "GB", "cf_out_gb"),
        ]
    if u.api_gateway:
        lines += [
            _line("API Gateway", "requests", api_requests, "requests", "apigw_request"),
            _line(
                "CloudWatch",
                "API access-log lines",
                api_requests * u.access_log_bytes / GB,
                "GB",
                "logs_ingest_gb",
            ),
        ]
    lines += [
        _line("Lambda", "requests", api_requests, "requests", "lambda_request"),
        _line("Lambda", "collector duration", gb_s_collect, "GB-s", "lambda_gb_second"),
        _line("Lambda", "stats duration", gb_s_stats, "GB-s", "lambda_gb_second"),
    ]
    if u.tracing:
        traces = traces_recorded(events) + traces_recorded(queries)
        lines.append(_line("X-Ray", "traces recorded", traces, "traces", "xray_trace"))
    lines += [
        _line("CloudWatch", "custom metrics", u.custom_metrics, "metrics", "cw_metric"),
        _line("CloudWatch", "alarms", u.alarms, "alarms", "cw_alarm"),
        _line("CloudWatch", "dashboard", u.dashboards, "dashboards", "cw_dashboard"),
        _line("Firehose", "ingestion (5 KB records)", billed / GB, "GB", "firehose_ingest_gb"),
        _line("Firehose", "Parquet conversion", billed / GB, "GB", "firehose_conversion_gb"),
        _line("Firehose", "dynamic partitioning", billed / GB, "GB", "firehose_partitioning_gb"),
        _line("Firehose", "objects delivered", objects, "objects", "firehose_partitioning_object"),
        _line("Firehose", "JQ processing", records * u.jq_ms_per_record / 3.6e6, "hours", "firehose_jq_hour"),
        _line("S3", "PUT (deliveries, compaction)", objects + compaction_puts, "requests", "s3_put"),
        _line("S3", "GET (Athena reads)", queries * objects_per_query(u) * u.gets_per_object, "requests", "s3_get"),
        _line("S3", "LIST (a partition a day)", queries * u.range_days, "requests", "s3_put"),
        _line("S3", "storage", stored / GB, "GB-month", "s3_storage_gb_month"),
        _line("Athena", "data scanned", scanned / TB, "TB", "athena_tb"),
        _line("Glue", "catalog requests", queries * 2, "requests", "glue_request"),
        _line("DynamoDB", "key look-ups", queries, "reads", "ddb_read"),
        _line("KMS", "salt decrypts", 2 * 30 * 24, "requests", "kms_request"),
    ]  # fmt: skip
    return lines


def with_free_tier(lines: list[Line]) -> list[Line]:
    """The same lines with AWS's always-free allowance taken off, shared by the lines that
    draw on the same price, in order."""
    left: dict[str, float] = defaultdict(float)
    for key, price in PRICES.items():
        left[key] = price.free_per_month
    out = []
    for line in lines:
        free = min(left[line.price], line.quantity)
        left[line.price] -= free
        out.append(replace(line, usd=(line.quantity - free) * PRICES[line.price].usd))
    return out


def total(lines: list[Line]) -> float:
    return sum(line.usd for line in lines)


def per_million_events(u: Usage, free_tier: bool = False) -> float:
    lines = monthly_cost(u)
    return total(with_free_tier(lines) if free_tier else lines) / u.events_per_month * 1e6


LEVERS: dict[str, dict[str, Any]] = {
    "compact each past day into one Parquet file (the daily job)": {"compacted": True},
    "compaction and session rollups for past days": {"compacted": True, "rolled_up": True},
    "X-Ray tracing off": {"tracing": False},
    "no CloudWatch dashboard (the stack's alarms stay)": {"dashboards": 0},
    "Firehose buffer of 900 s instead of the deployed interval": {"buffer_seconds": 900},
    "a Lambda function URL behind CloudFront instead of API Gateway": {"api_gateway": False},
    "pack 10 events into each Firehose record (5 KB rounding paid once per 10)": {
        "events_per_record": 10
    },
}


def levers(u: Usage) -> list[tuple[str, float]]:
    """What each change alone would make the month cost (no free tiers), cheapest first;
    changes the usage already has are left out."""
    out = [
        (label, total(monthly_cost(replace(u, **change))))
        for label, change in LEVERS.items()
        if any(getattr(u, name) != value for name, value in change.items())
    ]
    return sorted(out, key=lambda item: item[1])


def report(u: Usage) -> str:
    """The month as a plain-text table (without and with the always-free tiers), the prices
    used, and what would lower it."""
    lines = monthly_cost(u)
    free = with_free_tier(lines)
    out = [
        f"Beaconlake on AWS ({REGION}), {u.events_per_month:,} events a month, "
        f"{u.dashboard_loads:,} dashboard loads of {u.queries_per_load} queries, "
        f"{u.sites} site(s)",
        f"Deployed: Firehose buffer {u.buffer_seconds} s, Lambda {u.collect_memory_mb}/"
        f"{u.stats_memory_mb} MB, X-Ray {'on' if u.tracing else 'off'}, CloudFront "
        f"{'on' if u.cloudfront else 'off'}, compaction {'on' if u.compacted else 'off'}, "
        f"rollups {'on' if u.rolled_up else 'off'}",
        "",
        f"{'service':<12} {'item':<30} {'quantity':>16} {'unit':<9} {'USD':>9} {'free tier':>9}",
    ]
    out += [
        f"{x.service:<12} {x.item:<30} {x.quantity:>16,.3f} {x.unit:<9} {x.usd:>9.4f} {f.usd:>9.4f}"
        for x, f in zip(lines, free, strict=True)
    ]
    out += [
        f"{'total':<70} {total(lines):>9.4f} {total(free):>9.4f}",
        f"{'per million events':<70} {per_million_events(u):>9.4f}"
        f" {per_million_events(u, free_tier=True):>9.4f}",
        "",
        "What would bring it lower (each change alone, no free tiers; the month would cost):",
    ]
    out += [f"  ${usd:8.4f}  {label}" for label, usd in levers(u)]
    out += ["", f"Prices (on-demand list prices, {REGION}; always-free allowance a month):"]
    out += [
        f"  ${p.usd:.10g} per {p.per}"
        + (f" (free: {p.free_per_month:,.0f})" if p.free_per_month else "")
        + f"  {p.source} (read {p.read_on})"
        for p in PRICES.values()
    ]
    return "\n".join(out)
