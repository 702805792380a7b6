"""Stats API Lambda: FastAPI behind Mangum. Routes are thin: parse, call the service, shape."""

from __future__ import annotations

from mangum import Mangum

from beaconlake.stats.api import create_app

app = create_app()
handler = Mangum(app, lifespan="off")
