"""The live day (today's rollup rows, merged flush by flush) always holds the rows the day's
files give when computed whole, through merges of files, erasure, late events and midnight."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from beaconlake.adapters.compaction import FAN_IN, leaves
from beaconlake.adapters.duckdb_engine import DuckDBEngine
from beaconlake.adapters.parquet_sink import ParquetEventStore, ParquetSink
from beaconlake.ingest.service import CollectPolicy, collect
from beaconlake.model import RequestMeta
from beaconlake.ports import Partition
from beaconlake.stats.live_sql import PAGE_MERGE, SESSION_MERGE
from beaconlake.stats.sql import (
    PAGE_COLUMNS,
    PAGE_ROLLUP_TABLE,
    SESSION_COLUMNS,
    SESSION_ROLLUP_TABLE,
    VISITOR_ATTRS,
    page_rollup_statement,
    rollup_statement,
)
from beaconlake.wiring import local_engine

SITE = "example.com"
TODAY = date(2026, 1, 2)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"
Beacon = tuple[str, dict[str, Any], datetime]  # ip, payload, when


def send(root: Path, beacons: list[Beacon]) -> None:
    """One flush (one file) of the beacons."""
    sink = ParquetSink(root)
    policy = CollectPolicy(sites=frozenset({SITE}), honour_dnt=True, drop_localhost=True)
    for ip, payload, when in beacons:
        outcome = collect(
            {"u": f"https://{SITE}/", "d": SITE, **payload},
            RequestMeta(ip=ip, user_agent=FIREFOX),
            policy,
            lambda day: day.encode().ljust(32, b"s"),
            when,
            None,
        )
        sink.put(outcome.events)
    sink.close()


def a_day_of_beacons(seed: int, visitors: int = 12) -> list[Beacon]:
    """Pageviews, custom events (some with revenue, some not interactive) and engagement, in
    visits 1 to 50 minutes apart, so some visits continue across flushes and some do not."""
    rng = random.Random(seed)
    out: list[Beacon] = []
    for v in range(visitors):
        at = datetime(2026, 1, 2, 6, rng.randrange(60), tzinfo=UTC)
        for _ in range(rng.randint(1, 12)):
            at += timedelta(minutes=rng.choice([1, 5, 29, 31, 50]))
            kind = rng.random()
            if kind < 0.6:
                payload: dict[str, Any] = {
                    "n": "pageview",
                    "u": f"https://{SITE}/p{rng.randrange(4)}",
                }
            elif kind < 0.75:
                payload = {"n": "Signup", "$": {"amount": rng.choice([5, 12.5]), "currency": "EUR"}}
            elif kind < 0.9:
                payload = {"n": "Video", "i": False}
            else:
                payload = {"n": "engagement"}
            out.append((f"192.0.2.{v}", payload, at))
    return sorted(out, key=lambda b: b[2])


def in_order(beacons: list[Beacon], parts: int) -> list[list[Beacon]]:
    """The beacons in `parts` flushes, in the order they came."""
    size = -(-len(beacons) // parts)
    return [beacons[i : i + size] for i in range(0, len(beacons), size)]


def live_rows(engine: DuckDBEngine, view: str, columns: tuple[str, ...]) -> list[tuple]:
    rows = engine.query(f"SELECT * FROM {view} WHERE site_id = ? AND dt = ?", [SITE, str(TODAY)])
    return sorted((tuple(r[c] for c in columns) for r in rows), key=repr)


def whole_rows(engine: DuckDBEngine, statement, columns: tuple[str, ...]) -> list[tuple]:
    st = statement(SITE, TODAY)
    return sorted((tuple(r[c] for c in columns) for r in engine.query(st.sql, st.params)), key=repr)


SESSION_ROW = (*SESSION_COLUMNS, *VISITOR_ATTRS, "first_of_source", "first_of_entry_page")


def assert_live_is_whole(engine: DuckDBEngine) -> None:
    engine.session_rollup(SITE, TODAY, TODAY)
    assert live_rows(engine, SESSION_ROLLUP_TABLE, SESSION_ROW) == whole_rows(
        engine, rollup_statement, SESSION_ROW
    )
    assert live_rows(engine, PAGE_ROLLUP_TABLE, PAGE_COLUMNS) == whole_rows(
        engine, page_rollup_statement, PAGE_COLUMNS
    )


def test_every_column_has_a_merge_rule() -> None:
    assert set(SESSION_MERGE) == {*SESSION_COLUMNS[2:], *VISITOR_ATTRS}
    assert set(PAGE_MERGE) == set(PAGE_COLUMNS[2:])


@pytest.mark.slow  # a day replayed flush by flush, three times: not in the fast loop
def test_flush_by_flush_the_live_day_holds_the_rows_of_the_whole_day(tmp_path: Path) -> None:
    for seed in range(3):
        root = tmp_path / f"seed-{seed}"
        engine = local_engine(root, cached_answers=0, today=lambda: TODAY)
        beacons = a_day_of_beacons(seed)
        cuts = sorted(random.Random(seed).sample(range(1, len(beacons)), 2 * FAN_IN + 1))
        for start, end in zip([0, *cuts], [*cuts, len(beacons)], strict=True):
            send(root, beacons[start:end])
            assert_live_is_whole(engine)
        assert (engine.live.recomputed, engine.live.merged) == (1, len(cuts))
        assert list(root.glob("events/*/*/merged-L1-*.parquet")), "the sink merged files"


def test_merged_files_are_recognised_and_not_taken_in_twice(tmp_path: Path) -> None:
    engine = local_engine(tmp_path, cached_answers=0, today=lambda: TODAY)
    for flush in in_order(a_day_of_beacons(7), FAN_IN):
        send(tmp_path, flush)
        engine.session_rollup(SITE, TODAY, TODAY)
    (merged,) = tmp_path.glob("events/*/*/*.parquet")
    assert merged.name.startswith("merged-L1-")
    assert len(leaves(merged)) == FAN_IN
    assert_live_is_whole(engine)
    assert (engine.live.recomputed, engine.live.merged) == (1, FAN_IN - 1)


def test_an_event_older_than_its_visitors_last_session_recomputes_the_day(tmp_path: Path) -> None:
    engine = local_engine(tmp_path, cached_answers=0, today=lambda: TODAY)
    noon = datetime(2026, 1, 2, 12, tzinfo=UTC)
    send(tmp_path, [("192.0.2.1", {"n": "pageview"}, noon)])
    engine.session_rollup(SITE, TODAY, TODAY)
    send(tmp_path, [("192.0.2.1", {"n": "pageview"}, noon - timedelta(minutes=10))])
    assert_live_is_whole(engine)
    assert engine.live.recomputed == 2
    assert live_rows(engine, SESSION_ROLLUP_TABLE, ("pageviews",)) == [(2,)]


def test_erasure_and_retention_are_seen_at_once(tmp_path: Path) -> None:
    engine = local_engine(tmp_path, cached_answers=0, today=lambda: TODAY)
    for flush in in_order(a_day_of_beacons(3), FAN_IN + 2):  # a merged file and two more
        send(tmp_path, flush)
        engine.session_rollup(SITE, TODAY, TODAY)
    assert engine.live.recomputed == 1
    store = ParquetEventStore(tmp_path)
    today = Partition(SITE, str(TODAY))
    report = store.delete_rows([today], "pathname", "/p1")
    assert report.rows_deleted > 0
    assert_live_is_whole(engine)
    assert engine.live.recomputed == 2
    assert all(row[0] != "/p1" for row in live_rows(engine, PAGE_ROLLUP_TABLE, ("pathname",)))
    rewritten = [p for p in tmp_path.glob("events/*/*/merged-*.parquet")]
    assert all(len(leaves(p)) == 1 for p in rewritten)  # erasure drops the merge's leaves

    store.drop([today])
    engine.session_rollup(SITE, TODAY, TODAY)
    assert live_rows(engine, SESSION_ROLLUP_TABLE, SESSION_ROW) == []
    assert live_rows(engine, PAGE_ROLLUP_TABLE, PAGE_COLUMNS) == []


def test_after_midnight_yesterday_is_counted_once_from_its_rollup_file(tmp_path: Path) -> None:
    day = {"now": TODAY}
    engine = local_engine(tmp_path, cached_answers=0, today=lambda: day["now"])
    send(tmp_path, [("192.0.2.1", {"n": "pageview"}, datetime(2026, 1, 2, 23, 50, tzinfo=UTC))])
    engine.session_rollup(SITE, TODAY, TODAY)
    day["now"] = TODAY + timedelta(days=1)
    send(tmp_path, [("192.0.2.1", {"n": "pageview"}, datetime(2026, 1, 3, 0, 5, tzinfo=UTC))])

    engine.session_rollup(SITE, TODAY, TODAY)  # yesterday only: the live day is not read
    sessions = engine.query("SELECT dt, pageviews FROM session_rollup ORDER BY dt", [])
    assert sessions == [{"dt": "2026-01-02", "pageviews": 1}]
    engine.session_rollup(SITE, TODAY, day["now"])
    sessions = engine.query("SELECT dt, pageviews FROM session_rollup ORDER BY dt", [])
    assert sessions == [{"dt": "2026-01-02", "pageviews": 1}, {"dt": "2026-01-03", "pageviews": 1}]
    assert (tmp_path / "rollup" / f"site_id={SITE}" / "dt=2026-01-02").is_dir()
    assert not (tmp_path / "rollup" / f"site_id={SITE}" / "dt=2026-01-03").exists()


def test_a_merge_records_the_files_it_holds_in_order(tmp_path: Path) -> None:
    beacons = a_day_of_beacons(5)
    for flush in in_order(beacons, FAN_IN):
        send(tmp_path, flush)
    (merged,) = tmp_path.glob("events/*/*/*.parquet")
    found = leaves(merged)
    assert sum(leaf.rows for leaf in found) == pq.read_metadata(merged).num_rows == len(beacons)
    assert all(leaf.name.startswith("part-") for leaf in found)


def test_events_in_the_same_millisecond_are_one_visit(tmp_path: Path) -> None:
    at = datetime(2026, 1, 2, 8, tzinfo=UTC)
    send(
        tmp_path,
        [
            (f"2001:db8::{v}", {"n": "pageview", "u": f"https://{SITE}/{p}"}, at)
            for v in range(250)
            for p in range(4)
        ],
    )
    engine = local_engine(tmp_path, cached_answers=0, today=lambda: TODAY)
    visits = whole_rows(engine, rollup_statement, ("session_no", "pageviews"))
    assert visits == [(1, 4)] * 250


def live_table_bytes(engine: DuckDBEngine) -> int:
    rows = engine.query(
        "SELECT sum(memory_usage_bytes) AS held FROM duckdb_memory() WHERE tag = 'IN_MEMORY_TABLE'",
        [],
    )
    return int(rows[0]["held"])


@pytest.mark.slow  # 24 flushes of 1,000 visits: not in the fast loop
def test_the_tables_hold_the_days_visits_not_every_version_of_them(tmp_path: Path) -> None:
    """Each flush continues every visit, so each merge deletes and re-inserts all of them:
    what the tables hold must stay near one version of each row, however many flushes."""
    engine = local_engine(tmp_path, cached_answers=0, today=lambda: TODAY)
    held = []
    for flush in range(24):
        at = datetime(2026, 1, 2, 8, flush, tzinfo=UTC)
        send(tmp_path, [(f"2001:db8::{v}", {"n": "pageview"}, at) for v in range(1000)])
        engine.session_rollup(SITE, TODAY, TODAY)
        held.append(live_table_bytes(engine))
    assert_live_is_whole(engine)
    assert max(held) <= 2 * held[0], held
