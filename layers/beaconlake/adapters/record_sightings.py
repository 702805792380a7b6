"""Sightings (ports.Sightings) in the record store (ports.RecordStore): the last time the
collector saw a beacon for a host with one outcome, for "verify installation". Locally the
store is a 0600 JSON file, on AWS the SiteCatalogue table in DynamoDB; rows expire after
`keep_seconds` (the table's TTL deletes them on AWS).

`note` runs on every beacon, so it writes at most once per host and outcome a minute per
process; between writes it only compares two numbers in memory. Hosts a beacon can name at
will (any `d`, for unknown_site) could make a write per beacon: at most `new_per_minute` new
(host, outcome) pairs are written a minute, so the store grows by a bounded amount whatever
is sent."""

from __future__ import annotations

import threading
from typing import Any

from beaconlake.domains import normalise_domain
from beaconlake.ports import RecordStore
from beaconlake.site_ports import Sighting

KIND = "sighting"
EVERY_HOST = "*"


class RecordSightings:
    def __init__(
        self,
        store: RecordStore,
        every_seconds: int = 60,
        keep_seconds: int = 30 * 86400,
        max_hosts: int = 10_000,
        new_per_minute: int = 20,
    ) -> None:
        self.store = store
        self.every_seconds = every_seconds
        self.keep_seconds = keep_seconds
        self.max_hosts = max_hosts
        self.new_per_minute = new_per_minute
        self._lock = threading.Lock()
        self._written: dict[tuple[str, str], int] = {}
        self._new: tuple[int, int] = (0, 0)  # (minute, new pairs written in it)

    def note(self, host: str, outcome: str, at: int) -> None:
        host = normalise_domain(host)
        if not host or len(host) > 253:
            return
        key = (host, outcome)
        with self._lock:
            last = self._written.get(key)
            if last is not None and at - last < self.every_seconds:
                return
            if last is None:
                minute, count = self._new
                count = count + 1 if minute == at // 60 else 1
                if count > self.new_per_minute:
                    return  # a flood of made-up hosts: noted once it has passed
                self._new = (at // 60, count)
            if len(self._written) >= self.max_hosts:
                self._written.clear()
            self._written[key] = at
        record = {"host": host, "outcome": outcome, "at": int(at)}
        self.store.put(KIND, f"{host}#{outcome}", record, int(at) + self.keep_seconds)

    def recent(self, host: str) -> list[Sighting]:
        """The newest sighting per outcome for the host and its subdomains (newest first);
        for `"*"`, those of every host (the dashboard lists hosts that are not sites)."""
        wanted = normalise_domain(host) if host != EVERY_HOST else EVERY_HOST
        newest: dict[tuple[str, str], Sighting] = {}
        for _, record in self.store.list(KIND):
            seen = _sighting(record)
            if seen is None:
                continue
            if wanted != EVERY_HOST and not (
                seen.host == wanted or seen.host.endswith("." + wanted)
            ):
                continue
            key = (seen.host if wanted == EVERY_HOST else wanted, seen.outcome)
            if key not in newest or newest[key].at < seen.at:
                newest[key] = (
                    seen if wanted == EVERY_HOST else Sighting(wanted, seen.outcome, seen.at)
                )
        return sorted(newest.values(), key=lambda s: (-s.at, s.host, s.outcome))


def _sighting(record: dict[str, Any]) -> Sighting | None:
    try:
        return Sighting(str(record["host"]), str(record["outcome"]), int(record["at"]))
    except (KeyError, TypeError, ValueError):
        return None
