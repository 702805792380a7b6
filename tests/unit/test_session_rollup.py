"""The local engine's rollups (sessions, and visitors per page): written for past days only, one
bucket of visitors at a time, rewritten when a day's files change, and deleted with the events
they came from (erasure, retention)."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from beaconlake.adapters import duckdb_engine
from beaconlake.adapters.duckdb_engine import DuckDBEngine, RowGroupWriter
from beaconlake.adapters.parquet_sink import ParquetEventStore, ParquetSink
from beaconlake.ingest.service import CollectPolicy, collect
from beaconlake.model import RequestMeta
from beaconlake.ports import Partition, Rollup
from beaconlake.stats import rollup_job, service
from beaconlake.stats.query import DateRange, StatsQuery
from beaconlake.stats.sql import VisitorBucket, visitor_buckets
from beaconlake.wiring import local_engine

SITE = "example.com"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"
DAYS = DateRange(date(2026, 1, 1), date(2026, 1, 3))


def store(root: Path, ip: str, path: str, when: datetime, site: str = SITE) -> None:
    store_all(root, [(ip, path, when)], site)


def store_all(root: Path, views: list[tuple[str, str, datetime]], site: str = SITE) -> None:
    """One flush of a pageview per (ip, path, when)."""
    sink = ParquetSink(root)
    for ip, path, when in views:
        outcome = collect(
            {"n": "pageview", "u": f"https://{site}{path}", "d": site},
            RequestMeta(ip=ip, user_agent=FIREFOX),
            CollectPolicy(sites=frozenset({site}), honour_dnt=True, drop_localhost=True),
            lambda day: day.encode().ljust(32, b"s"),
            when,
            None,
        )
        sink.put(outcome.events)
    sink.close()


def rolled_days(root: Path) -> list[str]:
    return sorted(p.parent.name for p in root.glob("rollup/site_id=*/dt=*/session_rollup.parquet"))


def visits(engine: DuckDBEngine) -> dict[str, int]:
    q = StatsQuery(SITE, DAYS, ("visitors", "visits", "pageviews"))
    return {k: v["value"] for k, v in service.aggregate(engine, q).items()}


def test_days_before_today_are_rolled_up_into_files_and_today_is_live(tmp_path: Path) -> None:
    for day in (1, 2, 3):
        store(tmp_path, "192.0.2.1", "/", datetime(2026, 1, day, 9, tzinfo=UTC))
    engine = local_engine(tmp_path, cached_answers=0, today=lambda: date(2026, 1, 3))

    assert engine.session_rollup(SITE, DAYS.first, DAYS.last) == Rollup(
        date(2026, 1, 1), date(2026, 1, 3)
    )
    assert rolled_days(tmp_path) == ["dt=2026-01-01", "dt=2026-01-02"]
    (rollup,) = tmp_path.glob("rollup/*/dt=2026-01-01/session_rollup.parquet")
    assert pq.read_table(rollup).num_rows == 1
    assert visits(engine) == {"visitors": 3, "visits": 3, "pageviews": 3}
    assert engine.session_rollup(SITE, date(2026, 1, 3), date(2026, 1, 3)) == Rollup(
        date(2026, 1, 3), date(2026, 1, 3)
    )
    assert engine.session_rollup(SITE, date(2026, 1, 4), date(2026, 1, 5)) is None


def test_visitor_buckets_are_a_power_of_two_each_about_the_given_rows() -> None:
    assert visitor_buckets(0, 100) == [VisitorBucket(0, 1)]
    assert visitor_buckets(100, 100) == [VisitorBucket(0, 1)]
    assert visitor_buckets(101, 100) == [VisitorBucket(0, 2), VisitorBucket(1, 2)]
    assert visitor_buckets(500, 100) == [VisitorBucket(i, 8) for i in range(8)]


def test_a_day_rolled_up_bucket_by_bucket_has_the_rows_of_the_whole_day(
    tmp_path: Path, monkeypatch
) -> None:
    views = [  # 60 visitors, 1 to 3 visits an hour apart, of 1 or 2 pages
        (f"192.0.2.{n}", f"/p{(n + page) % 7}", datetime(2026, 1, 1, 8 + visit, page, tzinfo=UTC))
        for n in range(60)
        for visit in range(1 + n % 3)
        for page in range(1 + n % 2)
    ]
    store_all(tmp_path, views)

    def rollups(rows_per_bucket: int) -> tuple[list[dict], list[dict], list[int]]:
        statements: list[int] = []
        engine = local_engine(
            tmp_path, today=lambda: date(2026, 1, 2), rows_per_bucket=rows_per_bucket
        )
        write = engine._write_atomically

        def counting(sts, target, signature):
            statements.append(len(sts))
            write(sts, target, signature)

        monkeypatch.setattr(engine, "_write_atomically", counting)
        shutil.rmtree(tmp_path / "rollup", ignore_errors=True)
        engine.session_rollup(SITE, DAYS.first, DAYS.first)
        (day,) = tmp_path.glob("rollup/*/dt=2026-01-01")

        def rows(name: str) -> list[dict]:
            table = pq.read_table(day / name)
            return sorted(table.to_pylist(), key=lambda r: sorted(r.items(), key=str).__repr__())

        return rows("session_rollup.parquet"), rows("page_rollup.parquet"), statements

    whole_sessions, whole_pages, one_each = rollups(10_000)
    sessions, pages, per_bucket = rollups(8)

    assert one_each == [1, 1]
    assert per_bucket == [32, 32]  # 180 events, 8 per bucket
    assert len(views) == 180
    assert sessions == whole_sessions and pages == whole_pages
    for name in (
        "session_rollup.parquet",
        "page_rollup.parquet",
    ):  # one row group, not one per bucket
        (path,) = tmp_path.glob(f"rollup/*/dt=2026-01-01/{name}")
        assert pq.ParquetFile(path).metadata.num_row_groups == 1
    assert len(sessions) == sum(1 + n % 3 for n in range(60))
    visitor_ids = {r["visitor_id"] for r in sessions}
    assert min(visitor_ids) < 0 < max(visitor_ids)  # both signs fall in their buckets


def test_a_late_file_in_a_past_day_rewrites_its_rollup(tmp_path: Path) -> None:
    store(tmp_path, "192.0.2.1", "/", datetime(2026, 1, 1, 9, tzinfo=UTC))
    engine = local_engine(tmp_path, cached_answers=0, today=lambda: date(2026, 1, 10))
    assert visits(engine) == {"visitors": 1, "visits": 1, "pageviews": 1}

    store(tmp_path, "192.0.2.2", "/late", datetime(2026, 1, 1, 23, 59, tzinfo=UTC))
    assert visits(engine) == {"visitors": 2, "visits": 2, "pageviews": 2}
    (rollup,) = tmp_path.glob("rollup/*/dt=2026-01-01/session_rollup.parquet")
    assert pq.read_table(rollup).num_rows == 2


def test_a_new_engine_reuses_a_current_rollup_and_replaces_a_stale_one(tmp_path: Path) -> None:
    store(tmp_path, "192.0.2.1", "/", datetime(2026, 1, 1, 9, tzinfo=UTC))
    today = lambda: date(2026, 1, 10)  # noqa: E731
    local_engine(tmp_path, today=today).session_rollup(SITE, DAYS.first, DAYS.last)
    (rollup,) = tmp_path.glob("rollup/*/dt=2026-01-01/session_rollup.parquet")
    written = rollup.stat().st_mtime_ns

    local_engine(tmp_path, today=today).session_rollup(SITE, DAYS.first, DAYS.last)
    assert rollup.stat().st_mtime_ns == written

    store(tmp_path, "192.0.2.2", "/", datetime(2026, 1, 1, 10, tzinfo=UTC))
    engine = local_engine(tmp_path, cached_answers=0, today=today)
    assert visits(engine)["visitors"] == 2
    assert rollup.stat().st_mtime_ns != written


def test_erasure_and_retention_delete_the_rollup_of_the_days_they_change(tmp_path: Path) -> None:
    for day in (1, 2):
        store(tmp_path, "192.0.2.1", "/a", datetime(2026, 1, day, 9, tzinfo=UTC))
        store(tmp_path, "192.0.2.2", "/b", datetime(2026, 1, day, 9, tzinfo=UTC))
    engine = local_engine(tmp_path, cached_answers=0, today=lambda: date(2026, 1, 10))
    assert visits(engine)["visitors"] == 4
    assert rolled_days(tmp_path) == ["dt=2026-01-01", "dt=2026-01-02"]

    events = ParquetEventStore(tmp_path)
    events.delete_rows([Partition(SITE, "2026-01-01")], "pathname", "/a")
    events.drop([Partition(SITE, "2026-01-02")])
    assert rolled_days(tmp_path) == []

    assert visits(engine)["visitors"] == 1
    assert rolled_days(tmp_path) == ["dt=2026-01-01"]


def test_a_rollup_whose_events_are_gone_is_removed(tmp_path: Path) -> None:
    store(tmp_path, "192.0.2.1", "/", datetime(2026, 1, 1, 9, tzinfo=UTC))
    engine = local_engine(tmp_path, cached_answers=0, today=lambda: date(2026, 1, 10))
    assert engine.session_rollup(SITE, DAYS.first, DAYS.last) is not None
    for part in tmp_path.glob("events/*/dt=2026-01-01/*.parquet"):
        part.unlink()
    (tmp_path / "events" / f"site_id={SITE}" / "dt=2026-01-01").rmdir()

    assert engine.session_rollup(SITE, DAYS.first, DAYS.last) is None
    assert rolled_days(tmp_path) == []
    assert visits(engine) == {"visitors": 0, "visits": 0, "pageviews": 0}


def test_serve_rolls_up_every_site_at_start_and_after_midnight(tmp_path: Path) -> None:
    import threading

    from beaconlake.local.server import keep_sessions_rolled_up

    for site, ip in ((SITE, "192.0.2.1"), ("blog.example.com", "192.0.2.2")):
        store(tmp_path, ip, "/", datetime(2026, 1, 1, 9, tzinfo=UTC), site)
        store(tmp_path, ip, "/", datetime(2026, 1, 2, 9, tzinfo=UTC), site)
    engine = local_engine(tmp_path, today=lambda: date(2026, 1, 2))
    stop = threading.Event()
    clock = lambda: datetime(2026, 1, 2, 0, 5, tzinfo=UTC)  # noqa: E731
    thread = keep_sessions_rolled_up(engine, [SITE, "blog.example.com"], stop, clock)
    stop.set()
    thread.join(timeout=30)
    rolled = sorted(p.relative_to(tmp_path / "rollup") for p in tmp_path.glob("rollup/*/*"))
    assert rolled == [
        Path("site_id=blog.example.com/dt=2026-01-01"),
        Path(f"site_id={SITE}/dt=2026-01-01"),
    ]


def test_a_settled_day_is_not_listed_again_until_its_directory_changes(
    tmp_path: Path, monkeypatch
) -> None:
    import os
    import time

    from beaconlake.adapters import duckdb_engine

    listed: list[Path] = []
    real_signature = duckdb_engine.files_signature
    monkeypatch.setattr(
        duckdb_engine, "files_signature", lambda d: listed.append(d) or real_signature(d)
    )
    store(tmp_path, "192.0.2.1", "/", datetime(2026, 1, 1, 9, tzinfo=UTC))
    day_dir = tmp_path / "events" / f"site_id={SITE}" / "dt=2026-01-01"
    settled = time.time_ns() - 5_000_000_000
    os.utime(day_dir, ns=(settled, settled))
    engine = local_engine(tmp_path, cached_answers=0, today=lambda: date(2026, 1, 10))
    assert visits(engine)["visitors"] == 1
    assert visits(engine)["visitors"] == 1
    assert len(listed) == 1

    store(tmp_path, "192.0.2.2", "/late", datetime(2026, 1, 1, 23, tzinfo=UTC))
    assert visits(engine)["visitors"] == 2
    assert len(listed) == 2


def test_rollup_files_are_written_in_row_groups_of_the_set_size(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(duckdb_engine, "ROW_GROUP_ROWS", 8)
    schema = pa.schema([("n", pa.int64())])
    writer = RowGroupWriter(tmp_path / "rows.parquet", schema)
    for start in range(0, 30, 3):
        writer.write(pa.record_batch([pa.array(range(start, start + 3))], schema=schema))
    writer.finish()

    meta = pq.ParquetFile(tmp_path / "rows.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [9, 9, 9, 3]
    assert pq.read_table(tmp_path / "rows.parquet")["n"].to_pylist() == list(range(30))


def test_rollups_written_by_other_sql_are_written_again(tmp_path: Path, monkeypatch) -> None:
    """An upgrade that changes how a day is rolled up (as the same-millisecond fix of
    2026-11-26 did) must not leave past days as the old SQL counted them."""
    store(tmp_path, "192.0.2.1", "/", datetime(2026, 1, 1, 9, tzinfo=UTC))
    sessions = tmp_path / "rollup" / f"site_id={SITE}" / "dt=2026-01-01" / "session_rollup.parquet"

    def stored() -> bytes:
        return (pq.read_schema(sessions).metadata or {})[b"signature"]

    def later() -> date:
        return date(2026, 1, 10)

    assert visits(local_engine(tmp_path, cached_answers=0, today=later))["visitors"] == 1
    before = stored()
    monkeypatch.setattr(rollup_job, "rollup_sql_digest", lambda: "the next version")
    assert visits(local_engine(tmp_path, cached_answers=0, today=later))["visitors"] == 1
    assert stored() != before
    day_dir = tmp_path / "events" / f"site_id={SITE}" / "dt=2026-01-01"
    files = duckdb_engine.files_signature(day_dir)
    assert files is not None and stored().decode() == rollup_job.signed(files)
