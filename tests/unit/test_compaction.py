"""The sink's compaction: a day's files stay few, no row is lost or stored twice, a merge gives
way to erasure, and a crash in the middle of one is finished by the next sink."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from beaconlake.adapters import compaction
from beaconlake.adapters.compaction import FAN_IN, TreeLock, compact, level
from beaconlake.adapters.parquet_sink import (
    ParquetSink,
    events_to_table,
    partition_dir,
    write_parquet_atomically,
)
from tests.unit.test_spool import event

DAY = "2026-06-01"


def day_dir(root: Path) -> Path:
    return partition_dir(root / "events", "example.com", DAY)


def stored_paths(root: Path) -> Counter[str]:
    return Counter(
        path
        for f in day_dir(root).glob("*.parquet")
        for path in pq.read_table(f, columns=["pathname"]).column("pathname").to_pylist()
    )


def write_small_files(root: Path, count: int, per_file: int = 3) -> Counter[str]:
    for n in range(count):
        rows = [event(n * per_file + i, DAY) for i in range(per_file)]
        write_parquet_atomically(events_to_table(rows), day_dir(root), f"part-seg{n:04d}.parquet")
    return Counter(f"/p{i}" for i in range(count * per_file))


class Crash(Exception):
    """Stands for the process dying at that point."""


def test_flushes_are_merged_by_level_and_every_row_stays_once(tmp_path) -> None:
    sink = ParquetSink(tmp_path, flush_rows=10**6, flush_seconds=3600)
    flushes = FAN_IN**2 + 3
    for n in range(flushes):
        sink.put([event(n * 2 + i, DAY) for i in range(2)])
        sink.flush()
    sink.close()
    levels = Counter(level(f) for f in day_dir(tmp_path).glob("*.parquet"))
    # 67 flushes = 1 file of level 2 (64) + 3 of level 0, in base FAN_IN
    assert levels == {2: 1, 0: 3}
    assert stored_paths(tmp_path) == Counter(f"/p{i}" for i in range(flushes * 2))
    assert not list(day_dir(tmp_path).glob(".*")) and not list(tmp_path.glob(".merge-*"))


def test_a_merge_gives_way_to_a_source_rewritten_meanwhile(tmp_path, monkeypatch) -> None:
    expected = write_small_files(tmp_path, FAN_IN)
    victim = sorted(day_dir(tmp_path).glob("*.parquet"))[0]
    read = compaction._batches

    def erasure_rewrites_one_source(path: Path):  # type: ignore[no-untyped-def]
        if path == victim:
            table = pq.read_table(victim)
            write_parquet_atomically(table.slice(1), victim.parent, victim.name)
        return read(path)

    monkeypatch.setattr(compaction, "_batches", erasure_rewrites_one_source)
    assert compact(day_dir(tmp_path), TreeLock(tmp_path)) == 0
    assert stored_paths(tmp_path) == expected - Counter(["/p0"])
    assert all(level(f) == 0 for f in day_dir(tmp_path).glob("*.parquet"))
    assert not list(day_dir(tmp_path).glob(".*"))


def test_a_crash_after_the_merged_file_appears_is_finished_by_the_next_sink(
    tmp_path, monkeypatch
) -> None:
    expected = write_small_files(tmp_path, FAN_IN)
    unlink = Path.unlink

    def die_deleting_a_source(self: Path, missing_ok: bool = False) -> None:
        if self.name.startswith("part-"):
            raise Crash
        unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", die_deleting_a_source)
    with pytest.raises(Crash):
        compact(day_dir(tmp_path), TreeLock(tmp_path))
    monkeypatch.setattr(Path, "unlink", unlink)
    assert sum(stored_paths(tmp_path).values()) == 2 * sum(expected.values())  # twice, for now

    ParquetSink(tmp_path).close()
    assert stored_paths(tmp_path) == expected
    assert [level(f) for f in day_dir(tmp_path).glob("*.parquet")] == [1]
    assert not list(tmp_path.glob(".merge-*"))


def test_a_crash_before_the_merged_file_appears_leaves_the_sources(tmp_path, monkeypatch) -> None:
    expected = write_small_files(tmp_path, FAN_IN)

    def die_revealing(src: object, dst: object) -> None:
        raise Crash

    monkeypatch.setattr(compaction.os, "replace", die_revealing)
    with pytest.raises(Crash):
        compact(day_dir(tmp_path), TreeLock(tmp_path))
    monkeypatch.undo()
    assert list(tmp_path.glob(".merge-*"))  # the journal of the merge that died

    ParquetSink(tmp_path, flush_seconds=3600).close()
    assert stored_paths(tmp_path) == expected
    assert not list(tmp_path.glob(".merge-*"))


def test_a_merge_does_not_wait_long_for_a_reader(tmp_path, monkeypatch) -> None:
    expected = write_small_files(tmp_path, FAN_IN)
    monkeypatch.setattr(compaction, "SWAP_WAIT_S", 0.05)
    lock = TreeLock(tmp_path)
    with lock.shared():  # a long export holds the read lock
        assert compact(day_dir(tmp_path), lock) == 0
    assert stored_paths(tmp_path) == expected
    assert all(level(f) == 0 for f in day_dir(tmp_path).glob("*.parquet"))
    assert compact(day_dir(tmp_path), lock) == FAN_IN


def test_files_written_before_a_column_existed_merge_with_it_null(tmp_path) -> None:
    write_small_files(tmp_path, FAN_IN - 1)
    old = events_to_table([event(999, DAY)]).drop_columns(["user_id", "engaged_ms"])
    write_parquet_atomically(old, day_dir(tmp_path), "part-old.parquet")
    assert compact(day_dir(tmp_path), TreeLock(tmp_path)) == FAN_IN
    (merged,) = day_dir(tmp_path).glob("*.parquet")
    table = pq.read_table(merged)
    assert table.num_rows == 3 * (FAN_IN - 1) + 1
    by_path = {r["pathname"]: r for r in table.to_pylist()}
    assert by_path["/p999"]["user_id"] is None and by_path["/p999"]["engaged_ms"] is None
