"""The cost arithmetic of `beaconlake cost`: rounding rules and one month worked by hand."""

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from beaconlake import cost
from beaconlake.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("record_bytes", "billed"),
    [(1, 5120), (700, 5120), (3 * 1024, 5120), (5120, 5120), (5121, 10240), (12 * 1024, 15360)],
)
def test_firehose_rounds_each_record_up_to_5_kb(record_bytes, billed):
    assert cost.firehose_billed_bytes(record_bytes, 1) == billed
    assert cost.firehose_billed_bytes(record_bytes, 1000) == 1000 * billed


def test_athena_bills_at_least_10_mb_per_query():
    assert cost.athena_billed_bytes(1.0) == 10 * 2**20
    assert cost.athena_billed_bytes(20e6) == 20e6


def test_batching_events_into_records_pays_the_rounding_once_per_record():
    one = cost.Usage(events_per_month=1_000_000, record_bytes=700)
    ten = cost.Usage(events_per_month=1_000_000, record_bytes=700, events_per_record=10)
    ingest = {line.item: line for line in cost.monthly_cost(one)}["ingestion (5 KB records)"]
    batched = {line.item: line for line in cost.monthly_cost(ten)}["ingestion (5 KB records)"]
    assert ingest.quantity == pytest.approx(1_000_000 * 5120 / 2**30)
    # 10 events of 700 bytes = 7000 bytes, billed as 10 KB once per 100,000 records
    assert batched.quantity == pytest.approx(100_000 * 10240 / 2**30)


def test_a_month_worked_by_hand():
    u = cost.Usage(
        events_per_month=1_000_000,
        dashboard_loads=100,
        cloudfront=False,
        tracing=False,
        alarms=2,
        custom_metrics=3,
        dashboards=1,
        record_bytes=700,
        collect_ms=20,
        collect_memory_mb=128,
        stats_ms=2000,
        stats_memory_mb=512,
        access_log_bytes=0,
        parquet_bytes_per_event=10,
        scan_bytes_per_event=(5.0, 40.0),
        rollup_scan_ratio=0.5,
        gets_per_object=1,
        buffer_seconds=900,
        retention_months=1,
        jq_ms_per_record=0.0,
        job_runs=100,
        job_days_checked=3,
        job_idle_ms=1000,
        job_day_ms=10_000,
        job_memory_mb=1024,
        salt_runs=10,
        salt_ms=1000,
    )
    usd = {line.item: line.usd for line in cost.monthly_cost(u)}
    # no CloudFront: beacons go straight to the function URL; API Gateway serves the stats API
    assert not any(line.service == "CloudFront" for line in cost.monthly_cost(u))
    assert usd["requests (stats API)"] == pytest.approx(200 * 1.00 / 1e6)
    # 1,000,000 beacons + 100 loads x 2 queries + 100 job runs + 10 salt rotations
    assert usd["requests"] == pytest.approx(1_000_310 * 0.20 / 1e6)
    # 1e6 x 0.125 GB x 0.020 s = 2,500 GB-s; 200 x 0.5 GB x 2 s = 200 GB-s
    assert usd["collector duration"] == pytest.approx(2500 * 0.0000133334)
    assert usd["stats duration"] == pytest.approx(200 * 0.0000133334)
    # job: (100 runs x 1 s + 30 days x 10 s) x 1 GB = 400 GB-s; salts: 10 x 0.25 GB x 1 s
    assert usd["daily job and salts"] == pytest.approx(402.5 * 0.0000133334)
    # every 700-byte record is billed as 5 KB: 5.12e9 bytes = 4.768 GB
    gb = 5.12e9 / 2**30
    assert usd["ingestion (5 KB records)"] == pytest.approx(gb * 0.029)
    assert usd["Parquet conversion"] == pytest.approx(gb * 0.018)
    assert usd["dynamic partitioning"] == pytest.approx(gb * 0.020)
    # 900 s buffers: 96 objects a day, 2,880 a month
    assert usd["objects delivered"] == pytest.approx(2880 * 0.005 / 1000)
    assert usd["PUT (deliveries)"] == pytest.approx(2880 * 0.005 / 1000)
    # job: 7 PUT/COPY per day x 30, and its state once a run: 310
    assert usd["PUT, COPY (daily job)"] == pytest.approx(310 * 0.005 / 1000)
    # each query reads 29 past days (one object each) and half of today's 96; plus one
    # state object a load
    assert usd["GET (dashboard queries)"] == pytest.approx((200 * 77 + 100) * 0.0004 / 1000)
    # job: each day's 96 small objects and the compacted file twice; per run the state and
    # three days' signatures
    assert usd["GET (daily job)"] == pytest.approx((30 * 98 + 100 * 4) * 0.0004 / 1000)
    # Athena writes each of the 290 statements' result and metadata, and reads the result
    assert usd["PUT (Athena results)"] == pytest.approx(580 * 0.005 / 1000)
    assert usd["GET (Athena results)"] == pytest.approx(290 * 0.0004 / 1000)
    assert usd["LIST (a partition a day)"] == pytest.approx(200 * 30 * 0.005 / 1000)
    # job: 2 a run, 2 + 3 a site and run, 11 a day
    assert usd["LIST (daily job)"] == pytest.approx((200 + 500 + 330) * 0.005 / 1000)
    # events and rollups (half their bytes), one month kept
    assert usd["storage (events, rollups)"] == pytest.approx(1.5e7 / 2**30 * 0.023)
    # an access-log line of 400 bytes per S3 request, kept three months
    requests = 2880 + 310 + 580 + 15_500 + 3340 + 290 + 6000 + 1030
    assert usd["storage (access logs)"] == pytest.approx(requests * 1200 / 2**30 * 0.023)
    # a query reads 29 days of rollups (half the bytes) and half a day of events:
    # 33,333 events a day x 5 bytes x 15 = 2.5 MB, billed as 10 MB; x 40 bytes = 20 MB
    assert usd["data scanned (dashboards)"] == pytest.approx(
        (10 * 2**20 + 2e7) * 100 / 2**40 * 5.00
    )
    # job: 3 UNLOADs a day, each billed the 10 MB minimum
    assert usd["data scanned (daily job)"] == pytest.approx(90 * 10 * 2**20 / 2**40 * 5.00)
    assert usd["custom metrics"] == pytest.approx(0.90)
    assert usd["alarms"] == pytest.approx(0.20)
    assert usd["dashboard"] == pytest.approx(3.00)
    assert "traces recorded" not in usd
    expected = (
        200 * 1.00 / 1e6
        + 1_000_310 * 0.20 / 1e6
        + (2500 + 200 + 402.5) * 0.0000133334
        + gb * 0.067
        + 2 * 2880 * 0.005 / 1000
        + (310 + 580 + 6000 + 1030) * 0.005 / 1000
        + (200 * 77 + 100 + 30 * 98 + 400 + 290) * 0.0004 / 1000
        + (1.5e7 + requests * 1200) / 2**30 * 0.023
        + ((10 * 2**20 + 2e7) * 100 + 90 * 10 * 2**20) / 2**40 * 5.00
        + 0.90
        + 0.20
        + 3.00
        + (200 + 90) * 2 * 1.00 / 1e6  # Glue: two catalog requests a statement
        + 200 * 0.125 / 1e6  # DynamoDB: a key look-up a query
        + 1440 * 0.03 / 1e4  # KMS: a salt decrypt per container and hour (assumed)
    )
    assert cost.total(cost.monthly_cost(u)) == pytest.approx(expected, rel=1e-9)


def test_cloudfront_bills_each_beacon_stats_request_and_tracker_fetch():
    u = cost.Usage(events_per_month=1_000_000, dashboard_loads=100, tracker_loads_per_event=0.1)
    lines = {x.item: x for x in cost.monthly_cost(u) if x.service == "CloudFront"}
    assert lines["requests"].quantity == 1_000_000 + 800 + 100_000
    out = (1_000_800 * u.response_bytes + 100_000 * u.tracker_bytes) / 2**30
    assert lines["data out"].quantity == pytest.approx(out)
    assert lines["data to the origin"].quantity == pytest.approx(1_000_800 * 1000 / 2**30)


def test_the_always_free_tiers_are_shared_by_the_lines_of_one_price():
    u = cost.Usage(events_per_month=700_000, dashboard_loads=1000)
    lines = cost.monthly_cost(u)
    free = {line.item: line for line in cost.with_free_tier(lines)}
    # Lambda: 700,000 + 8,000 requests, all within the 1 M free requests
    assert free["requests"].usd == 0 or free["requests"].service != "Lambda"
    lambda_requests = [x for x in cost.with_free_tier(lines) if x.price == "lambda_request"]
    assert lambda_requests[0].usd == 0
    # GB-seconds: collector 700,000 x 0.25 GB x 16 ms = 2,800; stats 8,000 x 1 x 2 s = 16,000
    assert free["collector duration"].usd == 0 and free["stats duration"].usd == 0
    # no free tier for API Gateway (12 months only), Firehose or Athena
    by_price = {x.price: x for x in cost.with_free_tier(lines)}
    assert by_price["apigw_request"].usd > 0 and by_price["athena_tb"].usd > 0
    assert cost.total(cost.with_free_tier(lines)) < cost.total(lines)


def test_xray_samples_one_trace_a_second_and_five_percent_of_the_rest():
    assert cost.traces_recorded(1000) == 1000
    month = 30 * 86400
    assert cost.traces_recorded(month + 1000) == pytest.approx(month + 50)


def test_a_query_reads_one_object_a_past_day_and_today_so_far():
    u = cost.Usage(events_per_month=10_000_000, buffer_seconds=120)
    assert cost.objects_per_query(u) == 29 + 360
    assert cost.objects_per_query(replace(u, buffer_seconds=300)) == 29 + 144


def test_past_days_are_scanned_from_the_rollups():
    u = cost.Usage(events_per_month=3_000_000, rollup_scan_ratio=0.25)
    # 100,000 events a day x 4 bytes: 29 days at a quarter, half of today in full
    assert cost.query_scanned_bytes(u, 4.0) == pytest.approx(400_000 * (29 * 0.25 + 0.5))


def test_quiet_sites_write_one_object_an_event_at_most():
    u = cost.Usage(events_per_month=3000, buffer_seconds=120)  # 100 events a day
    assert cost.objects_per_site_day(u) == 100


def test_levers_leave_out_what_the_stack_already_does_and_what_would_not_help():
    u = cost.Usage(events_per_month=1_000_000, tracing=False)
    assert "X-Ray tracing off" not in dict(cost.levers(u))
    assert "X-Ray tracing off" in dict(cost.levers(replace(u, tracing=True)))
    buffer = "Firehose buffer of 900 s (-c firehose_buffer_seconds=900): today's figures later"
    assert buffer in dict(cost.levers(replace(u, buffer_seconds=120)))
    assert buffer not in dict(cost.levers(replace(u, buffer_seconds=900)))


def test_each_lever_is_the_month_recomputed_with_that_change():
    u = cost.Usage(events_per_month=10_000_000, tracing=True, dashboards=1)
    before = cost.total(cost.monthly_cost(u))
    found = dict(cost.levers(u))
    for label, change in cost.LEVERS.items():
        if label in found:
            assert found[label] == cost.total(cost.monthly_cost(replace(u, **change))) < before
    # without CloudFront no request of a beacon is billed but the Lambda's
    no_cdn = found[
        "no CloudFront (-c cloudfront=false): beacons straight to the function URL, no country"
    ]
    assert before - no_cdn > 10.0


def test_the_deployed_stack_meets_the_targets_of_issue_25():
    """≤ $3 per million events at 1 M a month and ≤ $2 at 10 M: 200 dashboard loads, list
    prices without free tiers, the settings cdk.json deploys."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    for events, target in ((1_000_000, 3.0), (10_000_000, 2.0)):
        u = cost.Usage.deployed(context, events_per_month=events, dashboard_loads=200)
        assert cost.per_million_events(u) <= target


def test_every_price_names_its_source_and_date():
    for price in cost.PRICES.values():
        assert price.source.startswith("https://aws.amazon.com/")
        assert date.fromisoformat(price.read_on)


def test_cost_command_prints_the_month_of_the_deployed_stack(capsys):
    assert main(["cost", "--events-per-month", "1000000"]) == 0
    out = capsys.readouterr().out
    assert "per million events" in out
    assert "What would bring it lower" in out
    assert "Firehose buffer 300 s" in out  # cdk.json's firehose_buffer_seconds


def test_cost_command_takes_deploy_settings_like_cdk_synth(capsys):
    argv = ["cost", "--events-per-month", "1000000", "-c", "firehose_buffer_seconds=900"]
    assert main([*argv, "-c", "tracing=true"]) == 0
    out = capsys.readouterr().out
    assert "Firehose buffer 900 s" in out and "X-Ray on" in out
    assert "traces recorded" in out
    assert main(["cost", "--events-per-month", "1", "-c", "tracing"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().out


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"firehose_buffer_seconds": "900", "tracing": "true", "cloudfront": "false"},
        {"dashboard": "true", "drop_metrics": "true"},
        {"dashboard": True, "drop_metrics": False, "tracing": "on"},
        {"collector_memory_mb": 512, "stats_memory_mb": "2048", "retention_days": "400"},
        {"sites": "a.example,b.example"},
    ],
)
def test_the_model_reads_the_deploy_settings_as_synth_does(overrides):
    """Usage.deployed and infra_cdk.settings read the same cdk.json context alike."""
    from infra_cdk.settings import DeploySettings

    context = {**json.loads((ROOT / "cdk.json").read_text())["context"], **overrides}
    synth_context = {**context, "sites": context["sites"] or "placeholder.example"}
    settings = DeploySettings.from_context(synth_context.get)
    u = cost.Usage.deployed(context, events_per_month=1)
    assert u.buffer_seconds == settings.firehose_buffer_seconds
    assert u.collect_memory_mb == settings.collector_memory_mb
    assert u.stats_memory_mb == settings.stats_memory_mb
    assert u.cloudfront == settings.cloudfront
    assert u.tracing == settings.tracing
    assert u.dashboards == (1 if settings.dashboard else 0)
    assert u.custom_metrics == (cost.DROP_REASONS if settings.drop_metrics else 0)
    if settings.retention_days:
        assert u.retention_months * 30 >= settings.retention_days
    if context.get("sites"):
        assert u.sites == len(settings.sites)


def test_the_tracker_s_bytes_are_the_built_script_s() -> None:
    import gzip
    from pathlib import Path

    from beaconlake.cost import Usage

    built = Path(__file__).parents[2] / "tracker_js" / "dist" / "tracker.min.js"
    gzipped = len(gzip.compress(built.read_bytes(), compresslevel=9, mtime=0))
    # npm test measures with Node's zlib, Python's gzip frames the same deflate stream
    assert abs(Usage(events_per_month=1).tracker_bytes - gzipped) <= 0.02 * gzipped
