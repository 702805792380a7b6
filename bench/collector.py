"""Figure 1: the collector's work per beacon, in process, and the process's peak RSS.

`receive_event` (content type and size checks, JSON decode, validation, bot/DNT rules, UA
parsing, visitor hash, one Event row) runs on beacons from the demo generator (its weighted
mix of real browser and bot user agents), with a sink that only serialises each row to the
JSON line Firehose receives. Warm: every UA already parsed once. Cold: every beacon carries a
UA string never seen before (a version number made unique), so no cache can answer.

Run as `python -m bench.collector`; prints one JSON object.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from beaconlake.config import Settings
from beaconlake.ingest.http import receive_event
from beaconlake.local import demo
from beaconlake.model import Event, RequestMeta
from beaconlake.wiring import Ports
from bench.procs import peak_rss_mb

SITE = "bench.example"
DAYS, VISITORS_PER_DAY, SEED = 2, 2500, 7
WARM_PASSES = 3
_VERSION = re.compile(r"(\d+)\.(\d+)")


def json_line(event: Event) -> bytes:
    """The record the collector sends to Firehose for one event."""
    return json.dumps(event.as_json_record(), separators=(",", ":"), default=str).encode() + b"\n"


class SerialisingSink:
    """Stands in for the network: builds each JSON line, then drops it."""

    def __init__(self) -> None:
        self.lines = 0

    def put(self, events: Sequence[Event]) -> None:
        for event in events:
            json_line(event)
            self.lines += 1

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


class DaySalts:
    def salt_for(self, day: str) -> bytes:
        return day.encode().ljust(32, b"\0")

    def rotate(self, now: datetime) -> None:
        return None

    def days(self) -> list[str]:
        return []


def _ports() -> Ports:
    # the rate limits are off: this loop is far faster than any one site's real traffic
    settings = Settings(sites=frozenset({SITE}), ingest_ip_rate=0, ingest_site_rate=0)
    return Ports(settings, SerialisingSink(), DaySalts(), keys=None, country_lookup=None)  # type: ignore[arg-type]


def _beacons() -> list[tuple[bytes, RequestMeta]]:
    end = datetime.now(UTC)
    return [
        (json.dumps(b.data).encode(), b.meta)
        for b in demo.generate(SITE, DAYS, VISITORS_PER_DAY, SEED, end)
    ]


def _time(ports: Ports, beacons: list[tuple[bytes, RequestMeta]]) -> list[float]:
    out = []
    for body, meta in beacons:
        started = time.perf_counter()
        reply = receive_event(ports, body, "text/plain", meta)
        out.append(time.perf_counter() - started)
        assert reply.status == 202, reply
    return out


def _unique_ua(meta: RequestMeta, n: int) -> RequestMeta:
    ua = _VERSION.sub(lambda m: f"{m.group(1)}.{n}", meta.user_agent, count=1)
    return dataclasses.replace(meta, user_agent=ua)


def _stats(seconds: list[float]) -> dict[str, Any]:
    us = sorted(s * 1e6 for s in seconds)
    return {
        "n": len(us),
        "median_us": us[len(us) // 2],
        "p99_us": us[min(len(us) - 1, int(len(us) * 0.99))],
    }


def main() -> None:
    ports = _ports()
    beacons = _beacons()
    _time(ports, beacons)
    warm: list[float] = []
    for _ in range(WARM_PASSES):
        warm += _time(ports, beacons)
    cold = _time(ports, [(body, _unique_ua(meta, i)) for i, (body, meta) in enumerate(beacons)])
    stored = ports.sink.lines  # type: ignore[attr-defined]
    result = {
        "beacons": len(beacons),
        "stored_share": stored / (len(beacons) * (WARM_PASSES + 2)),
        "distinct_uas": len({m.user_agent for _, m in beacons}),
        "warm": _stats(warm),
        "cold": _stats(cold),
        "peak_rss_mb": peak_rss_mb(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
