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
        scan_bytes_per_event=(5.0, 20.0),
        gets_per_object=1,
        buffer_seconds=900,
        retention_months=1,
        jq_ms_per_record=0.0,
    )
    usd = {line.item: line.usd for line in cost.monthly_cost(u)}
    # 1,000,000 beacons + 100 loads x 2 queries = 1,000,200 requests
    assert usd["requests"] == pytest.approx(1_000_200 * 0.20 / 1e6)
    assert cost.monthly_cost(u)[0].usd == pytest.approx(1_000_200 * 1.00 / 1e6)
    # 1e6 x 0.125 GB x 0.020 s = 2,500 GB-s; 200 x 0.5 GB x 2 s = 200 GB-s
    assert usd["collector duration"] == pytest.approx(2500 * 0.0000133334)
    assert usd["stats duration"] == pytest.approx(200 * 0.0000133334)
    # every 700-byte record is billed as 5 KB: 5.12e9 bytes = 4.768 GB
    gb = 5.12e9 / 2**30
    assert usd["ingestion (5 KB records)"] == pytest.approx(gb * 0.029)
    assert usd["Parquet conversion"] == pytest.approx(gb * 0.018)
    assert usd["dynamic partitioning"] == pytest.approx(gb * 0.020)
    # 900 s buffers: 96 objects a day, 2,880 a month; each query reads 30 days x 96
    assert usd["objects delivered"] == pytest.approx(2880 * 0.005 / 1000)
    assert usd["PUT (deliveries, compaction)"] == pytest.approx(2880 * 0.005 / 1000)
    assert usd["GET (Athena reads)"] == pytest.approx(200 * 2880 * 0.0004 / 1000)
    assert usd["LIST (a partition a day)"] == pytest.approx(200 * 30 * 0.005 / 1000)
    assert usd["storage"] == pytest.approx(1e7 / 2**30 * 0.023)
    # per load: 5 MB scanned is billed as 10 MB; 20 MB as 20 MB
    assert usd["data scanned"] == pytest.approx((10 * 2**20 + 20e6) * 100 / 2**40 * 5.00)
    assert usd["custom metrics"] == pytest.approx(0.90)
    assert usd["alarms"] == pytest.approx(0.20)
    assert usd["dashboard"] == pytest.approx(3.00)
    assert "traces recorded" not in usd and "data out" not in usd
    expected = (
        1_000_200 * 1.20 / 1e6
        + 2700 * 0.0000133334
        + gb * 0.067
        + 2 * 2880 * 0.005 / 1000
        + 200 * 2880 * 0.0004 / 1000
        + 200 * 30 * 0.005 / 1000
        + 1e7 / 2**30 * 0.023
        + (10 * 2**20 + 20e6) * 100 / 2**40 * 5.00
        + 0.90
        + 0.20
        + 3.00
        + 2 * 200 * 1.00 / 1e6  # Glue: two catalog requests a query
        + 200 * 0.125 / 1e6  # DynamoDB: a key look-up a query
        + 1440 * 0.03 / 1e4  # KMS: a salt decrypt per container and hour (assumed)
    )
    assert cost.total(cost.monthly_cost(u)) == pytest.approx(expected, rel=1e-9)


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


def test_compaction_leaves_one_object_a_past_day_to_read():
    u = cost.Usage(events_per_month=10_000_000, buffer_seconds=120)
    assert cost.objects_per_query(u) == 30 * 720
    assert cost.objects_per_query(replace(u, compacted=True)) == 29 + 360


def test_quiet_sites_write_one_object_an_event_at_most():
    u = cost.Usage(events_per_month=3000, buffer_seconds=120)  # 100 events a day
    assert cost.objects_per_site_day(u) == 100


def test_levers_leave_out_what_the_stack_already_does():
    u = cost.Usage(events_per_month=1_000_000, tracing=False)
    assert "X-Ray tracing off" not in dict(cost.levers(u))
    assert "X-Ray tracing off" in dict(cost.levers(replace(u, tracing=True)))


def test_every_lever_lowers_the_month():
    u = cost.Usage(events_per_month=10_000_000)
    before = cost.total(cost.monthly_cost(u))
    assert all(usd < before for _, usd in cost.levers(u))


def test_every_price_names_its_source_and_date():
    for price in cost.PRICES.values():
        assert price.source.startswith("https://aws.amazon.com/")
        assert date.fromisoformat(price.read_on)


def test_cost_command_prints_the_month_of_the_deployed_stack(capsys):
    assert main(["cost", "--events-per-month", "1000000"]) == 0
    out = capsys.readouterr().out
    assert "per million events" in out
    assert "What would bring it lower" in out
    assert "Firehose buffer 120 s" in out  # cdk.json's firehose_buffer_seconds


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
    if settings.retention_days:
        assert u.retention_months * 30 >= settings.retention_days
    if context.get("sites"):
        assert u.sites == len(settings.sites)
