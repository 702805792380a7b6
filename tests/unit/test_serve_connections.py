"""`beaconlake serve`'s connection limits and log rate-limiting (issue 26); the real server
under 500 slow connections is tests/integration/test_slow_connections.py."""

from __future__ import annotations

import logging

import uvicorn

from beaconlake.local.connections import (
    FD_RESERVE,
    RepeatsLimited,
    connection_limits,
    limit_repeated_logs,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(msg: str, exc: type[BaseException] | None = OSError) -> logging.LogRecord:
    exc_info = (exc, exc(), None) if exc else None
    return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, msg, (), exc_info)


def test_repeated_tracebacks_pass_once_per_window_with_a_count() -> None:
    clock = Clock()
    limiter = RepeatsLimited(window_s=60, clock=clock)
    msg = "socket.accept() out of system resource\nsocket: <fd=9>"
    passed = [limiter.filter(record(msg)) for _ in range(380_927)]
    assert sum(passed) == 1  # was every one of them: 155 MB of log in 40 s
    assert limiter.filter(record("another message"))  # other kinds are not held back
    assert limiter.filter(record(msg, exc=ValueError))
    clock.now = 61
    later = record(msg)
    assert limiter.filter(later) and "[380926 more like this in 60 s]" in later.getMessage()


def test_the_limiter_remembers_a_bounded_number_of_kinds() -> None:
    limiter = RepeatsLimited(max_kinds=10, clock=Clock())
    for n in range(1000):
        assert limiter.filter(record(f"message {n}"))
    # within the window the ten most recent kinds are held back, older ones were forgotten
    assert not any(limiter.filter(record(f"message {n}")) for n in range(990, 1000))
    assert limiter.filter(record("message 989"))


def test_the_limiter_sits_on_the_loggers_a_flood_makes_talk() -> None:
    limiter = limit_repeated_logs()
    try:
        assert limit_repeated_logs() is limiter
        uvicorn.Config(
            app="beaconlake.local.server:build_gateway", log_level="warning"
        )  # uvicorn's own logging set-up
        for name in ("asyncio", "uvicorn.error"):
            assert logging.getLogger(name).filters.count(limiter) == 1
    finally:
        for name in ("asyncio", "uvicorn", "uvicorn.error"):
            logging.getLogger(name).removeFilter(limiter)


def test_connections_and_one_burst_of_accepts_fit_in_the_file_descriptors() -> None:
    assert connection_limits(4096, 1 << 20) == (4096, 1024)
    for fd_limit in (256, 400, 1024, 4096, 20_000):
        cap, backlog = connection_limits(4096, fd_limit)
        assert 8 <= backlog <= cap
        assert cap + 2 * backlog <= max(80, fd_limit - FD_RESERVE), fd_limit
