"""kill -9 in the middle of a concurrent load loses no event that got a 202, and leaves no
corrupt, half-written or duplicated Parquet behind: the next start replays the spool."""

from __future__ import annotations

import signal
import threading
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import FIREFOX_UA
from tests.server import NO_LIMITS, load, parquet_rows, start_server, wait_for

pytestmark = pytest.mark.slow


def assert_whole_files(data_dir: Path) -> None:
    files = list((data_dir / "events").rglob("*.parquet"))
    assert files and all(pq.read_table(f).num_rows > 0 for f in files)
    assert not [p for p in data_dir.rglob("*") if p.name.endswith((".tmp", ".new"))]


@pytest.mark.parametrize("sync_ms", ["0", "20"])  # fdatasync before each 202, or every 20 ms
def test_kill_9_during_load_loses_no_accepted_event(tmp_path, sync_ms) -> None:
    data = tmp_path / "data"
    # a Parquet file every 150 rows: the kill lands between, or during, flushes
    env = {
        **NO_LIMITS,
        "BEACONLAKE_FLUSH_ROWS": "150",
        "BEACONLAKE_FLUSH_SECONDS": "3600",
        "BEACONLAKE_SPOOL_SYNC_MS": sync_ms,
    }
    srv = start_server(data, tmp_path / "logs1", **env)
    accepted: list[str] = []
    stop = threading.Event()
    threads = load(srv, 8, stop, accepted, FIREFOX_UA)
    wait_for(accepted, 1000)
    assert srv.stop(signal.SIGKILL) == -signal.SIGKILL
    stop.set()
    for t in threads:
        t.join(timeout=20)
    acknowledged = set(accepted)
    assert len(acknowledged) >= 1000
    spooled = sum(1 for _ in (data / "spool").glob("seg-*.jsonl"))

    srv = start_server(data, tmp_path / "logs2", **env)  # replays the spool on start
    assert_whole_files(data)
    assert srv.stop() in (0, -signal.SIGTERM)
    stored = Counter(r["pathname"] for r in parquet_rows(data))
    missing = acknowledged - set(stored)
    assert not missing, f"{len(missing)} of {len(acknowledged)} events that got a 202 were lost"
    assert max(stored.values()) == 1, "an event was stored twice"
    assert not list((data / "spool").glob("seg-*")), f"{spooled} segments were left to replay"
    assert_whole_files(data)
