"""No raw IP or User-Agent is ever written; SIGTERM loses no accepted event."""

from __future__ import annotations

import signal
import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.server import NO_LIMITS, load, parquet_rows, start_server, wait_for

pytestmark = pytest.mark.slow

DISTINCT_IP = "203.0.113.197"
DISTINCT_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.86 Safari/537.36 ZephyrQuokka/7.3"
)
NEEDLES = [DISTINCT_IP, DISTINCT_UA, "ZephyrQuokka", "203.0.113"]


def scan(root: Path, needles: list[str]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path}: {n}" for n in needles if n.encode() in data]
    return hits


def test_no_ip_or_user_agent_in_any_file_or_log(tmp_path) -> None:
    srv = start_server(
        tmp_path / "data",
        tmp_path / "logs",
        POWERTOOLS_LOG_LEVEL="DEBUG",
        BEACONLAKE_FLUSH_SECONDS="3600",
        **NO_LIMITS,
    )
    try:
        headers = {
            "user-agent": DISTINCT_UA,
            "x-forwarded-for": DISTINCT_IP,
            "content-type": "application/json",
        }
        with httpx.Client(timeout=10) as client:
            for i in range(20):
                body = {
                    "n": "pageview",
                    "u": f"https://example.com/p{i}",
                    "d": "example.com",
                    "r": "https://www.google.com/",
                }
                assert (
                    client.post(f"{srv.base}/api/event", json=body, headers=headers).status_code
                    == 202
                )
            # rejected, dropped and pixel beacons must not leak either
            client.post(f"{srv.base}/api/event", content=b"{bad", headers=headers)
            client.post(
                f"{srv.base}/api/event",
                json={"n": "x", "u": "https://x.org/", "d": "x.org"},
                headers=headers,
            )
            client.post(
                f"{srv.base}/api/event",
                json={"n": "pageview", "u": "https://example.com/", "d": "example.com"},
                headers={**headers, "dnt": "1"},
            )
            client.get(
                f"{srv.base}/e.gif",
                params={"d": "example.com", "u": "https://example.com/m"},
                headers=headers,
            )
            client.get(f"{srv.base}/e.gif", params={"d": "example.com"}, headers=headers)
        # before the flush, the accepted events are only in the spool: scan it now
        spooled = list((tmp_path / "data" / "spool").glob("seg-*.jsonl"))
        assert spooled and b"/p19" in b"".join(p.read_bytes() for p in spooled)
        assert scan(tmp_path, NEEDLES) == []
        assert srv.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after a clean stop
    finally:
        srv.stop()
    rows = parquet_rows(tmp_path / "data")
    assert len(rows) == 21 and {r["browser"] for r in rows} == {"Chrome"}
    assert scan(tmp_path, NEEDLES) == []
    assert "DEBUG" in srv.log_text() or "beacon dropped" in srv.log_text()


def test_sigterm_during_load_loses_no_accepted_event(tmp_path) -> None:
    srv = start_server(
        tmp_path / "data",
        tmp_path / "logs",
        BEACONLAKE_FLUSH_SECONDS="3600",
        BEACONLAKE_FLUSH_ROWS="1000000",
        **NO_LIMITS,
    )
    accepted: list[str] = []
    stop_sending = threading.Event()
    threads = load(srv, 8, stop_sending, accepted, DISTINCT_UA)
    wait_for(accepted, 300)
    assert srv.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    stop_sending.set()
    for t in threads:
        t.join(timeout=20)
    stored = Counter(r["pathname"] for r in parquet_rows(tmp_path / "data"))
    assert len(accepted) >= 300
    missing = set(accepted) - set(stored)
    assert not missing, f"{len(missing)} accepted events were lost"
    assert max(stored.values()) == 1, "an event was stored twice"
    assert not list((tmp_path / "data" / "spool").glob("seg-*")), "a graceful stop left a spool"
