"""The local query engine: old files without newer columns, its result cache, its allocator."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from time import time_ns

import pyarrow as pa
import pyarrow.parquet as pq

from beaconlake.adapters.result_cache import ResultCache
from beaconlake.schema import arrow_schema
from beaconlake.wiring import local_engine


def test_files_missing_a_newer_column_read_it_as_null(tmp_path: Path) -> None:
    newest = arrow_schema().names[-1]
    old_schema = pa.schema([f for f in arrow_schema() if f.name != newest])
    row = {f.name: [None] for f in old_schema}
    row |= {"ts": [datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)], "name": ["pageview"]}
    row |= {"pathname": ["/old"], "visitor_id": [7], "props": [[]], "interactive": [True]}
    part = tmp_path / "events" / "site_id=example.com" / "dt=2026-01-02"
    part.mkdir(parents=True)
    pq.write_table(pa.Table.from_pydict(row, schema=old_schema), part / "part-old.parquet")

    rows = local_engine(tmp_path).query(
        f'SELECT pathname, "{newest}" AS newest FROM events WHERE site_id = ? AND dt = ?',
        ["example.com", "2026-01-02"],
    )
    assert rows == [{"pathname": "/old", "newest": None}]


def test_cached_answers_never_outlive_a_change_to_the_files(tmp_path: Path) -> None:
    """A repeated statement is answered from the cache until a file lands or goes."""
    from beaconlake.adapters.parquet_sink import ParquetSink
    from beaconlake.ingest.service import CollectPolicy, collect
    from beaconlake.model import RequestMeta

    def store(path: str, when: datetime) -> None:
        sink = ParquetSink(tmp_path)
        outcome = collect(
            {"n": "pageview", "u": f"https://example.com{path}", "d": "example.com"},
            RequestMeta(ip="192.0.2.1", user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"),
            CollectPolicy(sites=frozenset({"example.com"}), honour_dnt=True, drop_localhost=True),
            lambda _: b"s" * 32,
            when,
            None,
        )
        sink.put(outcome.events)
        sink.close()

    day = datetime(2026, 1, 2, 12, tzinfo=UTC)
    engine = local_engine(tmp_path)
    sql = "SELECT count(*) AS n FROM events WHERE site_id = ? AND dt = ?"
    params = ["example.com", "2026-01-02"]
    store("/a", day)
    first = engine.query(sql, params)
    assert first == [{"n": 1}]
    store("/b", day)  # within the second: the answer above was not kept
    assert engine.query(sql, params) == [{"n": 2}]

    day_dir = tmp_path / "events" / "site_id=example.com" / "dt=2026-01-02"
    old = time_ns() - 5_000_000_000
    for d in (day_dir, day_dir.parent, day_dir.parent.parent):
        os.utime(d, ns=(old, old))
    assert engine.query(sql, params) == [{"n": 2}]
    key = engine.cache_key(sql, params, engine.cache.signature())
    assert engine.cache.get(key) == [{"n": 2}]
    store("/c", day)
    assert engine.query(sql, params) == [{"n": 3}]
    for f in day_dir.glob("*.parquet"):
        f.unlink()
        break
    assert engine.query(sql, params) == [{"n": 2}]


def test_queries_still_answer_after_every_file_is_deleted(tmp_path: Path) -> None:
    """Erasure or retention may remove every file while the server runs."""
    row = {f.name: [None] for f in arrow_schema()}
    row |= {"ts": [datetime(2026, 1, 2, tzinfo=UTC)], "name": ["pageview"], "props": [[]]}
    part = tmp_path / "events" / "site_id=example.com" / "dt=2026-01-02"
    part.mkdir(parents=True)
    pq.write_table(pa.Table.from_pydict(row, schema=arrow_schema()), part / "part-1.parquet")
    engine = local_engine(tmp_path)
    sql = "SELECT count(*) AS n FROM events WHERE site_id = ?"
    assert engine.query(sql, ["example.com"]) == [{"n": 1}]
    (part / "part-1.parquet").unlink()
    assert engine.query(sql, ["example.com"]) == [{"n": 0}]
    assert list(engine.stream(sql, ["example.com"])) == [[{"n": 0}]]


def test_duckdb_gives_back_what_queries_free(tmp_path: Path) -> None:
    """Its allocator's background threads return freed memory to the system; without them RSS
    under `serve` followed the biggest query so far (docs/RELIABILITY.md, soak)."""
    engine = local_engine(tmp_path, cached_answers=0)
    rows = engine.query("SELECT current_setting('allocator_background_threads') AS purging", [])
    assert rows == [{"purging": True}]


def test_the_cache_keeps_only_answers_for_the_files_as_they_are(tmp_path: Path) -> None:
    """Under steady ingest the files change every few seconds: answers for an older tree can
    never be asked for again, so they are dropped rather than kept until 256 pile up."""
    cache = ResultCache(tmp_path)
    now = time_ns()
    older, newer = (1, now - 9_000_000_000), (1, now - 5_000_000_000)
    cache.put(("q", (), older), older, [{"n": 1}])
    cache.put(("q", (), newer), newer, [{"n": 2}])
    assert cache.get(("q", (), older)) is None
    assert cache.get(("q", (), newer)) == [{"n": 2}]
    cache.put(("late", (), older), older, [{"n": 1}])  # a query that began before the change
    assert cache.get(("late", (), older)) is None
    assert cache.get(("q", (), newer)) == [{"n": 2}]


def test_files_merged_away_leave_nothing_in_the_engine(tmp_path: Path) -> None:
    """The sink writes a file every few seconds and compaction deletes it soon after; DuckDB's
    external file cache kept an entry for each one read, for as long as `serve` ran."""
    engine = local_engine(tmp_path, cached_answers=0)
    day = tmp_path / "events" / "site_id=example.com" / "dt=2026-01-02"
    day.mkdir(parents=True)
    row = {f.name: [None] for f in arrow_schema()}
    row |= {"ts": [datetime(2026, 1, 2, 3, tzinfo=UTC)], "name": ["pageview"], "props": [[]]}
    table = pa.Table.from_pydict(row, schema=arrow_schema())
    for n in range(60):
        path = day / f"part-{n}.parquet"
        pq.write_table(table, path)
        assert engine.query("SELECT count(*) AS n FROM events", []) == [{"n": 1}]
        path.unlink()
    held = engine.query(
        "SELECT coalesce(sum(memory_usage_bytes), 0) AS held FROM duckdb_memory() "
        "WHERE tag = 'OBJECT_CACHE'",
        [],
    )
    assert held == [{"held": 0}]
