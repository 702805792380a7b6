"""Collector Lambda: POST /api/event and GET /e.gif. The handler is
`beaconlake.handlers.collect`, which the local gateway calls too."""

from beaconlake.handlers.collect import handler

__all__ = ["handler"]
