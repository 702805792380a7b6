"""What one stats query may cost, in one place: the size of its filter tree, its text, its
date span, and how many queries one client may run at once.

Every query entry point (v1, v2, the behaviour endpoints, the dashboard's and shared links'
sessions) parses its input through the checks in `beaconlake.stats.query` (`check_filters`,
`check_values`, `check_depth`, `check_span`, `check_text`) and `regex_guard`, which read these
numbers, so a request beyond a limit is a 400 `{"error", "field", "rule"}` before any SQL is
built; the engine runs its statements through `FairEngine`. Why these numbers: docs/SECURITY.md,
"Query limits".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from beaconlake.ingest.ratelimit import TokenBucket
from beaconlake.ports import ExportFiles, MonthlyRollups, MonthlyTables, QueryEngine, Rollup


@dataclass(frozen=True)
class QueryLimits:
    # leaf filters over a whole query (v1 `filters=` parts, or v2 tree leaves)
    filters: int = 30
    # values in one filter, and over all filters of a query
    values_per_filter: int = 100
    values: int = 300
    # characters of v1's `filters=` text (30 short filters fit many times over)
    v1_filter_chars: int = 8192
    # characters in one value (a page path or URL is at most 2,000 bytes when stored)
    value_chars: int = 2000
    # and / or / not / has_done levels; the dashboard builds two at most
    depth: int = 6
    # regex filters: see regex_guard
    regex_chars: int = 256
    # days from the first to the last day of a range ("all" is ten years)
    span_days: int = 3660
    # one query's run time on the local engine (DuckDB is interrupted past it)
    query_seconds: float = 10.0
    # stats statements running at once: per client (key, share link), and in the process
    per_client: int = 2
    total: int = 3
    # how long a statement waits for a slot, and how many may wait per client
    wait_seconds: float = 15.0
    waiting_per_client: int = 8
    # requests per shared link: a bucket of `share_burst`, refilled at `share_per_second`
    share_burst: int = 300
    share_per_second: float = 1.0


LIMITS = QueryLimits()


# ---- a fair share of the engine ------------------------------------------------------------


class Busy(Exception):
    """No slot for a statement in time: 429 (this client runs too many) or 503 (the server)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def as_body(self) -> dict[str, str]:
        return {"error": self.message, "field": "client", "rule": "concurrency"}


class QuerySlots:
    """At most `per_client` statements of one client and `total` in all run at once; the
    rest wait (at most `waiting_per_client` per client) up to `wait_seconds` for a slot.
    A client (a key, or all sessions of one shared link) can thus hold at most `per_client`
    of the `total` slots: the others stay free for everyone else."""

    def __init__(self, limits: QueryLimits = LIMITS) -> None:
        self.limits = limits
        self._cond = threading.Condition()
        self._running: dict[str, int] = {}
        self._waiting: dict[str, int] = {}
        self._total = 0

    def _full(self, client: str) -> bool:
        return (
            self._running.get(client, 0) >= self.limits.per_client
            or self._total >= self.limits.total
        )

    def acquire(self, client: str) -> None:
        deadline = time.monotonic() + self.limits.wait_seconds
        with self._cond:
            if self._waiting.get(client, 0) >= self.limits.waiting_per_client:
                raise Busy(429, "too many queries at once from this client; retry later")
            self._waiting[client] = self._waiting.get(client, 0) + 1
            try:
                while self._full(client):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        if self._running.get(client, 0) >= self.limits.per_client:
                            raise Busy(429, "too many queries at once from this client")
                        raise Busy(503, "the query engine is busy; retry later")
                    self._cond.wait(remaining)
                self._running[client] = self._running.get(client, 0) + 1
                self._total += 1
            finally:
                self._waiting[client] -= 1
                if not self._waiting[client]:
                    del self._waiting[client]

    def release(self, client: str) -> None:
        with self._cond:
            self._running[client] -= 1
            if not self._running[client]:
                del self._running[client]
            self._total -= 1
            self._cond.notify_all()

    @contextmanager
    def held(self, client: str) -> Iterator[None]:
        self.acquire(client)
        try:
            yield
        finally:
            self.release(client)


SLOTS = QuerySlots()


@lru_cache(maxsize=1)
def share_budget() -> TokenBucket:
    """Requests per shared link (all its sessions together), in this process."""
    return TokenBucket(LIMITS.share_per_second, LIMITS.share_burst)


class FairEngine:
    """The QueryEngine port, every statement run in one of `client`'s slots."""

    def __init__(self, engine: QueryEngine, client: str, slots: QuerySlots = SLOTS) -> None:
        self.engine = engine
        self.client = client
        self.slots = slots

    def session_rollup(self, site_id: str, first: date, last: date) -> Rollup | None:
        with self.slots.held(self.client):
            return self.engine.session_rollup(site_id, first, last)

    def query(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        with self.slots.held(self.client):
            return self.engine.query(sql, params)

    @property
    def reads_imported(self) -> bool:
        return self.engine.reads_imported

    def problem(self) -> str | None:
        return self.engine.problem()

    def query_many(
        self, statements: Sequence[tuple[str, Sequence[Any]]]
    ) -> list[list[dict[str, Any]]]:
        with self.slots.held(self.client):
            return self.engine.query_many(statements)

    def stream(
        self, sql: str, params: Sequence[Any], batch_rows: int = 10_000
    ) -> Iterator[list[dict[str, Any]]]:
        with self.slots.held(self.client):
            yield from self.engine.stream(sql, params, batch_rows)

    def export(self, sql: str, params: Sequence[Any], header: Sequence[str]) -> ExportFiles | None:
        with self.slots.held(self.client):
            return self.engine.export(sql, params, header)

    def monthly_months(
        self, site_id: str, first: date, last: date, tables: MonthlyTables
    ) -> list[date]:
        """The inner engine's months that only per-month rollups answer (ports.MonthlyRollups;
        none on an engine without them)."""
        if not isinstance(self.engine, MonthlyRollups):
            return []
        with self.slots.held(self.client):
            return self.engine.monthly_months(site_id, first, last, tables)
