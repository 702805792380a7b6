"""The dashboard's routes, part of the stats app so Lambda and the local server serve it alike:
the page and its files, log-in and log-out, the sites a login may read, shared links.

Everything lives under /api/ (the page at /api/dashboard, shared links at /api/share/<token>),
the prefix the gateway already sends to the stats function and the login cookie's path."""

from __future__ import annotations

import hashlib
import time
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from fastapi import APIRouter, Cookie, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from beaconlake.config import Settings
from beaconlake.dashboard import STATIC
from beaconlake.dashboard.logins import (
    LOGIN_COOKIE,
    SHARE_KEY_PREFIX,
    Share,
    create_share,
    end_login,
    find_share,
    list_shares,
    password_key,
    revoke_share,
    share_key,
    start_login,
)
from beaconlake.dashboard.passwords import verify_password
from beaconlake.keys import verify_key
from beaconlake.ports import ApiKey, Goal
from beaconlake.stats import registry, service
from beaconlake.stats.limits import LIMITS
from beaconlake.stats.query import parse_date_range, today_utc
from beaconlake.web.auth import (
    AuthError,
    Key,
    Reader,
    count_failed_attempt,
    refuse_locked_out,
    refuse_target_locked_out,
)
from beaconlake.web.exports import DateRangeParam, date_range_param
from beaconlake.web.ports import Ports

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
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
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


def _page(share: str = "", locked: bool = False, status: int = 200) -> HTMLResponse:
    """index.html; on a shared link, <body> says which link and whether it wants a password."""
    html = (STATIC / "index.html").read_text("utf-8")
    if share:
        html = html.replace("<body>", f'<body data-share="{share}" data-locked="{int(locked)}">')
    return HTMLResponse(html, status, headers={**SECURITY_HEADERS, "cache-control": "no-store"})


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


def _sites(settings: Settings, api_key: ApiKey) -> list[str]:
    return sorted(s for s in settings.sites if api_key.allows(s))


def _share_json(share: Share) -> dict[str, Any]:
    return {
        "id": share.share_id,
        "site_id": share.site,
        "label": share.label,
        "has_password": share.has_password,
        "created": share.created,
        "expires_at": share.expires_at,
    }


def _goal_json(goal: Goal) -> dict[str, str]:
    return {"name": goal.name, "event": goal.event or "", "page": goal.page or ""}


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
def shared_page(token: str, request: Request, ports: Ports) -> HTMLResponse:
    found = find_share(ports.logins(), token)
    if found is None:
        return _page("invalid", status=404)
    share, password_hash = found
    response = _page(share.share_id, locked=bool(password_hash))
    if not password_hash:
        login, seconds = start_login(
            ports.logins(), share_key(share.share_id, share.site), "share", share.expires_at
        )
        _set_login(response, request, login, seconds)
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
    response = JSONResponse({"sites": _sites(settings, api_key), "via": via})
    _set_login(response, request, token, seconds)
    return response


@router.post("/api/dashboard/share-login")
def share_login(body: ShareLoginBody, request: Request, ports: Ports) -> JSONResponse:
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
    token, seconds = start_login(ports.logins(), api_key, "share", share.expires_at)
    response = JSONResponse({"sites": [share.site], "via": "share"})
    _set_login(response, request, token, seconds)
    return response


@router.post("/api/dashboard/logout")
def logout(ports: Ports, login: LoginCookie = None) -> JSONResponse:
    end_login(ports.logins(), login)
    response = JSONResponse({"logged_out": True})
    response.delete_cookie(LOGIN_COOKIE, path="/api", httponly=True, samesite="strict")
    return response


@router.get("/api/dashboard/sites")
def sites(reader: Key, request: Request) -> dict[str, Any]:
    """The sites this login (or key) may read, their goals (the ones the queries accept),
    today's date (UTC) and the optional views."""
    app: FastAPI = request.app
    paths = set(app.openapi()["paths"])  # cached by FastAPI after the first call
    sites = reader.sites()
    key_id = reader.key.key_id
    return {
        "sites": sites,
        "goals": {site: [_goal_json(g) for g in reader.goals(site)] for site in sites},
        "read_only": reader.shared,
        "share_id": key_id.removeprefix(SHARE_KEY_PREFIX) if reader.shared else None,
        "today": today_utc().isoformat(),
        "features": {name: path in paths for name, path in FEATURES.items()},
        "names": registry.dashboard_names(),  # column headings and dimension names
    }


@router.get("/api/dashboard/props")
def prop_keys(
    reader: Key,
    site_id: Annotated[str, Query(min_length=1, max_length=253)],
    date_range: DateRangeParam = "30d",
) -> dict[str, Any]:
    """The custom property keys used in a range, most used first (for the props panel)."""
    site = reader.site(site_id)
    days = parse_date_range(date_range_param(date_range))
    return {"props": service.prop_keys(reader.engine(), site, days)}


@router.post("/api/dashboard/shares", status_code=201)
def add_share(body: ShareBody, reader: Key) -> dict[str, Any]:
    """A read-only link to one site's dashboard, optionally password-protected. The link is
    shown once; only its hash is stored."""
    _writable(reader)
    site = reader.site(body.site_id)
    until = int(time.time()) + body.expires_days * 86_400 if body.expires_days else None
    logins = reader.ports.logins()
    token, share = create_share(logins, site, body.password, body.label.strip(), until)
    logger.info("shared link created", extra={"share_id": share.share_id, "site": site})
    return {**_share_json(share), "path": f"{SHARE_PAGE}/{token}"}


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
