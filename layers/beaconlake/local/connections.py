"""`beaconlake serve` against slow and idle connections (slowloris), in process.

uvicorn times out an idle keep-alive connection, but not one that is still sending its request
head: a client that sends a byte now and then, or nothing at all, held its socket forever, and
some 20,000 of them used up the process's file descriptors. Here, in uvicorn's own h11
protocol:

- a **request-head deadline**: a connection must send a complete request line and headers
  within `head_timeout_s` of connecting or of its previous response, or it is closed;
- a **connection cap**: past `max_connections` (and a listen backlog that keeps the cap plus
  one burst of accepts within the file descriptors), each new connection closes the one that has
  waited longest for its request head (an attacker's, or an idle keep-alive one). A
  connection whose request is being answered is never closed for the cap, and one that sends
  its request at once is read before the few thousand connections the next accepts bring;
- a request whose body is still arriving when its response has been sent is closed.

The body's own deadline is the gateway's (its body reader in `asgi.py`). uvicorn's
`limit_concurrency` is not used: it answers 503 to every new request once that many
connections are open, slow ones included, which would do the attacker's work for them.

`RepeatsLimited` keeps a flood of identical log records (asyncio logs a traceback for every
failed accept) down to one per kind and minute, with a count of those held back.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 4096
FD_RESERVE = 256  # descriptors kept for DuckDB, Parquet and spool files, threads and logs


def raise_fd_limit() -> int:
    """Raise the soft limit on open files to the hard limit; the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass  # e.g. macOS caps it lower: keep what we have
    return int(soft) if soft != resource.RLIM_INFINITY else 1 << 20


def connection_limits(wanted: int, fd_limit: int) -> tuple[int, int]:
    """(connection cap, listen backlog). asyncio accepts up to `backlog` connections at once,
    before the protocol can close any, and a closed socket's descriptor is freed only on the
    loop's next turn, so the cap plus two such bursts must fit in the file descriptors: else
    accept() fails (EMFILE) and so may the Parquet writes."""
    room = max(80, fd_limit - FD_RESERVE)
    cap = min(wanted, room * 3 // 5)
    backlog = max(8, min(2048, cap // 4, (room - cap) // 2))
    return cap, backlog


def guarded_protocol(max_connections: int, head_timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a request-head deadline and a connection cap (above); one
    class per server, holding its connections that wait for a request head, oldest first."""
    waiting: OrderedDict[GuardedH11Protocol, None] = OrderedDict()

    class GuardedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            self._await_head()
            while len(self.connections) > max_connections and waiting:
                oldest, _ = waiting.popitem(last=False)
                oldest._drop()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._head_received()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.transport.is_closing():
                self._head_received()
            elif self.conn.their_state is h11.IDLE:
                self._await_head()  # keep-alive: the next request's head has its deadline too
            elif self.conn.our_state is h11.DONE:
                self.transport.close()  # answered while its body still trickles in

        def connection_lost(self, exc: Exception | None) -> None:
            self._head_received()
            super().connection_lost(exc)

        def _await_head(self) -> None:
            if self._deadline is None:
                self._deadline = self.loop.call_later(head_timeout_s, self._too_slow)
            waiting[self] = None

        def _head_received(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            waiting.pop(self, None)

        def _too_slow(self) -> None:
            self._deadline = None
            if self in waiting:  # still no complete request head
                del waiting[self]
                self.transport.close()

        def _drop(self) -> None:
            self._head_received()
            self.connections.discard(self)  # counted out now; connection_lost comes later
            self.transport.abort()

    return GuardedH11Protocol


class RepeatsLimited(logging.Filter):
    """The first record of each kind (logger, level, first line, exception type) passes, then
    at most one per `window_s`, saying how many like it were held back."""

    def __init__(
        self,
        window_s: float = 60.0,
        max_kinds: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.window_s = window_s
        self.max_kinds = max_kinds
        self.clock = clock
        self._kinds: OrderedDict[tuple[Any, ...], tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        first_line = str(record.msg).split("\n", 1)[0][:200]
        exc_type = record.exc_info[0] if record.exc_info else None
        kind = (record.name, record.levelno, first_line, exc_type)
        with self._lock:
            now = self.clock()
            last = self._kinds.get(kind)
            if last is not None and now - last[0] < self.window_s:
                self._kinds[kind] = (last[0], last[1] + 1)
                return False
            self._kinds[kind] = (now, 0)
            self._kinds.move_to_end(kind)
            while len(self._kinds) > self.max_kinds:
                self._kinds.popitem(last=False)
        held_back = last[1] if last is not None else 0
        if held_back:
            record.msg = f"{record.msg} [{held_back} more like this in {self.window_s:.0f} s]"
        return True


NOISY_LOGGERS = ("asyncio", "uvicorn", "uvicorn.error")


def limit_repeated_logs(window_s: float = 60.0) -> RepeatsLimited:
    """Put one `RepeatsLimited` on the loggers a connection flood makes talk (once: a second
    call returns the first one)."""
    for existing in logging.getLogger(NOISY_LOGGERS[0]).filters:
        if isinstance(existing, RepeatsLimited):
            return existing
    limiter = RepeatsLimited(window_s)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).addFilter(limiter)
    return limiter
