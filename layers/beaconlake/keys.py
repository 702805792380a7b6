"""Stats API keys: `bl_<id>_<secret>`. Only SHA-256(secret) is stored; comparison is
constant-time."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from beaconlake.ports import ApiKey, KeyStore

_KEY = re.compile(r"^bl_([0-9a-f]{12})_([A-Za-z0-9_-]{32,64})$")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(store: KeyStore, sites: tuple[str, ...], label: str = "") -> tuple[str, ApiKey]:
    """A new key; the plain token is returned once and never stored."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    api_key = store.add(key_id, _hash(secret), sites, label)
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
