"""Salt rotation end to end: the same person on two days gets two visitor ids, yesterday's
salt still works until it is 48 h old, then it is gone and can never be recreated; the
local server rotates on its own when a UTC day begins."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from beaconlake.adapters.file_salts import FileSaltStore
from beaconlake.ingest.service import CollectPolicy, collect
from beaconlake.local.server import keep_salts_rotated
from beaconlake.model import RequestMeta
from tests.conftest import FIREFOX_UA

POLICY = CollectPolicy(sites=frozenset({"example.com"}))
SAME_PERSON = RequestMeta(ip="192.0.2.10", user_agent=FIREFOX_UA)
BEACON = {"n": "pageview", "u": "https://example.com/", "d": "example.com"}
DAY1 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)


def visitor(store: FileSaltStore, at: datetime) -> int:
    [event] = collect(BEACON, SAME_PERSON, POLICY, store.salt_for, at).events
    return event.visitor_id


def test_visitor_ids_change_daily_and_old_salts_are_gone_after_48_hours(tmp_path) -> None:
    path = tmp_path / "salts.json"
    store = FileSaltStore(path)
    store.rotate(DAY1)
    monday = visitor(store, DAY1 + timedelta(hours=9))
    assert visitor(store, DAY1 + timedelta(hours=20)) == monday  # one day, one id
    salt1 = store.salt_for("2026-06-01").hex()

    store.rotate(DAY1 + timedelta(days=1))
    tuesday = visitor(store, DAY1 + timedelta(days=1, hours=9))
    assert tuesday != monday
    # yesterday's salt is still held (and read back by another process) until 48 h
    assert FileSaltStore(path).salt_for("2026-06-01").hex() == salt1
    assert visitor(FileSaltStore(path), DAY1 + timedelta(hours=23)) == monday

    store.rotate(DAY1 + timedelta(days=2))
    assert store.days() == ["2026-06-02", "2026-06-03"]
    assert salt1 not in path.read_text()
    # a new process asked for that day gets a new random salt: the old ids cannot be recomputed
    assert visitor(FileSaltStore(path), DAY1 + timedelta(hours=9)) != monday


def test_the_local_server_rotates_when_a_day_begins(tmp_path) -> None:
    store = FileSaltStore(tmp_path / "salts.json")
    now = [DAY1 + timedelta(hours=23)]
    store.rotate(now[0])
    stop = threading.Event()
    thread = keep_salts_rotated(store, stop, every_s=0.01, clock=lambda: now[0])
    try:
        for day in (1, 2, 3):
            now[0] = DAY1 + timedelta(days=day, minutes=1)
            expected = [(now[0] - timedelta(days=d)).date().isoformat() for d in (1, 0)]
            deadline = time.monotonic() + 5
            while store.days() != expected and time.monotonic() < deadline:
                time.sleep(0.01)
            assert store.days() == expected
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
