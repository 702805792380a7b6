"""`beaconlake serve`: the local gateway in uvicorn, with the Lambda handlers behind it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from beaconlake import wiring
from beaconlake.local.asgi import LocalGateway, StaticFile


def repo_root() -> Path:
    import functions

    return Path(next(iter(functions.__path__))).resolve().parent


def static_files() -> dict[str, StaticFile]:
    """The tracker script and the demo page, when they exist in this checkout."""
    root = repo_root() / "tracker_js"
    files: dict[str, StaticFile] = {}
    candidates = {
        "/tracker.js": (
            root / "dist" / "tracker.min.js",
            "text/javascript; charset=utf-8",
            "public, max-age=86400",
        ),
        "/demo": (root / "demo" / "index.html", "text/html; charset=utf-8", "no-cache"),
    }
    for url, (path, content_type, cache) in candidates.items():
        if path.exists():
            files[url] = StaticFile(path, content_type, cache)
    return files


def build_gateway() -> LocalGateway:
    from functions.collect.app import handler as collect_handler
    from functions.stats.app import handler as stats_handler

    wiring.ports().salts.rotate(datetime.now(UTC))
    return LocalGateway(
        collect=collect_handler,
        stats=stats_handler,
        files=static_files(),
        on_shutdown=wiring.reset,
    )


def serve(host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        build_gateway(),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
        lifespan="on",
    )
