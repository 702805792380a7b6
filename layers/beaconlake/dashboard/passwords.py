"""Password hashes with scrypt (hashlib): `scrypt:<n>:<r>:<p>:<salt>:<hash>`, base64url.

Used for the operator's dashboard password (BEACONLAKE_DASHBOARD_PASSWORD_HASH, made with
`beaconlake dashboard-password`) and for password-protected shared links."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N, R, P = 2**14, 8, 1


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=2**26)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    return f"scrypt:{N}:{R}:{P}:{_b64(salt)}:{_b64(_scrypt(password, salt, N, R, P))}"


def is_password_hash(encoded: str) -> bool:
    parts = encoded.split(":")
    return len(parts) == 6 and parts[0] == "scrypt" and all(x.isdigit() for x in parts[1:4])


def verify_password(password: str, encoded: str) -> bool:
    """True if `password` matches; a malformed hash raises ValueError (an operator error)."""
    if not is_password_hash(encoded):
        raise ValueError(
            "not a scrypt password hash; make one with `beaconlake dashboard-password`"
        )
    _, n, r, p, salt, expected = encoded.split(":")
    actual = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    return hmac.compare_digest(actual, _unb64(expected))
