"""The dashboard's routes, part of the stats app so Lambda and the local server serve it alike:
the page and its files, log-in and log-out, the sites a login may read, shared links.

Everything lives under /api/ (the page at /api/dashboard, shared links at /api/share/<token>),
the prefix the gateway already sends to the stats function and the login cookie's path.

A shared link's login is not the owner's cookie: the share page puts it in the page, and its
script sends it in the `x-beaconlake-share` header (`web.auth`); a cookie per link
(`bl_share_<id>`, path /api/share/) only lets a reload of the page reuse it. The share page may
be framed by the catalogue's sites (CSP frame-ancestors); every other page by none."""

from __future__ import annotations

import hashlib
import re
import time
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aws_lambda_powertools import Logger
from fastapi import APIRouter, Cookie, Depends, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from beaconlake.dashboard import STATIC
from beaconlake.dashboard.logins import (
    LOGIN_COOKIE,
    MIN_COUNT,
    MIN_COUNT_RANGE,
    SHARE_COOKIE_PATH,
    SHARE_KEY_PREFIX,
    SHARE_LOGIN_SECONDS,
    Share,
    create_share,
    end_login,
    find_share,
    list_shares,
    password_key,
    revoke_share,
    share_cookie,
    share_key,
    share_login,
    start_login,
)
from beaconlake.dashboard.passwords import verify_password
from beaconlake.keys import verify_key
from beaconlake.ports import SITES_PROVISION, ApiKey
from beaconlake.site_ports import Goal
from beaconlake.stats import registry, service
from beaconlake.stats.limits import LIMITS
from beaconlake.stats.query import parse_date_range
from beaconlake.web.auth import (
    SHARE_HEADER,
    AuthError,
    Key,
    Reader,
    count_failed_attempt,
    refuse_locked_out,
    refuse_target_locked_out,
)
from beaconlake.web.exports import DateRangeParam, date_range_param
from beaconlake.web.ports import Ports
from beaconlake.web.sites_access import stats_reader

logger = Logger(service="beaconlake-dashboard")
router = APIRouter(tags=["dashboard"])

PAGE = "/api/dashboard"
SHARE_PAGE = "/api/share"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
CSP_BASE = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors "
)
CSP = CSP_BASE + "'none'"
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
# Optional API routes the dashboard has views for; it shows "not available" for missing ones.
FEATURES = {
    "funnel": "/api/v2/funnel",
    "journeys": "/api/v2/journeys",
    "retention": "/api/v2/retention",
    "realtime": "/api/v2/realtime",
}
# budgets of failed password guesses from all clients: the operator's, and `share:<id>`
OPERATOR_TARGET = "operator"
LoginCookie = Annotated[str | None, Cookie(alias=LOGIN_COOKIE)]


def _error(status: int, field: str, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status)


def _page(
    share: str = "", locked: bool = False, status: int = 200, attrs: str = ""
) -> HTMLResponse:
    """index.html; on a shared link, <body> says which link, whether it wants a password and
    (`attrs`) the link's login and whether the page is framed."""
    html = (STATIC / "index.html").read_text("utf-8")
    if share:
        body = f'<body data-share="{share}" data-locked="{int(locked)}"{attrs}>'
        html = html.replace("<body>", body)
    return HTMLResponse(html, status, headers={**SECURITY_HEADERS, "cache-control": "no-store"})


def frame_ancestors(domains: list[str], tls: bool) -> str:
    """The CSP source list of the pages that may frame a shared link: the sites and their
    subdomains over https; over plain http (a local server) also over http, on any port."""
    sources = ["'self'"]
    for domain in domains:
        if not _HOST.match(domain):
            continue
        sources += [f"https://{domain}", f"https://*.{domain}"]
        if not tls:
            sources += [f"http://{domain}:*", f"http://*.{domain}:*"]
    return " ".join(sources)


def _share_page(
    share: Share, login: str, locked: bool, embed: bool, ancestors: str
) -> HTMLResponse:
    """A shared link's page: its login (if open) in <body> for the script to send, framable
    by the owner's sites."""
    attrs = f' data-login="{login}"' if login else ""
    attrs += ' data-embed="1"' if embed else ""
    response = _page(share.share_id, locked=locked, attrs=attrs)
    response.headers["content-security-policy"] = CSP_BASE + ancestors
    del response.headers["x-frame-options"]
    return response


def _seconds_left(share: Share) -> int:
    left = SHARE_LOGIN_SECONDS
    if share.expires_at is not None:
        left = min(left, share.expires_at - int(time.time()))
    return max(1, left)


def _set_share_cookie(response: Response, request: Request, share: Share, token: str) -> None:
    """The link's login for reloads of its page only (path /api/share/). Over TLS it is
    SameSite=None; Secure, so it also works in an iframe on the owner's site; over plain http
    browsers refuse SameSite=None without Secure, so it is Lax (same-site frames only)."""
    tls = over_tls(request)
    response.set_cookie(
        share_cookie(share.share_id),
        token,
        max_age=_seconds_left(share),
        path=SHARE_COOKIE_PATH,
        secure=tls,
        httponly=True,
        samesite="none" if tls else "lax",
    )


def over_tls(request: Request) -> bool:
    """Did the request reach us over TLS? Behind API Gateway (Mangum's `aws.event`; the local
    gateway builds the same event) the scheme Mangum reports defaults to https, so only the
    `x-forwarded-proto` header API Gateway or a TLS-terminating proxy sets counts; served
    directly, the ASGI scheme does."""
    if "aws.event" not in request.scope:
        return request.url.scheme == "https"
    proto = request.headers.get("x-forwarded-proto", "")
    return proto.split(",")[0].strip().lower() == "https"


def _set_login(response: Response, request: Request, token: str, seconds: int) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=seconds,
        path="/api",
        secure=over_tls(request),
        httponly=True,
        samesite="strict",
    )


def _sites(ports: Ports, api_key: ApiKey) -> list[str]:
    return Reader(api_key, ports).sites()


def _share_json(share: Share) -> dict[str, Any]:
    return {
        "id": share.share_id,
        "site_id": share.site,
        "label": share.label,
        "has_password": share.has_password,
        "created": share.created,
        "expires_at": share.expires_at,
        "min_count": share.min_count,
        "path": share.path,
    }


def _goal_json(goal: Goal) -> dict[str, Any]:
    return {
        "id": goal.goal_id,
        "name": goal.name,
        "event": goal.event or "",
        "page": goal.page or "",
        "currency": goal.currency,
    }


def _site_info(reader: Reader, site: str) -> dict[str, str]:
    """The site's time zone and today's date in it."""
    name = reader.timezone(site)
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        name, zone = "UTC", ZoneInfo("UTC")
    return {"timezone": name, "today": datetime.now(zone).date().isoformat()}


def _writable(reader: Reader) -> None:
    if reader.shared:
        raise AuthError(403, "a shared link is read-only", None, "session", "read_only")


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(default=None, max_length=200, description="A stats API key")
    password: str | None = Field(default=None, max_length=1024, description="The operator's")


class ShareBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: str = Field(min_length=1, max_length=253)
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    label: str = Field(default="", max_length=100)
    min_count: int = Field(
        default=MIN_COUNT,
        ge=MIN_COUNT_RANGE[0],
        le=MIN_COUNT_RANGE[1],
        description="Counts below this are hidden from the link's viewers",
    )
    expires_days: int | None = Field(
        default=None,
        ge=1,
        le=LIMITS.span_days,
        description="The link stops working after this many days",
    )


class ShareLoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)


@router.get(PAGE, include_in_schema=False)
@router.get(PAGE + "/", include_in_schema=False)
def dashboard_page() -> HTMLResponse:
    return _page()


@router.get(PAGE + "/static/{name:path}", include_in_schema=False)
def static_file(name: str, request: Request) -> Response:
    try:  # a NUL (`a%00`) or an over-long name is an error of the OS call, not a 500
        path = (STATIC / name).resolve()
        found = path.is_relative_to(STATIC.resolve()) and path.is_file()
        data = path.read_bytes() if found and path.suffix in TYPES else None
    except (OSError, ValueError):
        data = None
    if data is None:
        return JSONResponse({"error": "not found"}, status_code=404)
    etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    headers = {
        **SECURITY_HEADERS,
        "content-type": TYPES[path.suffix],
        "cache-control": "public, max-age=300",
        "etag": etag,
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, headers=headers)


@router.get(SHARE_PAGE + "/{token}", include_in_schema=False)
def shared_page(token: str, request: Request, ports: Ports, embed: str = "") -> HTMLResponse:
    """A shared link: its login is the one this browser holds for it (cookie), or a new one
    unless the link wants a password."""
    logins = ports.logins()
    found = find_share(logins, token)
    if found is None:
        return _page("invalid", status=404)
    share, password_hash = found
    login = request.cookies.get(share_cookie(share.share_id), "")
    held = share_login(logins, login)
    if held is None or held[1].share_id != share.share_id:
        login = ""
    if not login and not password_hash:
        login, _ = start_login(
            logins, share_key(share.share_id, share.site), "share", share.expires_at
        )
    domains = [s.domain for s in ports.catalogue().sites()]
    ancestors = frame_ancestors(domains, over_tls(request))
    response = _share_page(share, login, not login, embed == "1", ancestors)
    if login:
        _set_share_cookie(response, request, share, login)
    return response


@router.post("/api/dashboard/login")
def login(body: LoginBody, request: Request, ports: Ports) -> JSONResponse:
    """Open a dashboard login with a stats API key or the operator's password."""
    if (body.key is None) == (body.password is None):
        return _error(400, "key", "send either a stats API key (key) or the password (password)")
    refuse_locked_out(ports, request)
    settings = ports.settings()
    if body.key is not None:
        found = verify_key(ports.keys(), body.key.strip())
        if found is None:
            count_failed_attempt(ports, request, body.key.strip())
            logger.info("dashboard log-in with an invalid key")
            return _error(401, "key", "this stats API key is not valid")
        api_key, via = found, "key"
    else:
        if not settings.dashboard_password_hash:
            return _error(
                400,
                "password",
                "password log-in is off: log in with a stats API key, or set "
                "BEACONLAKE_DASHBOARD_PASSWORD_HASH (beaconlake dashboard-password)",
            )
        refuse_target_locked_out(ports, OPERATOR_TARGET)
        try:
            ok = verify_password(body.password or "", settings.dashboard_password_hash)
        except ValueError:
            logger.error("BEACONLAKE_DASHBOARD_PASSWORD_HASH is not a valid hash")
            return _error(503, "password", "password log-in is misconfigured on the server")
        if not ok:
            logger.info("dashboard log-in with a wrong password")
            count_failed_attempt(ports, request, target=OPERATOR_TARGET)
            return _error(401, "password", "the password is not right")
        api_key, via = password_key(), "password"
    token, seconds = start_login(ports.logins(), api_key, via)
    logger.info("dashboard login opened", extra={"via": via, "key_id": api_key.key_id})
    response = JSONResponse({"sites": _sites(ports, api_key), "via": via})
    _set_login(response, request, token, seconds)
    return response


@router.post("/api/dashboard/share-login")
def open_share(body: ShareLoginBody, request: Request, ports: Ports) -> JSONResponse:
    """Open a password-protected shared link."""
    refuse_locked_out(ports, request)
    found = find_share(ports.logins(), body.token)
    if found is None:
        count_failed_attempt(ports, request)
        return _error(404, "token", "this shared link does not exist or has been revoked")
    share, password_hash = found
    target = f"share:{share.share_id}"
    if password_hash:
        refuse_target_locked_out(ports, target)
    if password_hash and not verify_password(body.password, password_hash):
        logger.info("shared link opened with a wrong password")
        count_failed_attempt(ports, request, target=target)
        return _error(401, "password", "the password is not right")
    api_key = share_key(share.share_id, share.site)
    token, _ = start_login(ports.logins(), api_key, "share", share.expires_at)
    # the page's script sends `login` in the x-beaconlake-share header
    response = JSONResponse({"sites": [share.site], "via": "share", "login": token})
    _set_share_cookie(response, request, share, token)
    return response


@router.post("/api/dashboard/logout")
def logout(request: Request, ports: Ports, login: LoginCookie = None) -> JSONResponse:
    """Ends the owner's login (cookie), or with the x-beaconlake-share header that shared
    link's login: never both."""
    response = JSONResponse({"logged_out": True})
    shared = request.headers.get(SHARE_HEADER)
    if shared is None:
        end_login(ports.logins(), login)
        response.delete_cookie(LOGIN_COOKIE, path="/api", httponly=True, samesite="strict")
        return response
    held = share_login(ports.logins(), shared.strip())
    end_login(ports.logins(), shared.strip())
    if held is not None:
        response.delete_cookie(share_cookie(held[1].share_id), path=SHARE_COOKIE_PATH)
    return response


@router.get("/api/dashboard/sites")
def sites(reader: Key, request: Request, embed: str = "") -> dict[str, Any]:
    """The sites this login (or key) may read, their goals (the ones the queries accept),
    time zones and local dates, what the login may do, and the optional views."""
    app: FastAPI = request.app
    paths = set(app.openapi()["paths"])  # cached by FastAPI after the first call
    sites = reader.sites()
    key_id = reader.key.key_id
    return {
        "sites": sites,
        "goals": {site: [_goal_json(g) for g in reader.goals(site)] for site in sites},
        "site_info": {site: _site_info(reader, site) for site in sites},
        "scopes": list(reader.key.scopes),
        "can_manage": reader.key.can(SITES_PROVISION) and not reader.shared,
        "min_count": reader.min_count,
        "embedded": embed == "1",
        "read_only": reader.shared,
        "share_id": key_id.removeprefix(SHARE_KEY_PREFIX) if reader.shared else None,
        "backend": reader.ports.backend(),
        # how long an accepted event may take to be counted (the realtime view says so)
        "delivery_delay_seconds": _delivery_delay(reader),
        "features": {name: path in paths for name, path in FEATURES.items()},
        "names": registry.dashboard_names(),  # column headings and dimension names
    }


def _delivery_delay(reader: Reader) -> int:
    """On AWS, Firehose's buffer: events reach S3 (and every figure) up to this late; the
    local server counts what its sink still buffers, so nothing is late there."""
    settings = reader.ports.settings()
    return settings.firehose_buffer_seconds if reader.ports.backend() == "aws" else 0


@router.get("/api/dashboard/props")
def prop_keys(
    reader: Annotated[Reader, Depends(stats_reader)],
    site_id: Annotated[str, Query(min_length=1, max_length=253)],
    date_range: DateRangeParam = "30d",
) -> dict[str, Any]:
    """The custom property keys used in a range, most used first (for the props panel)."""
    site = reader.site(site_id)
    days = parse_date_range(date_range_param(date_range)).in_zone(reader.timezone(site))
    return {"props": service.prop_keys(reader.engine(), site, days)}


@router.post("/api/dashboard/shares", status_code=201)
def add_share(body: ShareBody, reader: Key) -> dict[str, Any]:
    """A read-only link to one site's dashboard, optionally password-protected, hiding counts
    below `min_count`. The link is kept so its owner can copy it again (GET lists it)."""
    _writable(reader)
    site = reader.site(body.site_id)
    until = int(time.time()) + body.expires_days * 86_400 if body.expires_days else None
    logins = reader.ports.logins()
    label = body.label.strip()
    _, share = create_share(logins, site, body.password, label, until, body.min_count)
    logger.info("shared link created", extra={"share_id": share.share_id, "site": site})
    return _share_json(share)


@router.get("/api/dashboard/shares")
def get_shares(reader: Key) -> dict[str, Any]:
    _writable(reader)
    shares = list_shares(reader.ports.logins(), reader.key)
    return {"shares": [_share_json(s) for s in shares]}


@router.delete("/api/dashboard/shares/{share_id}", response_model=None)
def delete_share(share_id: str, reader: Key) -> dict[str, Any] | JSONResponse:
    _writable(reader)
    if not revoke_share(reader.ports.logins(), reader.key, share_id):
        return _error(404, "share_id", f"no shared link with id {share_id!r}")
    logger.info("shared link revoked", extra={"share_id": share_id})
    return {"revoked": share_id}
