"""Who may read which site: stats API keys (`Authorization: Bearer <key>`), dashboard logins
(the `bl_dashboard` cookie: opened with a key or the operator's password) and shared links'
logins (the `x-beaconlake-share` header the share page sends: one site, read-only, a budget of
requests, the dashboard's own reads only, counts below the link's k hidden).

Failed attempts are rate-limited per client address (its /64 for IPv6), per key id and per
password; a locked-out client learns nothing, whatever it sends."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Annotated

from aws_lambda_powertools import Logger
from fastapi import Depends, Header, Request

from beaconlake.dashboard.logins import LOGIN_COOKIE, is_shared, login_key, share_login
from beaconlake.ingest.http import client_ip
from beaconlake.ingest.ratelimit import hashed, limits_for
from beaconlake.keys import verify_key
from beaconlake.ports import ApiKey, QueryEngine
from beaconlake.site_ports import Goal
from beaconlake.stats.limits import SLOTS, FairEngine, share_budget
from beaconlake.stats.query import QueryError
from beaconlake.web.ports import Ports, WebPorts

logger = Logger(service="beaconlake-stats")

_KEY_ID = re.compile(r"^bl_([0-9a-f]{12})_")
SHARE_HEADER = "x-beaconlake-share"
# What a shared link's login may call: the dashboard's own reads (aggregates of one site);
# never the raw export, the v1 API or the behaviour views the dashboard does not show.
SHARE_PATHS = frozenset(
    {
        "/api/v2/query",
        "/api/v2/funnel",
        "/api/v2/journeys",
        "/api/v2/retention",
        "/api/v2/realtime",
        "/api/dashboard/sites",
        "/api/dashboard/props",
        "/api/v1/sites/annotations",  # GET only (SHARE_READ_ONLY), its own site (Reader.site)
    }
)
SHARE_READ_ONLY = frozenset({"/api/v1/sites/annotations"})


class AuthError(Exception):
    """401, 403 or 429. A lock-out names neither field nor rule: it says nothing about what
    was sent."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        field: str | None = None,
        rule: str | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.headers = headers
        self.field = field
        self.rule = rule

    def as_body(self) -> dict[str, str]:
        body = {"error": self.message}
        if self.field:
            body["field"] = self.field
        if self.rule:
            body["rule"] = self.rule
        return body


def _too_many(retry_after: int) -> AuthError:
    return AuthError(
        429, "too many failed log-in attempts; retry later", {"retry-after": str(retry_after)}
    )


def _client(ports: WebPorts, request: Request) -> str:
    """The bucket key of the client's address; for IPv6 its /64, which one subscriber
    usually holds whole (a client rotating addresses within it is still one client)."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    source = request.client.host if request.client else ""
    address = client_ip(headers, source, ports.settings().client_ip_header)
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return hashed(address)
    if isinstance(parsed, ipaddress.IPv6Address):  # client_ip gives IPv4-mapped ones as IPv4
        return hashed(str(ipaddress.ip_network(f"{parsed}/64", strict=False)))
    return hashed(str(parsed))


def refuse_locked_out(ports: WebPorts, request: Request) -> None:
    """429 for a client with too many failed key (or password) attempts; checked before the
    secret is, so a locked-out client learns nothing, whatever it sends."""
    bucket = limits_for(ports.settings()).auth_client
    client = _client(ports, request)
    if bucket is not None and bucket.blocked(client):
        raise _too_many(bucket.retry_after(client))


def count_failed_attempt(
    ports: WebPorts, request: Request, token: str = "", target: str = ""
) -> None:
    """Count a failed attempt against the client and, for a well-formed key, its key id, or
    the password's `target` (see refuse_target_locked_out); 429 once that budget is spent (a
    valid key still passes: no lock-out of its owner)."""
    limits = limits_for(ports.settings())
    if limits.auth_client is not None:
        limits.auth_client.allow(_client(ports, request))
    key_id = m.group(1) if (m := _KEY_ID.match(token)) else None
    if limits.auth_key is not None and key_id and not limits.auth_key.allow(key_id):
        raise _too_many(limits.auth_key.retry_after(key_id))
    if limits.auth_target is not None and target and not limits.auth_target.allow(target):
        raise _too_many(limits.auth_target.retry_after(target))


def refuse_target_locked_out(ports: WebPorts, target: str) -> None:
    """429 for a password (the operator's, `operator`, or a shared link's, `share:<id>`) whose
    budget of failed guesses, from all clients together, is spent. Checked before the password
    is: a weak password must not stay guessable from many addresses, so while locked even the
    right one waits (the operator can still log in with a key)."""
    bucket = limits_for(ports.settings()).auth_target
    if bucket is not None and bucket.blocked(target):
        raise _too_many(bucket.retry_after(target))


def _scoped_share(request: Request, login: ApiKey) -> ApiKey:
    """A shared link's login: only SHARE_PATHS, and at most its budget of requests."""
    path = request.url.path
    if path not in SHARE_PATHS or (path in SHARE_READ_ONLY and request.method != "GET"):
        raise AuthError(
            403, "a shared dashboard link cannot use this endpoint", None, "session", "share_scope"
        )
    budget = share_budget()
    if not budget.allow(login.key_id):
        raise AuthError(
            429,
            "this shared link has used its query budget; retry later",
            {"retry-after": str(budget.retry_after(login.key_id))},
            "session",
            "share_budget",
        )
    return login


def cookie_key(ports: WebPorts, request: Request) -> ApiKey | None:
    """The access the request's dashboard login cookie grants, or None (a shared link's
    login never counts as a cookie)."""
    return login_key(
        ports.logins(),
        ports.keys(),
        bool(ports.settings().dashboard_password_hash),
        request.cookies.get(LOGIN_COOKIE),
    )


@dataclass(frozen=True)
class Reader:
    """Who asks (an API key, a dashboard login or a shared link) and what they may read."""

    key: ApiKey
    ports: WebPorts
    min_count: int | None = None  # a shared link's k: its answers hide counts below it

    @property
    def shared(self) -> bool:
        return is_shared(self.key)

    def sites(self) -> list[str]:
        """The tracked sites (the catalogue's) this reader may read."""
        return sorted(s.domain for s in self.ports.catalogue().sites() if self.key.allows(s.domain))

    def site(self, site_id: str) -> str:
        """The normalised site id, if this reader may read it and it is tracked; else a 403
        or a 400."""
        site = site_id.strip().lower()
        if not self.key.allows(site):
            raise AuthError(
                403, f"this API key has no access to site {site_id!r}", None, "site_id", "scope"
            )
        if self.ports.catalogue().site(site) is None:
            raise QueryError("site_id", f"{site_id!r} is not a tracked site", "tracked_site")
        return site

    def timezone(self, site: str) -> str:
        """The site's IANA time zone ("UTC" for a site the catalogue does not know)."""
        found = self.ports.catalogue().site(site)
        return found.timezone if found else "UTC"

    def engine(self) -> QueryEngine:
        """The engine, each statement run in one of this reader's slots."""
        return FairEngine(self.ports.engine(), self.key.key_id, SLOTS)

    def goals(self, site: str) -> tuple[Goal, ...]:
        return self.ports.catalogue().goals(site)


def require_reader(
    request: Request, ports: Ports, authorization: Annotated[str | None, Header()] = None
) -> Reader:
    """The request's key, its shared link's login (header), or its dashboard login (cookie);
    failed keys are rate-limited."""
    if not authorization and (shared := request.headers.get(SHARE_HEADER)) is not None:
        found = share_login(ports.logins(), shared.strip())
        if found is None:
            raise AuthError(
                401,
                "this shared link's session has ended; open the link again",
                None,
                "session",
                "share_login",
            )
        return Reader(_scoped_share(request, found[0]), ports, found[1].min_count)
    if not authorization and (login := cookie_key(ports, request)):
        return Reader(login, ports)
    refuse_locked_out(ports, request)
    if not authorization or not authorization.lower().startswith("bearer "):
        raise AuthError(
            401,
            "send your stats API key as 'Authorization: Bearer <key>'",
            None,
            "authorization",
            "required",
        )
    token = authorization[7:].strip()
    api_key = verify_key(ports.keys(), token)
    if api_key is not None:
        return Reader(api_key, ports)
    logger.info("stats request with an invalid key")
    count_failed_attempt(ports, request, token)
    raise AuthError(401, "the API key is not valid", None, "authorization", "api_key")


Key = Annotated[Reader, Depends(require_reader)]
