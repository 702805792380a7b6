"""How much address truncation (BEACONLAKE_TRUNCATE_ADDRESSES) changes the visitor count.

Runs the same beacons through the real collector service twice, with and without
truncation, and counts daily visitors (distinct visitor ids per day, summed over the days, as
the stats API's `visitors` counts a day). Two sources of addresses:

- the demo generator (`beaconlake.local.demo`), whose addresses are drawn uniformly over the
  IPv4 space, so two visitors almost never share a /24: it shows the floor, not the real cost;
- a generated mix where visitors share networks as they do: residential /24s and IPv6 /48s of
  a few visitors each, and mobile visitors behind a handful of carrier-NAT /24s.

Writes the `truncation` block of docs/PRIVACY.md. Usage: `.venv/bin/python -m bench.truncation`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from beaconlake.config import Privacy
from beaconlake.ingest.service import CollectPolicy, collect
from beaconlake.local import demo
from beaconlake.model import RequestMeta
from bench.docblocks import replace_generated, table

DOC = Path(__file__).resolve().parent.parent / "docs" / "PRIVACY.md"
BLOCK = "truncation"
SITE = "example.com"
END = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
SEED = 29
DAYS = 14
# browsers and OSes in a few current versions each: real User-Agent strings are more varied
# than the demo's eight, and the hash is over address and User-Agent together
VERSIONS = ("128", "129", "130", "131")


@dataclass(frozen=True)
class Mix:
    label: str
    visitors_per_day: int
    networks: int  # residential /24s (IPv4) and /48s (IPv6) the visitors are spread over
    ipv6_share: float
    mobile_share: float  # visitors behind carrier NAT
    carrier_networks: int  # the carrier-NAT /24s they share


MIXES = (
    Mix("sparse: 1 visitor per network a day", 500, 500, 0.3, 0.0, 1),
    Mix("shared: 4 visitors per network a day", 500, 125, 0.3, 0.0, 1),
    Mix("shared + 30 % mobile behind 10 carrier-NAT /24s", 500, 125, 0.3, 0.3, 10),
    Mix("dense: 20 visitors per network a day", 2000, 100, 0.3, 0.3, 10),
)


def _agents(rng: random.Random) -> str:
    weights = [w for w, _ in demo.USER_AGENTS[:-1]]  # no bot: bots are dropped either way
    ua = rng.choices([u for _, u in demo.USER_AGENTS[:-1]], weights)[0]
    return ua.replace("130.0.0.0", f"{rng.choice(VERSIONS)}.0.0.0")


def _network_address(rng: random.Random, network: int, ipv6: bool) -> str:
    """A host address inside residential network number `network`."""
    if ipv6:
        return f"2001:db8:{network:x}:{rng.randint(0, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}"
    return f"100.{64 + network // 256 % 64}.{network % 256}.{rng.randint(1, 254)}"


def mix_beacons(mix: Mix, seed: int) -> Iterator[tuple[datetime, RequestMeta]]:
    """One pageview per person per day, addresses as `mix` says."""
    rng = random.Random(seed)
    for day in range(DAYS):
        at = END - timedelta(days=DAYS - day, hours=10)
        for _ in range(mix.visitors_per_day):
            ua = _agents(rng)
            if rng.random() < mix.mobile_share:
                ip = f"198.18.{rng.randrange(mix.carrier_networks)}.{rng.randint(1, 254)}"
            else:
                ipv6 = rng.random() < mix.ipv6_share
                ip = _network_address(rng, rng.randrange(mix.networks), ipv6)
            yield at, RequestMeta(ip=ip, user_agent=ua)


def daily_visitors(beacons: list[tuple[dict, RequestMeta, datetime]], privacy: Privacy) -> int:
    policy = CollectPolicy(sites=frozenset({SITE}), honour_dnt=False, privacy=privacy)
    salts: dict[str, bytes] = {}
    seen: set[tuple[str, int]] = set()
    for data, meta, at in beacons:
        salts.setdefault(at.date().isoformat(), random.Random(at.day).randbytes(32))
        for event in collect(data, meta, policy, salts.__getitem__, at).events:
            if event.name == "pageview":
                seen.add((event.dt, event.visitor_id))
    return len(seen)


def demo_row() -> list[str]:
    beacons = [
        (b.data, b.meta, b.at)
        for b in demo.generate(SITE, DAYS, 500, SEED, END)
        if b.data["n"] == "pageview"
    ]
    return _row("demo data (uniform IPv4 addresses)", None, beacons)


def mix_row(mix: Mix) -> list[str]:
    page = {"n": "pageview", "u": f"https://{SITE}/", "d": SITE}
    beacons = [(page, meta, at) for at, meta in mix_beacons(mix, SEED)]
    return _row(mix.label, len(beacons), beacons)


def _row(
    label: str, people: int | None, beacons: list[tuple[dict, RequestMeta, datetime]]
) -> list[str]:
    full = daily_visitors(beacons, Privacy())
    truncated = daily_visitors(beacons, Privacy(truncate_addresses=True))
    change = (truncated - full) / full * 100
    real = f"{people:,}" if people is not None else "n/a"
    return [label, real, f"{full:,}", f"{truncated:,}", f"{change:+.2f} %"]


def markdown() -> str:
    rows = [demo_row(), *(mix_row(m) for m in MIXES)]
    header = [
        f"addresses ({DAYS} days)",
        "people (daily, summed)",
        "visitors, full address",
        "visitors, truncated",
        "change",
    ]
    return table(header, rows)


def main() -> None:
    text = markdown()
    replace_generated(DOC, BLOCK, text)
    print(text)


if __name__ == "__main__":
    main()
