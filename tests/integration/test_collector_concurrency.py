"""Requests through the local gateway's worker threads each store their own event once: the
collector's handler keeps no request in shared state, so threads need not take turns."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httpx
import pytest

from beaconlake import wiring
from beaconlake.local.asgi import LocalGateway
from functions.collect.app import handler
from tests.conftest import FIREFOX_UA
from tests.server import parquet_rows

BOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture
def collector(local_env, monkeypatch):
    monkeypatch.setenv("BEACONLAKE_INGEST_IP_RATE", "0")
    monkeypatch.setenv("BEACONLAKE_INGEST_SITE_RATE", "0")
    wiring.reset()
    wiring.ports()  # built before any thread starts, as `beaconlake serve` does
    yield local_env
    wiring.reset()


def test_concurrent_beacons_through_the_gateway_are_each_stored_once(collector) -> None:
    def stats(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise AssertionError("no stats request is sent")

    gateway = LocalGateway(collect=handler, stats=stats)
    paths = [f"/g{i}" for i in range(600)]

    async def send_all() -> list[int]:
        transport = httpx.ASGITransport(app=gateway)
        async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
            answers = await asyncio.gather(
                *(
                    client.post(
                        "/api/event",
                        json={"n": "pageview", "u": f"https://example.com{p}", "d": "example.com"},
                        headers={"user-agent": FIREFOX_UA},
                    )
                    for p in paths
                )
            )
        return [a.status_code for a in answers]

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so that a shared request shows
    try:
        loop = asyncio.new_event_loop()  # not asyncio.run: it would unset the main thread's
        statuses = loop.run_until_complete(send_all())  # loop, which Mangum's handler uses
        loop.close()
    finally:
        sys.setswitchinterval(switch)
    wiring.reset()
    assert statuses == [202] * len(paths)
    assert sorted(r["pathname"] for r in parquet_rows(collector)) == sorted(paths)
