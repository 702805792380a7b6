"""`beaconlake serve`: the local gateway in uvicorn, with the Lambda handlers behind it (the
functions AWS calls through functions/<name>/app.py: `beaconlake.handlers`)."""

from __future__ import annotations

import ctypes
import gc
import mimetypes
import os
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path

from aws_lambda_powertools import Logger

from beaconlake import telemetry, wiring
from beaconlake.handlers.collect import handler as collect_handler
from beaconlake.handlers.stats import handler as stats_handler
from beaconlake.local.asgi import LocalGateway, StaticFile
from beaconlake.local.connections import (
    MAX_CONNECTIONS,
    REQUEST_TIMEOUT_S,
    connection_limits,
    guarded_protocol,
    limit_repeated_logs,
    raise_fd_limit,
)
from beaconlake.ports import QueryEngine, QueryFailed, SaltStore
from beaconlake.reports.job import keep_sending

logger = Logger(service="beaconlake-serve")


def utc_now() -> datetime:
    return datetime.now(UTC)


def on_each_new_day(
    action: Callable[[datetime], None],
    stop: threading.Event,
    name: str,
    done_today: bool,
    every_s: float = 60.0,
    clock: Callable[[], datetime] = utc_now,
) -> threading.Thread:
    """A daemon thread that calls `action(now)` once a UTC day begins (and at once, unless it
    is `done_today`), until `stop` is set."""

    def run() -> None:
        done = clock().date() if done_today else None
        while True:
            now = clock()
            if now.date() != done:
                try:
                    action(now)
                    done = now.date()
                except (OSError, QueryFailed) as exc:
                    reason = exc.strerror if isinstance(exc, OSError) else str(exc)
                    logger.error(f"{name} failed; retrying", extra={"reason": reason})
            if stop.wait(every_s):
                return

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def keep_salts_rotated(
    salts: SaltStore,
    stop: threading.Event,
    every_s: float = 60.0,
    clock: Callable[[], datetime] = utc_now,
) -> threading.Thread:
    """What the daily rotate_salt Lambda does on AWS: once a UTC day begins, create its salt
    and delete those older than 48 h, so a long-running server never keeps an old salt."""

    def rotate(now: datetime) -> None:
        salts.rotate(now)
        logger.info("rotated the daily salt", extra={"day": now.date().isoformat()})

    # the caller has rotated for today
    return on_each_new_day(rotate, stop, "salt-rotation", True, every_s, clock)


def keep_sessions_rolled_up(
    engine: QueryEngine,
    sites: Iterable[str] | Callable[[], Iterable[str]],
    stop: threading.Event,
    clock: Callable[[], datetime] = utc_now,
) -> threading.Thread:
    """Roll up the sessions of every past day at start and after each midnight, so the first
    dashboard load does not wait for it (a query would otherwise do it on demand). `sites`
    may be a callable (the catalogue's site list, as it is at each run)."""

    def roll_up(now: datetime) -> None:
        for site in sites() if callable(sites) else sites:
            engine.session_rollup(site, date.min, now.date() - timedelta(days=1))

    return on_each_new_day(roll_up, stop, "session-rollup", False, clock=clock)


def repo_root() -> Path:
    """The source tree this package runs from (layers/beaconlake → the repository): where
    the tracker's build and its demo pages are."""
    return Path(__file__).resolve().parents[3]


def static_files() -> dict[str, StaticFile]:
    """The tracker script, its optional click module (/clicks.js), and the demo pages at
    /demo (index.html) and /demo/<file>."""
    root = repo_root() / "tracker_js"
    files: dict[str, StaticFile] = {}
    for name in ("tracker", "clicks"):
        script = root / "dist" / f"{name}.min.js"
        if script.exists():
            files[f"/{name}.js"] = StaticFile(
                script, "text/javascript; charset=utf-8", "public, max-age=86400"
            )
    for path in sorted(p for p in (root / "demo").glob("*") if p.is_file()):
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type.startswith("text/"):
            content_type += "; charset=utf-8"
        files[f"/demo/{path.name}"] = StaticFile(path, content_type, "no-cache")
    if "/demo/index.html" in files:
        files["/demo"] = files["/demo/index.html"]
    return files


def build_gateway() -> LocalGateway:
    salts = wiring.ports().salts
    salts.rotate(utc_now())
    stop = threading.Event()
    keep_salts_rotated(salts, stop)
    catalogue = wiring.catalogue()
    keep_sessions_rolled_up(wiring.engine(), lambda: [s.domain for s in catalogue.sites()], stop)
    keep_freed_memory_returned(stop)
    reports = wiring.report_job()  # e-mail reports and alerts, when SMTP is configured
    if reports is not None:
        keep_sending(reports, stop, _env_number("BEACONLAKE_REPORT_CHECK_SECONDS", 60), utc_now)

    def shutdown() -> None:
        stop.set()
        wiring.reset()
        dropped = [
            (d[-1], n) for (name, d), n in telemetry.tally().items() if name == "BeaconsDropped"
        ]
        if dropped:
            print("beacons dropped: " + ", ".join(f"{reason} {n}" for reason, n in dropped))

    return LocalGateway(
        collect=collect_handler,
        stats=stats_handler,
        files=static_files(),
        on_shutdown=shutdown,
        ingest_ports=wiring.ports,
        body_timeout_s=request_timeout(),
    )


GLIBC_M_ARENA_MAX = -8  # mallopt's parameter number in glibc's malloc.h
MALLOC_ARENAS = 2
TRIM_EVERY_S = 60.0


def _glibc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def return_freed_memory() -> bool:
    """Have a long-running server give back the memory it frees. Arrow's default pool
    (mimalloc) keeps freed pages for reuse, and glibc gives each thread that contends for
    malloc an arena of its own, each keeping its free pages; with Arrow on the system
    allocator and at most two arenas the soak's RSS was 20-30 MB lower (docs/RELIABILITY.md).
    Call it before pyarrow is imported: Arrow reads ARROW_DEFAULT_MEMORY_POOL once, and
    `pa.set_memory_pool` alone moves only pyarrow's Python functions, not the Parquet writer
    or the dataset scanner (in the 105-minute soak their mimalloc pages grew 17 to 50 MB).
    True if the arena cap applied (glibc only)."""
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
    libc = _glibc()
    return libc is not None and bool(libc.mallopt(GLIBC_M_ARENA_MAX, MALLOC_ARENAS))


def keep_freed_memory_returned(
    stop: threading.Event,
    every_s: float = TRIM_EVERY_S,
    trim: Callable[[], object] | None = None,
) -> threading.Thread | None:
    """A daemon thread that calls glibc's malloc_trim every `every_s` until `stop` is set.
    glibc gives a freed page back to the OS only from the top of its heap; DuckDB's merges and
    queries free small blocks all over it, so free pages piled up between live ones and RSS
    kept climbing after the bytes in use had levelled off (in a replay of the soak, +25 MB over
    800 merges; level with a trim every 50 s: docs/RELIABILITY.md). A trim takes a few ms.
    None without glibc."""
    if trim is None:
        libc = _glibc()
        if libc is None:
            return None
        trim = partial(libc.malloc_trim, 0)

    def run() -> None:
        while not stop.wait(every_s):
            trim()

    thread = threading.Thread(target=run, name="malloc-trim", daemon=True)
    thread.start()
    return thread


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise SystemExit(f"{name} must be a number, not {raw!r}") from None
    if value <= 0:
        raise SystemExit(f"{name} must be above 0")
    return value


def request_timeout() -> float:
    """Seconds a client has for a request's head, and again for its body."""
    return _env_number("BEACONLAKE_REQUEST_TIMEOUT_S", REQUEST_TIMEOUT_S)


def serve(host: str, port: int) -> None:
    import uvicorn

    # counters go to the tally printed at shutdown, not as metric JSON on every request
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    # slow and idle connections: docs/SECURITY.md, "Slow connections"
    wanted = int(_env_number("BEACONLAKE_MAX_CONNECTIONS", MAX_CONNECTIONS))
    max_connections, backlog = connection_limits(wanted, raise_fd_limit())
    limit_repeated_logs()  # uvicorn's logging set-up keeps a logger's filters

    app = build_gateway()
    # What is alive now (modules, the app, its ports) lives as long as the process: moved out
    # of the collector's reach, each collection walks only what requests create (about 5 %
    # less CPU per ingest request under load, docs/BENCHMARKS.md figure 3).
    gc.freeze()
    uvicorn.run(
        app,
        host=host,
        port=port,
        http=guarded_protocol(max_connections, request_timeout()),
        backlog=backlog,
        # twice the collector's 16 KiB header limit: between the two it answers its JSON 431
        h11_max_incomplete_event_size=32 * 1024,
        timeout_keep_alive=5,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
        lifespan="on",
    )
