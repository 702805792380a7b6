"""What the HTTP layer reads from outside, handed in by whoever builds the app (the stats
Lambda handler, tests): the routes never import the composition root or an adapter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Protocol

from fastapi import Depends, Request

from beaconlake.config import Settings
from beaconlake.model import Event
from beaconlake.ports import KeyStore, LoginStore, QueryEngine, Sink
from beaconlake.site_ports import GoalStore, Sightings, SiteCatalogue


class WebPorts(Protocol):
    """Each is looked up per request (a process may rebuild its ports, e.g. in tests)."""

    def settings(self) -> Settings: ...

    def keys(self) -> KeyStore: ...

    def engine(self) -> QueryEngine: ...

    def logins(self) -> LoginStore: ...

    def goals(self) -> GoalStore: ...

    def catalogue(self) -> SiteCatalogue:
        """The sites, goals, saved funnels, annotations and segments (one store)."""
        ...

    def sightings(self) -> Sightings:
        """What the collector saw lately per host ("verify installation")."""
        ...

    def pending(self) -> Sequence[Event]:
        """Accepted events not yet queryable (the realtime view counts them)."""
        ...

    def sink(self) -> Sink:
        """Where events go: `GET /health` asks whether it can take them."""
        ...

    def backend(self) -> str:
        """The configured back end, even when the ports cannot be built (`GET /health`)."""
        ...


def web_ports(request: Request) -> WebPorts:
    ports: WebPorts = request.app.state.ports
    return ports


Ports = Annotated[WebPorts, Depends(web_ports)]
