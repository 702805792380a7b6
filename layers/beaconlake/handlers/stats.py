"""The stats function's handler: the FastAPI app (`web.app`) over the process's ports, behind
Mangum."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from mangum import Mangum

from beaconlake import wiring
from beaconlake.config import Settings
from beaconlake.model import Event
from beaconlake.ports import KeyStore, LoginStore, QueryEngine, Sink
from beaconlake.site_ports import GoalStore, Sightings, SiteCatalogue
from beaconlake.web.app import create_app as create_web_app


class WiredPorts:
    """`web.ports.WebPorts` from the composition root, looked up on each call."""

    def settings(self) -> Settings:
        return wiring.ports().settings

    def keys(self) -> KeyStore:
        return wiring.ports().keys

    def engine(self) -> QueryEngine:
        return wiring.engine()

    def logins(self) -> LoginStore:
        return wiring.login_store()

    def goals(self) -> GoalStore:
        return wiring.catalogue()

    def catalogue(self) -> SiteCatalogue:
        return wiring.catalogue()

    def sightings(self) -> Sightings:
        return wiring.sightings()

    def pending(self) -> Sequence[Event]:
        return wiring.ports().pending()

    def sink(self) -> Sink:
        return wiring.ports().sink

    def backend(self) -> str:
        return Settings.from_env().backend


def create_app() -> FastAPI:
    """The stats app over this process's ports."""
    return create_web_app(WiredPorts())


app = create_app()
handler = Mangum(app, lifespan="off")
