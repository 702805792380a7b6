"""Stats API Lambda: FastAPI behind Mangum. Routes are thin: parse, call the service, shape."""

from __future__ import annotations

from beaconlake.stats.api import create_app
from mangum import Mangum

app = create_app()
handler = Mangum(app, lifespan="off")
