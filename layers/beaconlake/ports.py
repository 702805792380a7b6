"""The ports: what the services need from the outside world. One adapter per back end
lives in beaconlake.adapters; `beaconlake.wiring` picks them. The core imports only these."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from beaconlake.model import Event


class Sink(Protocol):
    """Where accepted events go (Firehose on AWS, Parquet files locally)."""

    def put(self, events: Sequence[Event]) -> None:
        """Accept events durably enough to answer 202, or raise SinkUnavailable."""

    def flush(self) -> None:
        """Write out anything buffered."""

    def close(self) -> None:
        """Flush and release resources."""


class SinkUnavailable(RuntimeError):
    """The sink cannot accept events now (disk full, stream throttled beyond retries)."""


class QueryEngine(Protocol):
    """Runs one Athena-dialect SELECT with positional `?` parameters."""

    def query(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]: ...

    def query_many(
        self, statements: Sequence[tuple[str, Sequence[Any]]]
    ) -> list[list[dict[str, Any]]]:
        """Several independent statements; adapters may run them concurrently."""
        ...

    def stream(
        self, sql: str, params: Sequence[Any], batch_rows: int = 10_000
    ) -> Iterator[list[dict[str, Any]]]:
        """A large result in batches, never all in memory (exports)."""
        ...


class QueryFailed(RuntimeError):
    """The engine could not answer (Athena error, bytes-scanned cutoff, timeout)."""


class SaltStore(Protocol):
    """Daily random salts, keyed by UTC date; deleted after 48 h."""

    def salt_for(self, day: str) -> bytes:
        """The salt of day 'YYYY-MM-DD', created if it does not exist yet."""
        ...

    def rotate(self, now: datetime) -> None:
        """Create today's salt and delete those older than 48 h."""
        ...

    def days(self) -> list[str]:
        """The days a salt is held for (for tests and operators; never the salts)."""
        ...


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    sites: tuple[str, ...]
    label: str
    created: str

    def allows(self, site_id: str) -> bool:
        return "*" in self.sites or site_id in self.sites


class KeyStore(Protocol):
    """Stats API keys, stored as hashes only."""

    def add(self, key_id: str, secret_hash: str, sites: tuple[str, ...], label: str) -> ApiKey: ...

    def secret_hash(self, key_id: str) -> tuple[ApiKey, str] | None: ...

    def list(self) -> list[ApiKey]: ...

    def revoke(self, key_id: str) -> bool: ...
