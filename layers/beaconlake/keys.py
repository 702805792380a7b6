"""Stats API keys: `bl_<id>_<secret>`. Only SHA-256(secret) is stored; comparison is
constant-time."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from typing import Any

from beaconlake.ports import ALL_SCOPES, STATS_READ, ApiKey, KeyStore

_KEY = re.compile(r"^bl_([0-9a-f]{12})_([A-Za-z0-9_-]{32,64})$")


# The id prefix of a request signature a server-side sender used (kept for the replay window
# beside the keys; the collector may write only ids with this prefix: infra_cdk/api.py).
SEEN_PREFIX = "seen#"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_scopes(scopes: tuple[str, ...]) -> tuple[str, ...]:
    """The scopes in ALL_SCOPES order, each once; a ValueError names an unknown one."""
    unknown = [s for s in scopes if s not in ALL_SCOPES]
    if unknown:
        raise ValueError(f"unknown key scope {unknown[0]!r}: use {', '.join(ALL_SCOPES)}")
    if not scopes:
        raise ValueError(f"a key needs at least one scope: {', '.join(ALL_SCOPES)}")
    return tuple(s for s in ALL_SCOPES if s in scopes)


def stored_scopes(raw: object) -> tuple[str, ...]:
    """The scopes a key store holds for a key; a key made before scopes existed (no list)
    reads stats only."""
    if not isinstance(raw, list | tuple | set) or not raw:
        return (STATS_READ,)
    return tuple(s for s in ALL_SCOPES if s in {str(x) for x in raw})


def stored_key(key_id: str, record: Mapping[str, Any]) -> ApiKey:
    """The key a store's record describes (both key stores keep the same fields)."""
    sites = record.get("sites", [])
    return ApiKey(
        key_id=key_id,
        sites=tuple(str(s) for s in sites) if isinstance(sites, list | tuple | set) else (),
        label=str(record.get("label", "")),
        created=str(record.get("created", "")),
        scopes=stored_scopes(record.get("scopes")),
    )


def create_key(
    store: KeyStore,
    sites: tuple[str, ...],
    label: str = "",
    scopes: tuple[str, ...] = (STATS_READ,),
) -> tuple[str, ApiKey]:
    """A new key with `scopes` (Plausible's names: ALL_SCOPES); the plain token is returned
    once and never stored."""
    scopes = check_scopes(scopes)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    api_key = store.add(key_id, _hash(secret), sites, label, scopes)
    return f"bl_{key_id}_{secret}", api_key


def verify_key(store: KeyStore, token: str) -> ApiKey | None:
    match = _KEY.match(token)
    if not match:
        return None
    found = store.secret_hash(match.group(1))
    if found is None:
        return None
    api_key, stored = found
    return api_key if hmac.compare_digest(stored, _hash(match.group(2))) else None
