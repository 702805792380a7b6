"""Site domains: how a configured site and an event's domain are compared."""

from __future__ import annotations


def normalise_domain(domain: str) -> str:
    """Lower-case, strip spaces and a trailing dot, fold a leading 'www.'."""
    d = domain.strip().lower().rstrip(".")
    return d[4:] if d.startswith("www.") else d


LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0"})  # noqa: S104


def is_local_host(host: str) -> bool:
    return host in LOCAL_HOSTS or host.endswith(".localhost") or host.startswith("127.")
