"""Many writers and readers on the local store at once, while the sink compacts what it
wrote: every reader's count only grows, no query fails, and the final count is every row
put."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime, timedelta

from beaconlake.adapters.compaction import FAN_IN, level
from beaconlake.adapters.parquet_sink import ParquetSink
from beaconlake.wiring import local_engine
from tests.unit.test_spool import event

WRITERS, BATCHES, BATCH = 4, 30, 25
SQL = "SELECT count(*) AS n FROM events WHERE site_id = ? AND dt BETWEEN ? AND ?"


def test_readers_never_see_partial_data(tmp_path) -> None:
    sink = ParquetSink(tmp_path, flush_rows=60, flush_seconds=0.05)
    engine = local_engine(tmp_path)
    days = [
        (datetime(2026, 6, 1, tzinfo=UTC) + timedelta(days=d)).date().isoformat() for d in range(3)
    ]
    done = threading.Event()
    errors: list[BaseException] = []
    counts: list[list[int]] = [[] for _ in range(3)]

    def writer(w: int) -> None:
        try:
            for b in range(BATCHES):
                base = (w * BATCHES + b) * BATCH
                sink.put([event(base + i, days[(base + i) % 3]) for i in range(BATCH)])
                if b % 7 == 0:
                    sink.flush()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def reader(r: int) -> None:
        try:
            while not done.is_set():
                counts[r].append(engine.query(SQL, ["example.com", days[0], days[-1]])[0]["n"])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    readers = [threading.Thread(target=reader, args=(r,)) for r in range(3)]
    writers = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    sink.close()
    final = engine.query(SQL, ["example.com", days[0], days[-1]])[0]["n"]
    done.set()
    for t in readers:
        t.join()
    assert errors == []
    assert final == WRITERS * BATCHES * BATCH
    for seen in counts:
        assert len(seen) > 5 and seen == sorted(seen) and seen[-1] <= final
    assert len({n for seen in counts for n in seen}) > 3  # the readers saw the store grow
    for day in days:  # and the sink merged files under them
        files = list(tmp_path.glob(f"events/site_id=example.com/dt={day}/*.parquet"))
        assert any(level(f) >= 1 for f in files) and len(files) < 2 * FAN_IN


def test_concurrent_requests_through_the_collector_handler_keep_their_own_bodies(
    local_env, monkeypatch
) -> None:
    """The local gateway calls the collector's Lambda handler from several threads at once:
    the handler keeps no request in shared state, so none is mixed up with another."""
    from beaconlake import wiring
    from beaconlake.local.asgi import LambdaContext, to_apigw_event
    from functions.collect.app import handler
    from tests.conftest import FIREFOX_UA
    from tests.server import parquet_rows

    monkeypatch.setenv("BEACONLAKE_INGEST_IP_RATE", "0")
    monkeypatch.setenv("BEACONLAKE_INGEST_SITE_RATE", "0")
    wiring.reset()
    wiring.ports()  # built before the threads start, as `beaconlake serve` does
    statuses: list[int] = []

    def client(c: int) -> None:
        for i in range(150):
            body = f'{{"n":"pageview","u":"https://example.com/c{c}/{i}","d":"example.com"}}'
            scope = {
                "path": "/api/event",
                "method": "POST",
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"user-agent", FIREFOX_UA.encode()),
                ],
                "client": (f"192.0.2.{c}", 40000),
            }
            statuses.append(
                handler(to_apigw_event(scope, body.encode()), LambdaContext())["statusCode"]
            )

    threads = [threading.Thread(target=client, args=(c,)) for c in range(8)]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so that a shared request shows
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    wiring.reset()
    paths = [r["pathname"] for r in parquet_rows(local_env)]
    assert statuses == [202] * 1200
    assert sorted(paths) == sorted(f"/c{c}/{i}" for c in range(8) for i in range(150))
