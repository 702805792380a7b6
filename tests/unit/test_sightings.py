"""Sightings for "verify installation": what the collector saw per host, throttled, recorded
on the collector's HTTP path (collect stays pure), for sites and for hosts that are not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from beaconlake import wiring
from beaconlake.adapters.file_logins import FileLoginStore
from beaconlake.adapters.record_sightings import RecordSightings
from beaconlake.ingest.http import answer_event, answer_pixel
from beaconlake.site_ports import Sighting
from beaconlake.sites import Catalogue, MemoryRecords
from tests.conftest import CHROME_UA


class CountingStore(MemoryRecords):
    def __init__(self) -> None:
        super().__init__()
        self.puts: list[tuple[str, str, int | None]] = []

    def put(self, kind: str, item_id: str, record: dict[str, Any], expires_at: int | None) -> None:
        self.puts.append((kind, item_id, expires_at))
        super().put(kind, item_id, record, expires_at)


def test_at_most_one_write_per_host_and_outcome_a_minute() -> None:
    store = CountingStore()
    seen = RecordSightings(store)
    for second in range(0, 60):
        seen.note("example.com", "accepted", 1000 + second)
    seen.note("www.Example.com", "bot", 1010)
    assert [p[1] for p in store.puts] == ["example.com#accepted", "example.com#bot"]
    seen.note("example.com", "accepted", 1060)
    assert len(store.puts) == 3 and store.puts[-1][2] == 1060 + seen.keep_seconds
    assert seen.recent("example.com") == [
        Sighting("example.com", "accepted", 1060),
        Sighting("example.com", "bot", 1010),
    ]


def test_a_flood_of_made_up_hosts_writes_a_bounded_number_of_rows() -> None:
    store = CountingStore()
    seen = RecordSightings(store, new_per_minute=20)
    seen.note("example.com", "accepted", 6000)
    for i in range(5000):
        seen.note(f"spam{i}.example", "unknown_site", 6000 + i // 1000)
    assert len(store.puts) == 20  # the site's row, then 19 made-up hosts
    seen.note("example.com", "accepted", 6065)  # a known pair still refreshes
    assert store.puts[-1][1] == "example.com#accepted"
    seen.note("late.example", "unknown_site", 6120)  # a new minute, a new budget
    assert store.puts[-1][1] == "late.example#unknown_site"


def test_recent_covers_subdomains_and_every_host() -> None:
    seen = RecordSightings(MemoryRecords())
    seen.note("blog.example.com", "accepted", 200)
    seen.note("example.com", "accepted", 100)
    seen.note("other.org", "unknown_site", 300)
    assert seen.recent("example.com") == [Sighting("example.com", "accepted", 200)]
    assert seen.recent("notexample.com") == []
    assert seen.recent("*") == [
        Sighting("other.org", "unknown_site", 300),
        Sighting("blog.example.com", "accepted", 200),
        Sighting("example.com", "accepted", 100),
    ]


def beacon(domain: str, path: str = "/", ua: str = CHROME_UA) -> dict[str, str]:
    return {"n": "pageview", "u": f"https://{domain}{path}", "d": domain}


def post(data: dict[str, str], ua: str = CHROME_UA, ip: str = "192.0.2.10") -> Any:
    headers = {"content-type": "text/plain", "user-agent": ua}
    return answer_event(wiring.ports(), headers, ip, json.dumps(data).encode())


def test_the_collector_notes_each_outcome_per_host(local_env: Path) -> None:
    assert post(beacon("example.com")).status == 202
    dropped = post(beacon("not-a-site.org"))
    assert dropped.headers["x-beaconlake-dropped"] == "unknown_site"
    bot = post(beacon("shop.test"), ua="curl/8.0")
    assert bot.headers["x-beaconlake-dropped"] == "bot"
    assert post({"n": "pageview", "d": "example.com"}).status == 400  # no url: invalid
    answer_pixel(
        wiring.ports(),
        {"user-agent": CHROME_UA},
        "192.0.2.11",
        {"d": "shop.test", "u": "https://shop.test/"},
    )

    seen = wiring.sightings()
    assert {s.outcome for s in seen.recent("example.com")} == {"accepted", "invalid"}
    assert {s.outcome for s in seen.recent("shop.test")} == {"bot", "accepted"}
    hosts = {(s.host, s.outcome) for s in seen.recent("*")}
    assert ("not-a-site.org", "unknown_site") in hosts
    # kept in the data directory, for the stats process to read
    assert "not-a-site.org" in (local_env / "sightings.json").read_text()


def test_a_failing_sightings_store_never_fails_a_beacon(local_env: Path) -> None:
    class Broken(MemoryRecords):
        def put(self, *args: Any) -> None:
            raise OSError("disk full")

    wiring.ports().sightings = RecordSightings(Broken())
    assert post(beacon("example.com")).status == 202


def test_a_site_added_elsewhere_is_accepted_at_once_locally(local_env: Path) -> None:
    assert post(beacon("new-site.org")).headers["x-beaconlake-dropped"] == "unknown_site"
    # another process (the CLI, or the stats API) adds it to the same catalogue file
    Catalogue(FileLoginStore(local_env / "catalogue.json")).add_site("new-site.org")
    reply = post(beacon("new-site.org"))
    assert reply.status == 202 and "x-beaconlake-dropped" not in reply.headers
    assert [s.outcome for s in wiring.sightings().recent("new-site.org")][0] == "accepted"


def test_a_site_added_on_aws_is_accepted_within_the_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    from beaconlake.ingest.service import CollectPolicy

    now = [0.0]
    store = MemoryRecords()
    collector = Catalogue(store, seed_sites=["example.com"], ttl_seconds=60, clock=lambda: now[0])
    stats = Catalogue(store, ttl_seconds=60, clock=lambda: now[0])
    policy = CollectPolicy(sites=collector)
    assert "new-site.org" not in policy.sites
    stats.add_site("new-site.org")
    now[0] = 61
    assert "new-site.org" in policy.sites and "example.com" in policy.sites
