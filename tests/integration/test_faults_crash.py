"""kill -9 in the middle of a concurrent load loses no event that got a 202, and leaves no
corrupt, half-written or duplicated Parquet behind: the next start replays the spool."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from tests.server import Server, parquet_rows, start_server

pytestmark = pytest.mark.slow

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
NO_LIMITS = {"BEACONLAKE_INGEST_IP_RATE": "0", "BEACONLAKE_INGEST_SITE_RATE": "0"}


def load(
    srv: Server, workers: int, stop: threading.Event, accepted: list[str]
) -> list[threading.Thread]:
    """Senders of unique pathnames; each path that got a 202 is appended to `accepted`."""
    lock = threading.Lock()

    def sender(worker: int) -> None:
        with httpx.Client(timeout=10) as client:
            i = 0
            while not stop.is_set():
                path = f"/w{worker}/e{i}"
                i += 1
                body = json.dumps(
                    {"n": "pageview", "u": f"https://example.com{path}", "d": "example.com"}
                )
                try:
                    res = client.post(
                        f"{srv.base}/api/event",
                        content=body,
                        headers={
                            "content-type": "text/plain",
                            "x-forwarded-for": f"198.51.100.{worker}",
                            "user-agent": UA,
                        },
                    )
                except httpx.HTTPError:
                    return
                if res.status_code == 202:
                    with lock:
                        accepted.append(path)

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    return threads


def wait_for(accepted: list[str], count: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while len(accepted) < count and time.monotonic() < deadline:
        time.sleep(0.02)


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
    threads = load(srv, 8, stop, accepted)
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
