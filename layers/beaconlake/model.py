"""Plain data passed between the layers. `Event`, the stored row, is defined with the schema
(beaconlake.schema) and imported from here too."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from beaconlake.schema import EVENT_FIELDS as EVENT_FIELDS
from beaconlake.schema import Event as Event


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """What the collector needs from the HTTP request besides the body. Never stored."""

    ip: str
    user_agent: str
    dnt: bool = False
    gpc: bool = False
    country_header: str | None = None
    # the request headers that columns are read from (schema.REQUEST_HEADERS), no others
    headers: Mapping[str, str] = field(default_factory=dict)
