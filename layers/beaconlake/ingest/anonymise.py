"""The daily visitor hash. The salt is random and deleted after 48 h, so the hash can never
be recomputed from an IP and User-Agent once its day has passed."""

from __future__ import annotations

import hashlib
import hmac


def visitor_id(salt: bytes, site_id: str, ip: str, user_agent: str) -> int:
    """HMAC-SHA256(salt, site|ip|ua) truncated to a signed 64-bit integer (a BIGINT column)."""
    message = f"{site_id}\x00{ip}\x00{user_agent}".encode("utf-8", "surrogatepass")
    digest = hmac.new(salt, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
