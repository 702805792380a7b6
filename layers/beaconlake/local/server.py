"""`beaconlake serve`: the local gateway in uvicorn, with the Lambda handlers behind it."""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime
from pathlib import Path

from beaconlake import wiring
from beaconlake.local.asgi import LocalGateway, StaticFile


def repo_root() -> Path:
    import functions

    return Path(next(iter(functions.__path__))).resolve().parent


def static_files() -> dict[str, StaticFile]:
    """The tracker script, and the demo pages at /demo (index.html) and /demo/<file>."""
    root = repo_root() / "tracker_js"
    files: dict[str, StaticFile] = {}
    tracker = root / "dist" / "tracker.min.js"
    if tracker.exists():
        files["/tracker.js"] = StaticFile(
            tracker, "text/javascript; charset=utf-8", "public, max-age=86400"
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
