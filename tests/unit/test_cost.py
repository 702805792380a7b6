"""The cost arithmetic of `beaconlake cost`: rounding rules and one month worked by hand."""

import pytest

from beaconlake import cost
from beaconlake.cli import main


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
        record_bytes=700,
        collect_ms=20,
        collect_memory_mb=128,
        stats_ms=2000,
        stats_memory_mb=512,
        log_bytes_per_invocation=0,
        parquet_bytes_per_event=10,
        scan_bytes_per_event=(5.0, 20.0),
        gets_per_object=1,
        buffer_seconds=900,
        retention_months=1,
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
    # 900 s buffers: 96 objects a day, 2,880 a month, each read once by each of 200 queries
    assert usd["objects delivered"] == pytest.approx(2880 * 0.005 / 1000)
    assert usd["PUT (Firehose deliveries)"] == pytest.approx(2880 * 0.005 / 1000)
    assert usd["GET (Athena reads)"] == pytest.approx(576_000 * 0.0004 / 1000)
    assert usd["storage"] == pytest.approx(1e7 / 2**30 * 0.023)
    # per load: 5 MB scanned is billed as 10 MB; 20 MB as 20 MB
    assert usd["data scanned"] == pytest.approx((10 * 2**20 + 20e6) * 100 / 2**40 * 5.00)
    assert cost.total(cost.monthly_cost(u)) == pytest.approx(1.8289986, rel=1e-6)
    assert cost.per_million_events(u) == pytest.approx(1.8289986, rel=1e-6)


def test_every_lever_lowers_the_month():
    u = cost.Usage(events_per_month=10_000_000)
    before = cost.total(cost.monthly_cost(u))
    assert all(usd < before for _, usd in cost.levers(u))


def test_every_price_names_its_source():
    assert all(p.source.startswith("https://aws.amazon.com/") for p in cost.PRICES.values())
    assert cost.PRICES_READ_ON


def test_cost_command_prints_the_month(capsys):
    assert main(["cost", "--events-per-month", "1000000"]) == 0
    out = capsys.readouterr().out
    assert "per million events" in out
    assert "What would bring it lower" in out
