"""Stats API Lambda: FastAPI behind Mangum. The handler is `beaconlake.handlers.stats`, which
the local gateway calls too."""

from beaconlake.handlers.stats import app, handler

__all__ = ["app", "handler"]
