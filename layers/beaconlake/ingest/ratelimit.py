"""In-process token buckets: per client address and per site for ingest, per client and per
key id for failed stats API logins, per password (operator's, shared link's) for failed
dashboard log-ins.

A client address is only ever a bucket key, and only as a keyed hash whose key is random per
process: it is never stored, logged or comparable across restarts. Memory is bounded: the
least recently used buckets are forgotten (a forgotten bucket starts full again).
On AWS, API Gateway's stage throttling does this job in front of Lambda (docs/SECURITY.md).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from beaconlake.config import Settings

Clock = Callable[[], float]
_PROCESS_KEY = secrets.token_bytes(32)


def hashed(value: str) -> str:
    """A bucket key for a client address: keyed hash, key random per process."""
    return hashlib.blake2b(
        value.encode("utf-8", "replace"), key=_PROCESS_KEY, digest_size=12
    ).hexdigest()


class TokenBucket:
    """`rate` tokens per second up to `burst`, one bucket per key."""

    def __init__(
        self, rate: float, burst: float, clock: Clock = time.monotonic, max_keys: int = 100_000
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _refilled(self, key: str, now: float) -> float:
        tokens, last = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + max(0.0, now - last) * self.rate)

    def _store(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)

    def allow(self, key: str, cost: float = 1.0) -> bool:
        """Take `cost` tokens if the bucket has them."""
        with self._lock:
            now = self.clock()
            tokens = self._refilled(key, now)
            allowed = tokens >= cost
            self._store(key, tokens - cost if allowed else tokens, now)
            return allowed

    def blocked(self, key: str) -> bool:
        """True if the bucket has less than one token; takes nothing."""
        with self._lock:
            return key in self._buckets and self._refilled(key, self.clock()) < 1

    def retry_after(self, key: str) -> int:
        """Whole seconds until one token is back (at least 1)."""
        with self._lock:
            missing = 1 - self._refilled(key, self.clock())
        return max(1, int(missing / self.rate + 0.999))


def _bucket(per_second: float, burst: int) -> TokenBucket | None:
    return TokenBucket(per_second, burst) if per_second > 0 else None


@dataclass(frozen=True)
class Limits:
    """The process's buckets; a None bucket is switched off (rate 0)."""

    ingest_ip: TokenBucket | None
    ingest_site: TokenBucket | None
    auth_client: TokenBucket | None
    auth_key: TokenBucket | None
    # failed guesses at one password (the operator's, or one shared link's), from all clients
    auth_target: TokenBucket | None = None


@lru_cache(maxsize=8)
def limits_for(settings: Settings) -> Limits:
    """One set of buckets per settings (one per Lambda container or local server)."""
    auth_rate = settings.auth_failures_per_minute / 60
    return Limits(
        ingest_ip=_bucket(settings.ingest_ip_rate, settings.ingest_ip_burst),
        ingest_site=_bucket(settings.ingest_site_rate, settings.ingest_site_burst),
        auth_client=_bucket(auth_rate, settings.auth_failures_burst),
        auth_key=_bucket(auth_rate, settings.auth_failures_burst),
        auth_target=_bucket(auth_rate, settings.auth_failures_burst),
    )
