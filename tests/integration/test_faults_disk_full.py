"""Disk full: the collector answers 503 with a JSON body and a clear log line, loses nothing
it answered 202 for, and takes events again once space returns (ENOSPC injected)."""

from __future__ import annotations

import dataclasses
import errno
import json
import os

import pytest

from beaconlake import wiring
from beaconlake.adapters import parquet_sink
from beaconlake.adapters.parquet_sink import ParquetSink
from beaconlake.ingest.http import receive_event
from beaconlake.model import RequestMeta
from tests.conftest import FIREFOX_UA
from tests.server import parquet_rows

META = RequestMeta(ip="192.0.2.44", user_agent=FIREFOX_UA)


class Disk:
    """os.write, or ENOSPC after writing half of the buffer, as a full disk does."""

    def __init__(self) -> None:
        self.full = False

    def write(self, fd: int, data: bytes) -> int:
        if self.full:
            os.write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.write(fd, data)


def send(ports: wiring.Ports, path: str) -> tuple[int, object]:
    body = json.dumps({"n": "pageview", "u": f"https://example.com{path}", "d": "example.com"})
    reply = receive_event(ports, body.encode(), "application/json", META)
    return reply.status, reply.body


@pytest.fixture
def env(local_env, monkeypatch):
    monkeypatch.setenv("BEACONLAKE_INGEST_IP_RATE", "0")
    monkeypatch.setenv("BEACONLAKE_INGEST_SITE_RATE", "0")
    wiring.reset()
    return local_env


def errors_logged(caplog) -> list[str]:
    """Each ERROR record as 'message | error' (the extra field Powertools prints)."""
    return [
        f"{r.getMessage()} | {getattr(r, 'error', '')}"
        for r in caplog.records
        if r.levelname == "ERROR"
    ]


def test_full_spool_disk_answers_503_then_recovers(env, caplog) -> None:
    disk = Disk()
    sink = ParquetSink(env, flush_rows=10**6, flush_seconds=3600, spool_write=disk.write)
    ports = dataclasses.replace(wiring.ports(), sink=sink)
    accepted = [p for p in ("/a", "/b") if send(ports, p)[0] == 202]
    disk.full = True
    status, body = send(ports, "/refused")
    assert status == 503 and isinstance(body, dict) and "retry" in body["error"]
    assert any("spool" in line and "ENOSPC" in line for line in errors_logged(caplog))
    disk.full = False
    accepted += [p for p in ("/c", "/d") if send(ports, p)[0] == 202]
    sink.close()
    assert accepted == ["/a", "/b", "/c", "/d"]
    assert sorted(r["pathname"] for r in parquet_rows(env)) == accepted


def test_full_parquet_disk_keeps_spooled_events_and_writes_them_later(
    env, caplog, monkeypatch
) -> None:
    real_write = parquet_sink.write_parquet_atomically
    full = {"on": True}

    def write(*args, **kwargs):
        if full["on"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(*args, **kwargs)

    monkeypatch.setattr(parquet_sink, "write_parquet_atomically", write)
    sink = ParquetSink(env, flush_rows=10**6, flush_seconds=3600, max_buffered_rows=3)
    ports = dataclasses.replace(wiring.ports(), sink=sink)
    statuses = [send(ports, f"/p{i}")[0] for i in range(3)]
    with pytest.raises(parquet_sink.SinkUnavailable, match="ENOSPC"):
        sink.flush()
    assert statuses == [202, 202, 202]
    assert send(ports, "/over")[0] == 503  # the buffer is full while nothing can be written
    assert any("Parquet" in line and "ENOSPC" in line for line in errors_logged(caplog))
    assert parquet_rows(env) == [] and list((env / "spool").glob("seg-*.jsonl"))
    full["on"] = False
    sink.flush()
    assert send(ports, "/after")[0] == 202
    sink.close()
    assert sorted(r["pathname"] for r in parquet_rows(env)) == ["/after", "/p0", "/p1", "/p2"]
    assert not list((env / "spool").glob("seg-*")) and not list(env.rglob("*.tmp"))
