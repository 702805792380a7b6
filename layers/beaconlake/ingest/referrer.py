"""Where a visit came from: utm_source, a known referrer name, or the referring host.

One table, data/referrer_sources.json, names the sources: a known referring host becomes its
name ('Google' for google.co.uk), and a `utm_source` is folded onto the same name whatever
its case ('google', 'GOOGLE' and 'google.com' are all 'Google'). The collector applies it to
new events (`referrer_source`); the stats queries apply the same table to stored events
(`stats.channels.source_sql`), so rows written before a name was added are folded too.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

DIRECT = "Direct / None"  # the source of a visit with no referrer and no utm_source


def _table() -> dict[str, Any]:
    text = resources.files("beaconlake").joinpath("data/referrer_sources.json").read_text("utf-8")
    return dict(json.loads(text))


@lru_cache(maxsize=1)
def _known_sources() -> dict[str, str]:
    """Referrer host (www. folded) → display name, from data/referrer_sources.json."""
    table: dict[str, list[str]] = _table()["sources"]
    return {host: name for name, hosts in table.items() for host in hosts}


@lru_cache(maxsize=1)
def source_aliases() -> dict[str, str]:
    """Every lower-case spelling of a known source → its name: the name itself, the name
    without spaces or punctuation ('hackernews'), each of its hosts, and the table's
    `aliases` ('fb')."""
    table = _table()
    out: dict[str, str] = {}
    for name, hosts in table["sources"].items():
        for spelling in (name, re.sub(r"[^0-9a-z]", "", name.lower()), *hosts):
            out.setdefault(spelling.lower(), name)
    for spelling, name in table.get("aliases", {}).items():
        out.setdefault(spelling.lower(), name)
    return out


def canonical_source(value: str) -> str:
    """A known source's name for any spelling of it ('google' → 'Google'), else `value`."""
    return source_aliases().get(value.lower(), value)


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
    """utm_source (or ref/source) wins, folded onto a known name; then the referrer's host,
    unless it is this site."""
    for key in ("utm_source", "ref", "source"):
        if query.get(key):
            return canonical_source(query[key][:200])
    if not referrer:
        return None
    host = (urlsplit(referrer).hostname or "").lower()
    host = host[4:] if host.startswith("www.") else host
    if not host or host == own_host:
        return None
    return source_name(host)
