"""Dashboard logins and read-only shared links.

A login is a random token; the store holds only its SHA-256, what it was opened with (a stats
API key, the operator password, or a shared link) and when it ends. An owner's login travels
in the HttpOnly cookie `bl_dashboard`; a shared link's login never does: the share page keeps
it and sends it in the `x-beaconlake-share` header, so opening a link in the owner's browser
leaves the owner's login alone. Every request re-checks the source, so revoking the key or the
link ends its logins too. A shared link's record keeps its token (so its owner can copy the
link again) and is looked up by the token's hash. (A *visit* is the other meaning of
"session": the stats' sessions.)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from beaconlake.dashboard.passwords import hash_password
from beaconlake.ports import ALL_SCOPES, ApiKey, KeyStore, LoginStore

LOGIN_COOKIE = "bl_dashboard"
# a shared link's login in the browser that opened it: `bl_share_<share id>`, path /api/share/,
# read only by the share page (which hands it to its script); never a credential by itself
SHARE_COOKIE_PREFIX = "bl_share_"
SHARE_COOKIE_PATH = "/api/share/"
SHARE_PAGE = "/api/share"
MIN_COUNT = 5  # a shared link's default small-count threshold k
MIN_COUNT_RANGE = (1, 100)
LOGIN_SECONDS = 14 * 24 * 3600
SHARE_LOGIN_SECONDS = 24 * 3600
# the store's kind for logins: "session", the name their rows have always been stored under
LOGIN = "session"
SHARE = "share"
OPERATOR_KEY_ID = "dashboard-operator"
SHARE_KEY_PREFIX = "share-"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


@dataclass(frozen=True)
class Share:
    share_id: str
    site: str
    label: str
    has_password: bool
    created: str
    expires_at: int | None = None  # Unix seconds; None: until revoked
    min_count: int = MIN_COUNT  # counts below it are hidden from the link's viewers
    token: str = ""  # the link's secret ("" for a link made before links were kept)

    @property
    def path(self) -> str | None:
        """The link's path on the stats host, or None if it was not kept."""
        return f"{SHARE_PAGE}/{self.token}" if self.token else None


def _expired(record: Mapping[str, object], now: float | None = None) -> bool:
    expires = record.get("expires_at")
    return isinstance(expires, int | float) and expires <= (time.time() if now is None else now)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_shared(api_key: ApiKey) -> bool:
    """A login opened from a shared link: it may read its one site and change nothing."""
    return api_key.key_id.startswith(SHARE_KEY_PREFIX)


def start_login(
    store: LoginStore, api_key: ApiKey, via: str, until: int | None = None
) -> tuple[str, int]:
    """A new login for what `api_key` may read, ending at `until` (Unix seconds) at the
    latest; returns (token, lifetime in seconds)."""
    token = secrets.token_urlsafe(32)
    seconds = SHARE_LOGIN_SECONDS if via == "share" else LOGIN_SECONDS
    if until is not None:
        seconds = max(1, min(seconds, until - int(time.time())))
    record = {"via": via, "key_id": api_key.key_id}
    store.put(LOGIN, _digest(token), record, int(time.time()) + seconds)
    return token, seconds


def end_login(store: LoginStore, token: str | None) -> None:
    if token and _TOKEN.match(token):
        store.delete(LOGIN, _digest(token))


def login_key(
    store: LoginStore, keys: KeyStore, password_login: bool, token: str | None
) -> ApiKey | None:
    """The access a login cookie grants, or None (no, unknown, expired or revoked): the key
    it was opened with while the key exists, the operator's while `password_login` is on, a
    shared link's while the link is neither revoked nor expired."""
    if not token or not _TOKEN.match(token):
        return None
    record = store.get(LOGIN, _digest(token))
    if record is None:
        return None
    via, key_id = record.get("via"), str(record.get("key_id", ""))
    if via == "key":
        found = keys.secret_hash(key_id)
        return found[0] if found else None
    if via == "password":
        return password_key() if password_login else None
    return None  # a shared link's login counts only where share_login reads it


def share_login(store: LoginStore, token: str | None) -> tuple[ApiKey, Share] | None:
    """The access a shared link's login grants and its link, or None (no, unknown, expired,
    not a shared link's, or the link is revoked or expired)."""
    if not token or not _TOKEN.match(token):
        return None
    record = store.get(LOGIN, _digest(token))
    if record is None or record.get("via") != "share":
        return None
    share_id = str(record.get("key_id", ""))[len(SHARE_KEY_PREFIX) :]
    share = store.get(SHARE, share_id)
    if share is None or _expired(share):
        return None
    return share_key(share_id, str(share["site"])), _share(share_id, share)


def share_cookie(share_id: str) -> str:
    return SHARE_COOKIE_PREFIX + share_id


def password_key() -> ApiKey:
    return ApiKey(OPERATOR_KEY_ID, ("*",), "dashboard password", "", ALL_SCOPES)


def share_key(share_id: str, site: str) -> ApiKey:
    return ApiKey(
        key_id=SHARE_KEY_PREFIX + share_id, sites=(site,), label="shared link", created=""
    )


def create_share(
    store: LoginStore,
    site: str,
    password: str | None,
    label: str,
    expires_at: int | None = None,
    min_count: int = MIN_COUNT,
) -> tuple[str, Share]:
    """A new shared link for one site, until `expires_at` (Unix seconds) or revoked, hiding
    counts below `min_count`; returns the token (the link) and the link."""
    token = secrets.token_urlsafe(24)
    digest = _digest(token)
    record = {
        "hash": digest,
        "site": site,
        "label": label,
        "password": hash_password(password) if password else "",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "expires_at": expires_at,
        "min_count": min_count,
        "token": token,  # shown to the link's owner again; see docs/SECURITY.md
    }
    store.put(SHARE, digest[:16], record, expires_at)
    return token, _share(digest[:16], record)


def _share(share_id: str, record: Mapping[str, object]) -> Share:
    return Share(
        share_id=share_id,
        site=str(record["site"]),
        label=str(record.get("label", "")),
        has_password=bool(record.get("password")),
        created=str(record.get("created", "")),
        expires_at=expires if isinstance(expires := record.get("expires_at"), int) else None,
        min_count=k if isinstance(k := record.get("min_count"), int) else MIN_COUNT,
        token=str(record.get("token") or ""),
    )


def find_share(store: LoginStore, token: str) -> tuple[Share, str] | None:
    """The link a token opens and its password hash ("" if none), or None."""
    if not _TOKEN.match(token):
        return None
    digest = _digest(token)
    record = store.get(SHARE, digest[:16])
    if record is None or not hmac.compare_digest(str(record["hash"]), digest):
        return None
    if _expired(record):
        return None
    return _share(digest[:16], record), str(record.get("password", ""))


def list_shares(store: LoginStore, api_key: ApiKey) -> list[Share]:
    shares = (_share(share_id, record) for share_id, record in store.list(SHARE))
    return [s for s in shares if api_key.allows(s.site)]


def revoke_share(store: LoginStore, api_key: ApiKey, share_id: str) -> bool:
    record = store.get(SHARE, share_id)
    if record is None or not api_key.allows(str(record["site"])):
        return False
    return store.delete(SHARE, share_id)
