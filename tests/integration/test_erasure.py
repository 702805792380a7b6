"""Erasure by site and date range, by user id, and retention: exactly the planned rows go,
files are replaced whole, the spool is included, nothing personal reaches the logs."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import date

import pyarrow.parquet as pq
import pytest

from beaconlake import erasure, wiring
from beaconlake.adapters.parquet_sink import ParquetEventStore, ParquetSink
from beaconlake.cli import main
from beaconlake.ingest.service import user_id_hash
from beaconlake.ports import Partition, StoreBusy
from beaconlake.wiring import local_engine
from tests.conftest import cli_erase, cli_user_hash, retention_days
from tests.server import parquet_rows
from tests.unit.test_spool import event

DAYS = [f"2026-06-0{d}" for d in range(1, 6)]
USER = "customer-4711@example.org"


def load(root, user_hash: str | None = None, days: list[str] = DAYS) -> None:
    """Two sites x five days x 10 events; on example.com every third event is USER's."""
    sink = ParquetSink(root, flush_rows=10**6, flush_seconds=3600)
    for day in days:
        for site in ("example.com", "shop.test"):
            batch = [event(i, day, site) for i in range(10)]
            if site == "example.com" and user_hash:
                batch = [
                    dataclasses.replace(e, user_id=user_hash if i % 3 == 0 else f"other{i}")
                    for i, e in enumerate(batch)
                ]
            sink.put(batch)
        sink.flush()  # one file per day and site
    sink.close()


def per_partition(root) -> Counter:
    """(site, day) → rows, read from the files themselves."""
    counts: Counter = Counter()
    for path in (root / "events").rglob("*.parquet"):
        site, day = path.parent.parent.name[len("site_id=") :], path.parent.name[len("dt=") :]
        counts[(site, day)] += pq.read_metadata(path).num_rows
    return counts


def test_erase_a_sites_date_range(tmp_path, caplog) -> None:
    load(tmp_path)
    store = ParquetEventStore(tmp_path)
    plan = erasure.Erasure("example.com", date(2026, 6, 2), date(2026, 6, 4))
    report = erasure.erase(store, plan)
    assert (report.partitions, report.files_deleted, report.rows_deleted) == (3, 3, 30)
    left = per_partition(tmp_path)
    assert set(left) == {("example.com", "2026-06-01"), ("example.com", "2026-06-05")} | {
        ("shop.test", d) for d in DAYS
    }
    assert all(n == 10 for n in left.values())
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]
    engine = local_engine(tmp_path)
    sql = "SELECT count(*) AS n FROM events WHERE site_id = ? AND dt BETWEEN ? AND ?"
    assert engine.query(sql, ["example.com", DAYS[0], DAYS[-1]])[0]["n"] == 20
    [record] = [r for r in caplog.records if r.getMessage() == "erasure done"]
    assert record.rows_deleted == 30 and record.by_user_id is False


def test_erase_one_users_events(tmp_path, caplog) -> None:
    secret = b"s" * 32
    hashed = user_id_hash(secret, USER)
    load(tmp_path, hashed)
    before = {r["pathname"] for r in parquet_rows(tmp_path)}
    plan = erasure.Erasure("example.com", date(2026, 6, 1), date(2026, 6, 3), hashed)
    report = erasure.erase(ParquetEventStore(tmp_path), plan)
    # events 0, 3, 6, 9 of example.com on three days
    assert (report.rows_deleted, report.files_rewritten, report.files_deleted) == (12, 3, 0)
    rows = parquet_rows(tmp_path)
    kept_user = [(r["ts"].date().isoformat()) for r in rows if r["user_id"] == hashed]
    assert sorted(set(kept_user)) == ["2026-06-04", "2026-06-05"]  # outside the range
    assert len(rows) == 100 - 12 and {r["pathname"] for r in rows} == before
    logs = "\n".join(str(vars(r)) for r in caplog.records)
    assert USER not in logs and hashed not in logs


def test_erasure_waits_for_a_live_spool_and_includes_a_dead_one(tmp_path) -> None:
    load(tmp_path)
    live = ParquetSink(tmp_path, flush_rows=10**6, flush_seconds=3600)
    live.put([event(99, "2026-06-02")])
    plan = erasure.Erasure("example.com", date(2026, 6, 2), date(2026, 6, 2))
    with pytest.raises(StoreBusy):
        erasure.erase(ParquetEventStore(tmp_path), plan)
    live.spool.close()  # dies without flushing: the erasure must still see its event
    report = erasure.erase(ParquetEventStore(tmp_path), plan)
    assert report.rows_deleted == 11
    assert ("example.com", "2026-06-02") not in per_partition(tmp_path)


def test_retention_keeps_the_last_n_days() -> None:
    parts = [Partition("a.com", d) for d in DAYS]
    assert erasure.expired_partitions(parts, date(2026, 6, 5), 3) == parts[:2]
    assert erasure.expired_partitions(parts, date(2026, 6, 5), 5) == []
    with pytest.raises(ValueError):
        erasure.first_day_kept(date(2026, 6, 5), 0)
    with pytest.raises(ValueError):
        erasure.Erasure("a.com", date(2026, 6, 5), date(2026, 6, 4))


def test_cli_erase_and_retention(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("BEACONLAKE_BACKEND", "local")
    monkeypatch.setenv("BEACONLAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BEACONLAKE_SITES", "example.com,shop.test")
    monkeypatch.setenv("BEACONLAKE_USER_ID_SITES", "example.com")
    days = retention_days()
    hashed = cli_user_hash("example.com", USER)
    load(tmp_path, hashed, days)
    erase = cli_erase

    assert erase("example.com", days[3], days[4], "--user-id", USER) == 0
    out = capsys.readouterr().out
    assert "erased 8 events of that user of example.com" in out
    assert USER not in out and hashed not in out
    assert erase("shop.test", days[0], days[0]) == 0
    assert "erased 10 events of shop.test" in capsys.readouterr().out
    assert erase("shop.test", days[0], days[0], "--user-id", USER) == 2  # no user ids there
    assert erase("shop.test", days[1], days[0]) == 2  # from after to
    with pytest.raises(SystemExit):
        erase("shop.test", "2026-13-01", days[0])
    capsys.readouterr()
    assert main(["retention", "--days", "31"]) == 0
    assert f"deleted 30 events in 3 site-days before {days[2]}" in capsys.readouterr().out
    assert sorted({day for _, day in per_partition(tmp_path)}) == days[2:]
    assert main(["retention", "--days", "0"]) == 2
    wiring.reset()
