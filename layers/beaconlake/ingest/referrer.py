"""Where a visit came from: utm_source, a known referrer name, or the referring host."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from urllib.parse import urlsplit


@lru_cache(maxsize=1)
def _known_sources() -> dict[str, str]:
    """Referrer host (www. folded) → display name, from data/referrer_sources.json."""
    text = resources.files("beaconlake").joinpath("data/referrer_sources.json").read_text("utf-8")
    table: dict[str, list[str]] = json.loads(text)["sources"]
    return {host: name for name, hosts in table.items() for host in hosts}


def source_name(host: str) -> str:
    """A known name for a referring host ('Google' for google.co.uk), else the host itself."""
    known = _known_sources()
    labels = host.split(".")
    for i in range(len(labels) - 1):
        candidate = ".".join(labels[i:])
        if candidate in known:
            return known[candidate]
    return host


def referrer_source(referrer: str | None, own_host: str, query: dict[str, str]) -> str | None:
    """utm_source (or ref/source) wins; then the referrer's host, unless it is this site."""
    for key in ("utm_source", "ref", "source"):
        if query.get(key):
            return query[key][:200]
    if not referrer:
        return None
    host = (urlsplit(referrer).hostname or "").lower()
    host = host[4:] if host.startswith("www.") else host
    if not host or host == own_host:
        return None
    return source_name(host)
