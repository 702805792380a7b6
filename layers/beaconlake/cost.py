"""What Beaconlake costs on AWS for a month: arithmetic over published prices, for the stack
as `cdk.json` deploys it.

`PRICES` holds each price with its page, the date it was read and AWS's always-free allowance.
`Usage` is one month of traffic plus the deployment's settings (`Usage.deployed` reads them from
cdk.json's context, `-c` overrides included) and the sizes and durations bench/ measured.
`monthly_cost` lists every billed item the stack creates: CloudFront (requests, data out, data
to the origin), the stats API's API Gateway and its access log, the Lambdas (the collector
behind its function URL, stats, the daily job, the salt rotation), X-Ray, CloudWatch (metrics,
alarms, dashboard), Firehose (5 KB rounding, conversion, dynamic partitioning, JQ), S3 (PUT,
GET and LIST per object a query or the daily job touches, storage), Athena (10 MB minimum per
statement), Glue, DynamoDB and KMS. The daily job always runs: past days are read as one
compacted object or one rollup object per table, today as the day's small files so far.
`with_free_tier` applies the always-free allowances (never the 12-month ones), `levers`
recomputes the month with one input changed. On-demand list prices of us-east-1; no savings
plans.
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
# Beacons dropped by design, one metric series per reason (BeaconsDropped: bot, invalid, dnt,
# gpc, unknown_site, origin): with `drop_metrics` on, most hours see each, so each is billed
# for about the whole month. The failure counters (EventsRejected, FirehoseRetries,
# SaltMissing) are published only in an hour something failed: $0.0004 a series-hour.
DROP_REASONS = 6
# The daily job (functions/rollups, beaconlake.stats.rollup_job): S3 requests per run and per
# site-day it compacts and rolls up, counted from adapters/aws_days.py.
JOB_LISTS_PER_RUN = 2  # the sites: events/ and rollups/session_rollup/, by prefix
JOB_LISTS_PER_SITE_RUN = 2  # a site's days: under events/ and under the rollups
JOB_GETS_PER_SITE_RUN = 1  # its state object
JOB_PUTS_PER_SITE_RUN = 1  # its state object, rewritten
# per site-day: compaction lists the day (twice), its staging prefix and the new file; each
# rollup table lists its old files and its staging; Athena lists each UNLOAD's partition
JOB_LISTS_PER_DAY = 4 + 2 * 2 + 3
# per site-day: Athena writes each of the 3 UNLOADs' file, the job copies each into place,
# and writes the day's signature (DELETE requests are free)
JOB_PUTS_PER_DAY = 3 + 3 + 1
JOB_STATEMENTS_PER_DAY = 3  # UNLOADs: the compacted day, page_rollup, session_rollup
# Athena writes each statement's result and its metadata into the results bucket, and reads
# the result back for GetQueryResults
ATHENA_RESULT_PUTS = 2
ATHENA_RESULT_GETS = 1
# S3 server access logging (every bucket but the log bucket) writes a line per request; the
# log bucket keeps them 90 days (infra_cdk.storage)
ACCESS_LOG_MONTHS = 3


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
    "cf_origin_gb": Price(0.020, "GB out to the origin (US)", _CF, _DEC),
    "apigw_request": Price(1.00 / 1e6, "HTTP API request (first 300 M a month)", _APIGW, _NOV),
    "lambda_request": Price(0.20 / 1e6, "Lambda request", _LAMBDA, _NOV, 1_000_000),
    "lambda_gb_second": Price(0.0000133334, "GB-second, arm64", _LAMBDA, _NOV, 400_000),
    "xray_trace": Price(5.00 / 1e6, "trace recorded", _XRAY, _DEC, 100_000),
    "logs_ingest_gb": Price(0.50, "GB of CloudWatch Logs ingested", _CW, _NOV, 5),
    "cw_metric": Price(0.30, "custom metric a month, prorated by the hour", _CW, _DEC, 10),
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
    # CloudFront in front of the tracker, the collector's function URL and the stats API;
    # without it beacons go straight to the function URL (no country) and the stats API to
    # API Gateway. Beacons never pass API Gateway: only the stats API does.
    cloudfront: bool = True
    tracing: bool = False  # X-Ray active on the functions, with its default sampling
    buffer_seconds: int = 300  # Firehose buffer interval
    collect_memory_mb: int = 256
    stats_memory_mb: int = 1024
    retention_months: int = 13
    dashboards: int = 0  # the CloudWatch dashboard, created with `dashboard` (off)
    custom_metrics: int = 0  # series published every hour: DROP_REASONS with `drop_metrics`
    # --- what the stack creates regardless of settings (tests/infra checks the counts) ---
    alarms: int = 5
    job_runs: int = 30 * 24  # the daily job's schedule: every hour
    job_days_checked: int = 3  # days each run checks per site (rollup_job.LOOKBACK_DAYS + 1)
    salt_runs: int = 2 * 30  # rotate_salt: 00:00 UTC and the next day's at 23:55 UTC
    # --- measured or assumed per unit ---
    record_bytes: int = 557  # one event as the JSON line the collector sends to Firehose
    events_per_record: int = 1  # the collector sends one Firehose record per event
    collect_ms: float = 16.7  # collector: 1.7 ms measured warm + an assumed 15 ms PutRecordBatch
    stats_ms: float = 2000.0  # stats: an assumed 2 s waiting for Athena per query
    job_idle_ms: float = 2000.0  # a daily-job run with nothing to write (assumed)
    job_day_ms: float = 40_000.0  # compacting and rolling up one site-day: 3 UNLOADs (assumed)
    job_memory_mb: int = 512
    salt_ms: float = 1000.0  # one salt rotation (assumed)
    access_log_bytes: int = 260  # one API Gateway access-log line (the stack's format)
    s3_log_bytes: int = 400  # one S3 server access-log line (assumed)
    response_bytes: int = 400  # headers and body of a 202 or a stats answer, out of CloudFront
    request_bytes: int = 1000  # a beacon's headers and body, CloudFront to the origin (assumed)
    tracker_loads_per_event: float = 0.1  # tracker.js fetched once a day per visitor (assumed)
    tracker_bytes: int = 1500  # gzipped: tracker_js/dist/tracker.min.js (tests/unit/test_cost.py)
    parquet_bytes_per_event: float = 8.9
    # per query of one dashboard load: Parquet bytes read per event in the range
    scan_bytes_per_event: tuple[float, ...] = (5.0, 4.7, 5.0, 4.0, 5.4, 4.2, 3.9, 3.7)
    rollup_scan_ratio: float = 0.35  # rollups' bytes (read and stored) per event's (assumed)
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
            "buffer_seconds": int(context.get("firehose_buffer_seconds", cls.buffer_seconds)),
            "collect_memory_mb": int(context.get("collector_memory_mb", 256)),
            "stats_memory_mb": int(context.get("stats_memory_mb", 1024)),
            "dashboards": 1 if _flag(context.get("dashboard", False)) else 0,
            "custom_metrics": DROP_REASONS if _flag(context.get("drop_metrics", False)) else 0,
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
    if isinstance(raw, bool):
        return raw
    return str(raw).strip().lower() in ("true", "1", "yes", "on")


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
    """Objects one dashboard query reads: one a past day (the compacted day, or its rollup
    table's file) and today's small objects so far (half a day's, on average)."""
    return (u.range_days - 1) + objects_per_site_day(u) / 2


def query_scanned_bytes(u: Usage, bytes_per_event: float) -> float:
    """What one dashboard query reads: past days from the rollups (`rollup_scan_ratio` of the
    events' bytes), today (half a day, on average) from the events."""
    per_day = u.events_per_month / 30 / u.sites * bytes_per_event
    return per_day * ((u.range_days - 1) * u.rollup_scan_ratio + 0.5)


def _line(service: str, item: str, quantity: float, unit: str, price: str) -> Line:
    return Line(service, item, quantity, unit, quantity * PRICES[price].usd, price)


def _edge(u: Usage, queries: int) -> list[Line]:
    """CloudFront: every beacon, stats request and tracker fetch; without it, nothing."""
    if not u.cloudfront:
        return []
    requests = u.events_per_month + queries
    tracker_loads = u.events_per_month * u.tracker_loads_per_event
    out_bytes = requests * u.response_bytes + tracker_loads * u.tracker_bytes
    return [
        _line("CloudFront", "requests", requests + tracker_loads, "requests", "cf_request"),
        _line("CloudFront", "data out", out_bytes / GB, "GB", "cf_out_gb"),
        _line("CloudFront", "data to the origin", requests * u.request_bytes / GB, "GB",
              "cf_origin_gb"),
    ]  # fmt: skip


def _compute(u: Usage, queries: int) -> list[Line]:
    """API Gateway (the stats API only), the Lambdas, X-Ray."""
    events = u.events_per_month
    day_runs = u.sites * 30  # site-days the daily job compacts and rolls up
    gb_s_collect = events * u.collect_memory_mb / 1024 * math.ceil(u.collect_ms) / 1000
    gb_s_stats = queries * u.stats_memory_mb / 1024 * math.ceil(u.stats_ms) / 1000
    job_ms = u.job_runs * u.job_idle_ms + day_runs * u.job_day_ms
    gb_s_jobs = job_ms * u.job_memory_mb / 1024 / 1000 + u.salt_runs * 0.25 * u.salt_ms / 1000
    invocations = events + queries + u.job_runs + u.salt_runs
    lines = [
        _line("API Gateway", "requests (stats API)", queries, "requests", "apigw_request"),
        _line("CloudWatch", "API access-log lines", queries * u.access_log_bytes / GB, "GB",
              "logs_ingest_gb"),
        _line("Lambda", "requests", invocations, "requests", "lambda_request"),
        _line("Lambda", "collector duration", gb_s_collect, "GB-s", "lambda_gb_second"),
        _line("Lambda", "stats duration", gb_s_stats, "GB-s", "lambda_gb_second"),
        _line("Lambda", "daily job and salts", gb_s_jobs, "GB-s", "lambda_gb_second"),
    ]  # fmt: skip
    if u.tracing:
        traces = traces_recorded(events) + traces_recorded(queries)
        lines.append(_line("X-Ray", "traces recorded", traces, "traces", "xray_trace"))
    return lines


def _storage(u: Usage, queries: int) -> list[Line]:
    """S3 requests and storage, Athena, Glue: the dashboards' queries and the daily job."""
    events = u.events_per_month
    day_runs = u.sites * 30
    objects = objects_per_month(u)
    site_runs = u.job_runs * u.sites
    # the job reads each day's small objects once to compact them, then the compacted file
    # for each rollup; each run reads each site's state and each checked day's signature
    job_gets = day_runs * (objects_per_site_day(u) + 2) + site_runs * (
        JOB_GETS_PER_SITE_RUN + u.job_days_checked
    )
    job_lists = (
        u.job_runs * JOB_LISTS_PER_RUN
        + site_runs * (JOB_LISTS_PER_SITE_RUN + u.job_days_checked)
        + day_runs * JOB_LISTS_PER_DAY
    )
    job_puts = day_runs * JOB_PUTS_PER_DAY + site_runs * JOB_PUTS_PER_SITE_RUN
    state_gets = u.dashboard_loads * u.sites  # the stats function's cached rollup state
    query_gets = queries * objects_per_query(u) * u.gets_per_object
    scanned = u.dashboard_loads * sum(
        athena_billed_bytes(query_scanned_bytes(u, b)) for b in u.scan_bytes_per_event
    )
    day_bytes = events / 30 / u.sites * u.parquet_bytes_per_event
    job_scanned = day_runs * JOB_STATEMENTS_PER_DAY * athena_billed_bytes(day_bytes)
    stored = u.parquet_bytes_per_event * events * u.retention_months * (1 + u.rollup_scan_ratio)
    statements = queries + day_runs * JOB_STATEMENTS_PER_DAY
    puts = [objects, job_puts, statements * ATHENA_RESULT_PUTS]
    gets = [query_gets + state_gets, job_gets, statements * ATHENA_RESULT_GETS]
    lists = [queries * u.range_days, job_lists]
    logged = (sum(puts) + sum(gets) + sum(lists)) * u.s3_log_bytes * ACCESS_LOG_MONTHS
    return [
        _line("S3", "PUT (deliveries)", puts[0], "requests", "s3_put"),
        _line("S3", "PUT, COPY (daily job)", puts[1], "requests", "s3_put"),
        _line("S3", "PUT (Athena results)", puts[2], "requests", "s3_put"),
        _line("S3", "GET (dashboard queries)", gets[0], "requests", "s3_get"),
        _line("S3", "GET (daily job)", gets[1], "requests", "s3_get"),
        _line("S3", "GET (Athena results)", gets[2], "requests", "s3_get"),
        _line("S3", "LIST (a partition a day)", lists[0], "requests", "s3_put"),
        _line("S3", "LIST (daily job)", lists[1], "requests", "s3_put"),
        _line("S3", "storage (events, rollups)", stored / GB, "GB-month", "s3_storage_gb_month"),
        _line("S3", "storage (access logs)", logged / GB, "GB-month", "s3_storage_gb_month"),
        _line("Athena", "data scanned (dashboards)", scanned / TB, "TB", "athena_tb"),
        _line("Athena", "data scanned (daily job)", job_scanned / TB, "TB", "athena_tb"),
        _line("Glue", "catalog requests", statements * 2, "requests", "glue_request"),
    ]


def monthly_cost(u: Usage) -> list[Line]:
    events = u.events_per_month
    records = math.ceil(events / u.events_per_record)
    billed = firehose_billed_bytes(u.record_bytes * u.events_per_record, records)
    queries = u.dashboard_loads * u.queries_per_load
    return [
        *_edge(u, queries),
        *_compute(u, queries),
        _line("CloudWatch", "custom metrics", u.custom_metrics, "metrics", "cw_metric"),
        _line("CloudWatch", "alarms", u.alarms, "alarms", "cw_alarm"),
        _line("CloudWatch", "dashboard", u.dashboards, "dashboards", "cw_dashboard"),
        _line("Firehose", "ingestion (5 KB records)", billed / GB, "GB", "firehose_ingest_gb"),
        _line("Firehose", "Parquet conversion", billed / GB, "GB", "firehose_conversion_gb"),
        _line("Firehose", "dynamic partitioning", billed / GB, "GB", "firehose_partitioning_gb"),
        _line("Firehose", "objects delivered", objects_per_month(u), "objects",
              "firehose_partitioning_object"),
        _line("Firehose", "JQ processing", records * u.jq_ms_per_record / 3.6e6, "hours",
              "firehose_jq_hour"),
        *_storage(u, queries),
        _line("DynamoDB", "key look-ups", queries, "reads", "ddb_read"),
        _line("KMS", "salt decrypts", 2 * 30 * 24, "requests", "kms_request"),
    ]  # fmt: skip


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


# What a deployer can still change (a deploy setting each, see docs/DEPLOY.md), and what it
# gives up: the lever list shows only those that lower the month.
LEVERS: dict[str, dict[str, Any]] = {
    "no CloudFront (-c cloudfront=false): beacons straight to the function URL, no country": {
        "cloudfront": False
    },
    "Firehose buffer of 900 s (-c firehose_buffer_seconds=900): today's figures later": {
        "buffer_seconds": 900
    },
    "stats function at 512 MB (-c stats_memory_mb=512): slower dashboards": {
        "stats_memory_mb": 512
    },
    "X-Ray tracing off": {"tracing": False},
    "no CloudWatch dashboard (-c dashboard=false)": {"dashboards": 0},
    "no drop counters (-c drop_metrics=false)": {"custom_metrics": 0},
    "events kept 3 months (-c retention_days=90)": {"retention_months": 3},
}


def levers(u: Usage) -> list[tuple[str, float]]:
    """What each change alone would make the month cost (no free tiers), cheapest first;
    changes the usage already has, and changes that would not lower it, are left out."""
    now = total(monthly_cost(u))
    out = []
    for label, change in LEVERS.items():
        if all(getattr(u, name) == value for name, value in change.items()):
            continue
        usd = total(monthly_cost(replace(u, **change)))
        if usd < now:
            out.append((label, usd))
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
        f"Deployed: {describe(u)}",
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
    out += [f"  ${usd:8.4f}  {label}" for label, usd in levers(u)] or ["  nothing listed"]
    out += ["", f"Prices (on-demand list prices, {REGION}; always-free allowance a month):"]
    out += [
        f"  ${p.usd:.10g} per {p.per}"
        + (f" (free: {p.free_per_month:,.0f})" if p.free_per_month else "")
        + f"  {p.source} (read {p.read_on})"
        for p in PRICES.values()
    ]
    return "\n".join(out)


def describe(u: Usage) -> str:
    """The deployment's settings that the bill depends on, in one line."""
    ingest = "CloudFront → function URL" if u.cloudfront else "the function URL (no CloudFront)"
    return (
        f"Firehose buffer {u.buffer_seconds} s, Lambda {u.collect_memory_mb}/"
        f"{u.stats_memory_mb} MB, X-Ray {'on' if u.tracing else 'off'}, beacons through "
        f"{ingest}, {u.alarms} alarms, CloudWatch dashboard {'on' if u.dashboards else 'off'}, "
        f"drop counters {'on' if u.custom_metrics else 'off'}; compaction and rollups on "
        "(the daily job, hourly)"
    )
