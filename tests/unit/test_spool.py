"""The spool: a batch is on disk before put() returns, replays are idempotent, torn tails
and failed writes never corrupt acknowledged batches."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import threading
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from beaconlake.adapters.parquet_sink import ParquetSink
from beaconlake.adapters.spool import Spool, encode, read_segment, syncs_deferred
from beaconlake.model import EVENT_FIELDS, Event
from beaconlake.ports import SinkUnavailable
from tests.server import parquet_rows


def event(i: int, dt: str = "2026-06-01", site: str = "example.com") -> Event:
    return Event(
        ts=datetime.fromisoformat(f"{dt}T12:00:00.{i % 1000:03d}"),
        name="Purchase",
        hostname=site,
        pathname=f"/p{i}",
        referrer_source=None,
        referrer=None,
        utm_source="news",
        utm_medium=None,
        utm_campaign=None,
        utm_content=None,
        utm_term=None,
        visitor_id=-(2**62) + i,
        browser="Firefox",
        browser_version="132.0",
        os="Linux",
        os_version=None,
        device="desktop",
        country="DE",
        props={"plan": "pro", "n": str(i)},
        revenue_amount=Decimal("9.9900"),
        revenue_currency="EUR",
        scroll_depth=40,
        engaged_ms=1234,
        site_id=site,
        dt=dt,
    )


def spool_files(root: Path) -> list[Path]:
    return sorted((root / "spool").glob("*"))


def test_put_is_in_the_spool_before_it_returns_and_gone_after_flush(tmp_path) -> None:
    sink = ParquetSink(tmp_path, flush_rows=10**6, flush_seconds=3600)
    sink.put([event(1), event(2)])
    sink.put([event(3, "2026-06-02")])
    [segment] = spool_files(tmp_path)
    events, torn = read_segment(segment)
    assert events == [event(1), event(2), event(3, "2026-06-02")] and torn == 0
    assert os.stat(segment).st_mode & 0o777 == 0o600
    sink.flush()
    assert spool_files(tmp_path) == []
    assert sorted(r["pathname"] for r in parquet_rows(tmp_path)) == ["/p1", "/p2", "/p3"]
    sink.close()


def test_a_new_sink_replays_what_a_dead_one_left_exactly_once(tmp_path) -> None:
    crashed = ParquetSink(tmp_path, flush_rows=10**6, flush_seconds=3600)
    crashed.put([event(i) for i in range(5)])
    crashed.put([event(i, "2026-06-02") for i in range(5, 8)])
    # the crash came after the Parquet files were written but before the segment was deleted
    [segment] = spool_files(tmp_path)
    segment_id = segment.name.removeprefix("seg-").removesuffix(".jsonl")
    crashed._write(segment_id, read_segment(segment)[0])
    crashed.spool.close()  # like a dead process: the lock goes, the file stays
    # a torn, never acknowledged line at the end of the segment
    with open(segment, "ab") as fh:
        fh.write(b'[{"ts":"2026-06-01 12:')
    sink = ParquetSink(tmp_path, flush_rows=10**6, flush_seconds=3600)
    rows = parquet_rows(tmp_path)
    assert sorted(r["pathname"] for r in rows) == [f"/p{i}" for i in range(8)]
    assert (
        rows[0]["revenue_amount"] == Decimal("9.9900") and dict(rows[0]["props"])["plan"] == "pro"
    )
    assert spool_files(tmp_path) == []
    assert not list(tmp_path.rglob("*.tmp"))
    sink.close()


def test_a_live_writers_segment_is_left_alone(tmp_path) -> None:
    live = Spool(tmp_path / "spool")
    live.sync(live.append([event(1)]))
    assert Spool(tmp_path / "spool").adopt_orphans() == []
    assert len(spool_files(tmp_path)) == 1
    live.close()
    [(segment, events)] = Spool(tmp_path / "spool").adopt_orphans()
    assert events == [event(1)] and segment.rows == 1


class FullDisk:
    """An os.write that runs out of space: it writes part of the buffer, then fails."""

    def __init__(self) -> None:
        self.full = False

    def __call__(self, fd: int, data: bytes) -> int:
        if self.full:
            os.write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.write(fd, data)


def test_a_failed_append_is_cut_back_and_refused(tmp_path) -> None:
    disk = FullDisk()
    sink = ParquetSink(tmp_path, flush_rows=10**6, flush_seconds=3600, spool_write=disk)
    sink.put([event(1)])
    disk.full = True
    with pytest.raises(SinkUnavailable, match="ENOSPC"):
        sink.put([event(2)])
    disk.full = False
    sink.put([event(3)])
    [segment] = spool_files(tmp_path)
    assert read_segment(segment) == ([event(1), event(3)], 0)
    sink.close()
    assert sorted(r["pathname"] for r in parquet_rows(tmp_path)) == ["/p1", "/p3"]


def test_parquet_files_are_whole_and_named_after_their_segment(tmp_path) -> None:
    sink = ParquetSink(tmp_path, flush_rows=10**6, flush_seconds=3600)
    sink.put([event(i) for i in range(3)])
    [segment] = spool_files(tmp_path)
    sink.close()
    [part] = (tmp_path / "events").rglob("*.parquet")
    assert part.name == segment.name.replace("seg-", "part-").replace(".jsonl", ".parquet")
    assert pq.read_table(part).num_rows == 3


def test_with_a_sync_window_the_request_never_waits_for_the_disk(tmp_path, monkeypatch) -> None:
    synced_by: list[str] = []
    synced_bytes: list[int] = []  # the segment's size at each sync
    real = os.fdatasync

    def fdatasync(fd: int) -> None:
        synced_by.append(threading.current_thread().name)
        real(fd)
        synced_bytes.append(os.fstat(fd).st_size)

    monkeypatch.setattr("beaconlake.adapters.spool.os.fdatasync", fdatasync)
    sink = ParquetSink(tmp_path, flush_rows=10**6, flush_seconds=3600, spool_sync_ms=20)
    for i in range(20):
        sink.put([event(i)])
    [segment] = (tmp_path / "spool").glob("seg-*.jsonl")
    written = segment.stat().st_size
    deadline = time.monotonic() + 5
    while (not synced_bytes or synced_bytes[-1] < written) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert synced_bytes and synced_bytes[-1] == written > 0  # every put reached the disk
    assert set(synced_by) == {"spool-sync"}  # and no put waited for it
    sink.close()
    assert len(parquet_rows(tmp_path)) == 20


def test_inside_syncs_deferred_a_put_hands_its_fsync_to_the_caller(tmp_path, monkeypatch) -> None:
    synced: list[int] = []
    real = os.fdatasync

    def fdatasync(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr("beaconlake.adapters.spool.os.fdatasync", fdatasync)
    sink = ParquetSink(tmp_path, flush_rows=10**6, flush_seconds=3600)
    with syncs_deferred() as waits:
        sink.put([event(1)])
        with pytest.raises(RuntimeError), syncs_deferred() as inner:
            sink.put([event(2)])
            raise RuntimeError("the request failed")
        sink.put([event(3)])
    assert len(waits) == 2 and len(inner) == 1 and synced == []
    for wait in waits:
        wait()
    assert len(synced) == 1, "one fdatasync covers both writes"
    sink.put([event(4)])  # outside: waits for its own fsync before it returns
    assert len(synced) == 2
    sink.close()


def test_a_spooled_row_holds_the_values_of_the_json_record_in_field_order() -> None:
    plain = dataclasses.replace(event(7), revenue_amount=None, revenue_currency=None, props={})
    midnight, late = datetime(2026, 6, 1), datetime(2026, 6, 1, 23, 59, 59, 999_999)
    timed = [dataclasses.replace(event(8), ts=ts) for ts in (midnight, late)]
    for e in (event(7), plain, *timed):
        assert dict(zip(EVENT_FIELDS, e.as_json_values(), strict=True)) == e.as_json_record()
    assert [e.as_json_record()["ts"] for e in timed] == [
        "2026-06-01 00:00:00.000",
        "2026-06-01 23:59:59.999",
    ]
    assert event(7).as_json_record()["revenue_amount"] == str(event(7).revenue_amount)
    assert plain.as_json_record()["revenue_amount"] is None
    assert encode([event(1), plain]).count(b"\n") == 1


def test_a_segment_an_older_version_wrote_as_records_is_replayed(tmp_path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    records = [[event(1).as_json_record(), event(2).as_json_record()], [event(3).as_json_record()]]
    segment = spool / "seg-1700000000000-0123456789ab.jsonl"
    segment.write_text("".join(json.dumps(batch) + "\n" for batch in records))
    assert read_segment(segment) == ([event(1), event(2), event(3)], 0)
    sink = ParquetSink(tmp_path, flush_rows=10**6, flush_seconds=3600)
    assert sorted(r["pathname"] for r in parquet_rows(tmp_path)) == ["/p1", "/p2", "/p3"]
    assert spool_files(tmp_path) == []
    sink.close()
