"""What one dashboard load costs on AWS, before and after the daily job, measured in the
AWS-in-a-box suite (tests/aws_box): the synthesized stack in moto, Athena's rules and billing
in the stand-in, the real stats and rollups Lambda handlers.

A site of `--events-per-month` events (default 10 M): `--days` past days (default 30) and half
of today, each day's events in the objects Firehose delivers at the deployed buffer (one per
interval of cdk.json's `firehose_buffer_seconds`), written straight into the events bucket (the collector's path is measured
elsewhere: 10 M beacons through it would take hours here). Then the overview's requests of the
dashboard (layers/beaconlake/dashboard/static/app.mjs: the cards with the previous period,
the chart, the first tab of each panel) are sent for the last 30 days and today, once before
the daily job ran and once after it compacted every past day and wrote its rollups.
Per request: Athena statements, bytes scanned (as Athena reports them: the referenced columns'
compressed chunks) and billed (10 MB minimum, whole MB), objects read.

    .venv/bin/python -m bench.aws_dashboard [--events-per-month 10000000] [--days 30]

Writes docs/BENCHMARKS.md's `aws-dashboard` block and bench/out/aws_dashboard.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import tempfile
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq

from beaconlake.adapters.aws import AthenaEngine
from beaconlake.schema import arrow_schema
from bench.docblocks import replace_generated, table
from tests.aws_box.conftest import Box, aws_box
from tests.aws_box.stack import REGION, Stack

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DOC = ROOT / "docs" / "BENCHMARKS.md"
BLOCK = "aws-dashboard"
SITE = "example.com"
TODAY = date(2026, 3, 31)
NOON = datetime.combine(TODAY, time(12), UTC)
PAGES = [f"/page/{n}" for n in range(60)]
SOURCES = [None, "Google", "Bing", "news.example", "Twitter"]


def overview(first: date, last: date) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, path, body) of the requests the dashboard's overview sends on load."""
    span = [first.isoformat(), last.isoformat()]

    def v2(**body: Any) -> dict[str, Any]:
        return {"site_id": SITE, "date_range": span, **body}

    cards = ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"]
    panels = [
        ("top pages", "event:page", ["visitors", "pageviews"]),
        ("channels", "visit:channel", ["visitors", "bounce_rate"]),
        ("countries", "visit:country", ["visitors", "percentage"]),
        ("browsers", "visit:browser", ["visitors", "percentage"]),
        ("custom events", "event:name", ["visitors", "events"]),
    ]
    compare = {"comparisons": {"mode": "previous_period"}}
    return [
        ("cards", "/api/v2/query", v2(metrics=cards, include=compare)),
        ("chart", "/api/v2/query", v2(metrics=["visitors", "pageviews"], dimensions=["time:day"])),
        *(
            (name, "/api/v2/query", v2(metrics=m, dimensions=[d], pagination={"limit": 10}))
            for name, d, m in panels
        ),
    ]


def day_objects(day: date, events: int, objects: int, rng: random.Random) -> list[bytes]:
    """One day's events as Firehose delivers them: `objects` Parquet files in time order,
    visitors of ~3 pageviews each within half an hour."""
    schema = arrow_schema()
    start = int(datetime.combine(day, time(), UTC).timestamp() * 1000)
    visitors = max(1, events // 3)
    ids = [rng.getrandbits(63) - 2**62 for _ in range(visitors)]
    first_seen = [rng.randrange(0, 86_400_000 - 1_800_000) for _ in range(visitors)]
    who = [rng.randrange(visitors) for _ in range(events)]
    stamps = sorted((start + first_seen[v] + rng.randrange(1_800_000), ids[v]) for v in who)
    weights = [1 / (n + 1) for n in range(len(PAGES))]

    def pick(values: list[Any], weights: list[float] | None = None) -> list[Any]:
        return rng.choices(values, weights=weights, k=events)

    columns: dict[str, Any] = {
        "ts": pa.array([t for t, _ in stamps], pa.timestamp("ms")),
        "name": pick(["pageview"] * 19 + ["Signup"]),
        "hostname": [SITE] * events,
        "pathname": pick(PAGES, weights),
        "referrer_source": pick(SOURCES),
        "visitor_id": [v for _, v in stamps],
        "browser": pick(["Chrome", "Firefox", "Safari"]),
        "os": pick(["Windows", "macOS", "iOS", "Android"]),
        "device": pick(["desktop", "mobile"]),
        "country": pick(["DE", "US", "FR", "GB"]),
        "interactive": [True] * events,
    }
    arrays = [
        pa.array(columns[f.name], f.type) if f.name in columns else pa.nulls(events, f.type)
        for f in schema
    ]
    whole = pa.Table.from_arrays(arrays, schema=schema)
    out = []
    size = -(-events // objects)
    for offset in range(0, events, size):
        sink = io.BytesIO()
        pq.write_table(whole.slice(offset, size), sink, compression="snappy")
        out.append(sink.getvalue())
    return out


def load(box: Box, events_per_month: int, days: int, buffer_seconds: int) -> int:
    s3 = boto3.client("s3", region_name=REGION)
    bucket = box.env["BEACONLAKE_EVENTS_BUCKET"]
    per_day = events_per_month // 30
    per_object_day = 86_400 // buffer_seconds
    rng = random.Random(7)
    written = 0
    for n in range(days + 1):
        day = TODAY - timedelta(days=days - n)
        today = day == TODAY
        bodies = day_objects(
            day,
            per_day // 2 if today else per_day,
            per_object_day // 2 if today else per_object_day,
            rng,
        )
        for i, body in enumerate(bodies):
            key = f"events/site_id={SITE}/dt={day.isoformat()}/firehose-{i:05d}.parquet"
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        written += len(bodies)
    return written


def measure(box: Box, first: date) -> list[dict[str, Any]]:
    rows = []
    box.frozen.at = NOON
    for name, path, body in overview(first, TODAY):
        mark = len(box.athena.queries)
        started = clock.perf_counter()
        box.ok("POST", path, body=body)
        ran = box.queries_since(mark)
        rows.append(
            {
                "request": name,
                "queries": len(ran),
                "scanned": sum(q.bytes_scanned for q in ran),
                "billed": sum(q.bytes_billed for q in ran),
                "objects": sum(q.objects_read for q in ran),
                "seconds": clock.perf_counter() - started,
            }
        )
    return rows


def run(events_per_month: int, days: int) -> dict[str, Any]:
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    import pytest

    from tests.infra.conftest import synthesized

    factory = pytest.TempPathFactory(
        given_basetemp=Path(tempfile.mkdtemp(prefix="aws-dashboard-")),
        retention_count=1,
        retention_policy="all",
        trace=lambda *a: None,
        _ispytest=True,
    )
    stack = Stack(synthesized(factory).template)
    # the deployed buffer (cdk.json), not the test stack's: it sets how many objects a day has
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    buffer_seconds = int(context["firehose_buffer_seconds"])
    with (
        pytest.MonkeyPatch.context() as mp,
        aws_box(stack, factory.mktemp("athena"), timeout_seconds=3600.0) as box,
    ):
        # the stand-in runs a statement over thousands of objects slower than Athena: the
        # stats function's 25 s budget is for Athena, and the figures here are bytes, not time
        original = AthenaEngine.__init__

        def patient(self: AthenaEngine, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **{**kwargs, "timeout_seconds": 3600.0})

        mp.setattr(AthenaEngine, "__init__", patient)
        objects = load(box, events_per_month, days, buffer_seconds)
        first = TODAY - timedelta(days=days - 1)
        before = measure(box, first)
        started = clock.perf_counter()
        mark = len(box.athena.queries)
        report = box.run_daily_job(datetime.combine(TODAY, time(0, 20), UTC))
        job = box.queries_since(mark)
        job_seconds = clock.perf_counter() - started
        after = measure(box, first)
    return {
        "events_per_month": events_per_month,
        "days": days,
        "buffer_seconds": buffer_seconds,
        "objects_written": objects,
        "before": before,
        "after": after,
        "job": {
            **report,
            "statements": len(job),
            "scanned": sum(q.bytes_scanned for q in job),
            "billed": sum(q.bytes_billed for q in job),
            "seconds": job_seconds,
        },
    }


def mb(n: int) -> str:
    return f"{n / 2**20:,.1f}"


def section(r: dict[str, Any], command: str) -> str:
    lines = []
    for phase in ("before", "after"):
        for row in r[phase]:
            lines.append(
                [
                    "before the job" if phase == "before" else "after the job",
                    row["request"],
                    str(row["queries"]),
                    mb(row["scanned"]),
                    mb(row["billed"]),
                    f"{row['objects']:,}",
                ]
            )
        totals = r[phase]
        lines.append(
            [
                "before the job" if phase == "before" else "after the job",
                "**one dashboard load**",
                f"**{sum(x['queries'] for x in totals)}**",
                f"**{mb(sum(x['scanned'] for x in totals))}**",
                f"**{mb(sum(x['billed'] for x in totals))}**",
                f"**{sum(x['objects'] for x in totals):,}**",
            ]
        )
    head = ["", "request", "Athena queries", "MB scanned", "MB billed", "objects read"]
    job = r["job"]
    return (
        f"`{command}`: {r['events_per_month']:,} events a month, {r['days']} past days and half "
        f"of today in {r['objects_written']:,} objects (one per {r['buffer_seconds']} s "
        "buffer); the overview's requests for the last 30 days and today.\n\n"
        + table(head, lines)
        + f"\n\nThe job's run over those days: {job['statements']} Athena statements, "
        f"{mb(job['scanned'])} MB scanned, {mb(job['billed'])} MB billed, "
        f"{job['days_compacted']} days compacted and {job['days_rolled_up']} rolled up.\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events-per-month", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    result = run(args.events_per_month, args.days)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "aws_dashboard.json").write_text(json.dumps(result, indent=2, default=str))
    command = ".venv/bin/python -m bench.aws_dashboard"
    if args.events_per_month != 10_000_000 or args.days != 30:
        command += f" --events-per-month {args.events_per_month} --days {args.days}"
    replace_generated(DOC, BLOCK, section(result, command))
    print(section(result, command))


if __name__ == "__main__":
    main()
