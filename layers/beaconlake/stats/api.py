"""The stats HTTP API (FastAPI). Shapes follow Plausible's Stats API v1 so its clients work.

Every route needs `Authorization: Bearer <key>`; a key is scoped to one or more sites.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace
from datetime import date
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from beaconlake import health
from beaconlake.config import Settings
from beaconlake.dashboard.sessions import SESSION_COOKIE, is_shared, session_key
from beaconlake.ingest.http import client_ip
from beaconlake.ingest.ratelimit import hashed, limits_for
from beaconlake.keys import verify_key
from beaconlake.ports import ApiKey, QueryEngine, QueryFailed, QueryTooLarge
from beaconlake.stats import service
from beaconlake.stats.docs_page import router as docs_router
from beaconlake.stats.limits import LIMITS, SLOTS, Busy, FairEngine, share_budget
from beaconlake.stats.query import (
    INTERVALS,
    MAX_LIMIT,
    QueryError,
    StatsQuery,
    check_dimension,
    parse_metrics,
    parse_v1_filters,
    resolve_period,
)
from beaconlake.wiring import engine, ports

logger = Logger(service="beaconlake-stats")


class AuthError(Exception):
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


_KEY_ID = re.compile(r"^bl_([0-9a-f]{12})_")


def _too_many(retry_after: int) -> AuthError:
    return AuthError(
        429, "too many failed log-in attempts; retry later", {"retry-after": str(retry_after)}
    )


def _client(request: Request) -> str:
    """The bucket key of the client's address; for IPv6 its /64, which one subscriber
    usually holds whole (a client rotating addresses within it is still one client)."""
    settings = ports().settings
    headers = {k.lower(): v for k, v in request.headers.items()}
    source = request.client.host if request.client else ""
    address = client_ip(headers, source, settings.client_ip_header)
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return hashed(address)
    if isinstance(parsed, ipaddress.IPv6Address):  # client_ip gives IPv4-mapped ones as IPv4
        return hashed(str(ipaddress.ip_network(f"{parsed}/64", strict=False)))
    return hashed(str(parsed))


def refuse_locked_out(request: Request) -> None:
    """429 for a client with too many failed key (or password) attempts; checked before the
    secret is, so a locked-out client learns nothing, whatever it sends."""
    bucket = limits_for(ports().settings).auth_client
    client = _client(request)
    if bucket is not None and bucket.blocked(client):
        raise _too_many(bucket.retry_after(client))


def count_failed_attempt(request: Request, token: str = "", target: str = "") -> None:
    """Count a failed attempt against the client and, for a well-formed key, its key id, or
    the password's `target` (see refuse_target_locked_out); 429 once that budget is spent (a
    valid key still passes: no lock-out of its owner)."""
    limits = limits_for(ports().settings)
    if limits.auth_client is not None:
        limits.auth_client.allow(_client(request))
    key_id = m.group(1) if (m := _KEY_ID.match(token)) else None
    if limits.auth_key is not None and key_id and not limits.auth_key.allow(key_id):
        raise _too_many(limits.auth_key.retry_after(key_id))
    if limits.auth_target is not None and target and not limits.auth_target.allow(target):
        raise _too_many(limits.auth_target.retry_after(target))


def refuse_target_locked_out(target: str) -> None:
    """429 for a password (the operator's, `operator`, or a shared link's, `share:<id>`) whose
    budget of failed guesses, from all clients together, is spent. Checked before the password
    is: a weak password must not stay guessable from many addresses, so while locked even the
    right one waits (the operator can still log in with a key)."""
    bucket = limits_for(ports().settings).auth_target
    if bucket is not None and bucket.blocked(target):
        raise _too_many(bucket.retry_after(target))


# What a shared link's session may call: the dashboard's own reads (aggregates of one site);
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
    }
)


def _scoped_share(request: Request, session: ApiKey) -> ApiKey:
    """A shared link's session: only SHARE_PATHS, and at most its budget of requests."""
    if request.url.path not in SHARE_PATHS:
        raise AuthError(
            403, "a shared dashboard link cannot use this endpoint", None, "session", "share_scope"
        )
    budget = share_budget()
    if not budget.allow(session.key_id):
        raise AuthError(
            429,
            "this shared link has used its query budget; retry later",
            {"retry-after": str(budget.retry_after(session.key_id))},
            "session",
            "share_budget",
        )
    return session


def require_key(request: Request, authorization: Annotated[str | None, Header()] = None) -> ApiKey:
    """The request's key (or dashboard session); failed keys are rate-limited."""
    if not authorization and (session := session_key(request.cookies.get(SESSION_COOKIE))):
        return _scoped_share(request, session) if is_shared(session) else session
    refuse_locked_out(request)
    if not authorization or not authorization.lower().startswith("bearer "):
        raise AuthError(401, "send your stats API key as 'Authorization: Bearer <key>'")
    token = authorization[7:].strip()
    api_key = verify_key(ports().keys, token)
    if api_key is not None:
        return api_key
    logger.info("stats request with an invalid key")
    count_failed_attempt(request, token)
    raise AuthError(401, "the API key is not valid")


def query_engine(api_key: ApiKey) -> QueryEngine:
    """The engine, each statement run in one of this key's (or shared link's) slots."""
    return FairEngine(engine(), api_key.key_id, SLOTS)


def check_site(api_key: ApiKey, site_id: str) -> str:
    """The normalised site id, if the key may read it and it is tracked; else 403 / 400."""
    site = site_id.strip().lower()
    if not api_key.allows(site):
        raise AuthError(403, f"this API key has no access to site {site_id!r}")
    if site not in ports().settings.sites:
        raise QueryError("site_id", f"{site_id!r} is not a tracked site")
    return site


def _query(
    api_key: ApiKey,
    site_id: str,
    period: str,
    date_: date | None,
    from_: str | None,
    to: str | None,
    metrics: str | None,
    filters: str | None,
    default_metrics: tuple[str, ...] = ("visitors",),
) -> StatsQuery:
    site = check_site(api_key, site_id)
    if filters is not None and len(filters) > LIMITS.v1_filter_chars:
        raise QueryError(
            "filters", f"filters is at most {LIMITS.v1_filter_chars} characters", "max_chars"
        )
    return StatsQuery(
        site_id=site,
        date_range=resolve_period(period, date_, from_, to),
        metrics=parse_metrics(metrics, default_metrics),
        filters=parse_v1_filters(filters),
    )


SiteId = Annotated[str, Query(min_length=1, max_length=253, description="The site's domain")]
Period = Annotated[str, Query(description="day, 7d, 30d, month or custom")]
DateParam = Annotated[
    date | None,
    Query(alias="date", ge=date(2000, 1, 1), le=date(2999, 12, 31), description="Reference day"),
]
FromParam = Annotated[str | None, Query(alias="from", description="First day, with custom")]
ToParam = Annotated[str | None, Query(alias="to", description="Last day, with custom")]
Metrics = Annotated[str | None, Query(description="Comma-separated metrics")]
Filters = Annotated[str | None, Query(description="e.g. event:page==/blog;visit:source!=Google")]
Key = Annotated[ApiKey, Depends(require_key)]


def create_app() -> FastAPI:
    app = FastAPI(
        title="Beaconlake stats API",
        version="1",
        description="Cookie-less analytics. Shapes follow Plausible's Stats API v1.",
        docs_url=None,  # docs_page: Swagger UI from the package, under a CSP
        redoc_url=None,
        openapi_url="/api/openapi.json",
        # Starlette's trailing-slash redirect builds its Location from the Host header
        # (`Host: evil.test` → `https://evil.test/...`): no such redirects, a 404 instead
        redirect_slashes=False,
    )
    app.include_router(docs_router)

    @app.exception_handler(QueryError)
    async def _bad_query(_: Request, exc: QueryError) -> JSONResponse:
        return JSONResponse(exc.as_body(), status_code=400)

    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        return JSONResponse(exc.as_body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(Busy)
    async def _busy(_: Request, exc: Busy) -> JSONResponse:
        logger.warning("stats query refused: no free slot", extra={"status": exc.status})
        return JSONResponse(exc.as_body(), exc.status, headers={"retry-after": "5"})

    @app.exception_handler(QueryFailed)
    async def _failed(_: Request, exc: QueryFailed) -> JSONResponse:
        if isinstance(exc, QueryTooLarge):
            logger.warning("query refused over its cost budget", extra={"reason": str(exc)})
            message = f"{exc}; ask for a shorter date range, fewer filters or dimensions"
            return JSONResponse({"error": message, "field": "date_range", "rule": "cost"}, 400)
        logger.error("query failed", extra={"reason": str(exc)})
        return JSONResponse({"error": "the query engine is unavailable; retry later"}, 503)

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, exc: OverflowError) -> JSONResponse:
        """Date arithmetic past year 1 or 9999 (a range or comparison at the calendar's end)."""
        return JSONResponse({"error": "a date is out of range", "field": "date_range"}, 400)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        field_name = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return JSONResponse(
            {"error": f"{field_name}: {first.get('msg', 'invalid')}", "field": field_name},
            status_code=422,
        )

    @app.get("/health", tags=["health"])
    @app.get("/api/health", tags=["health"], include_in_schema=False)
    def health_check() -> JSONResponse:
        """200 with the version and the back end when this process can take events and answer
        queries; 503 with the reasons when it cannot. No key needed."""
        backend = lambda: Settings.from_env().backend  # noqa: E731 - readable when ports fail
        result = health.check(backend, lambda: ports().sink, engine)
        if result.problems:
            logger.warning("unhealthy", extra={"problems": list(result.problems)})
        return JSONResponse(result.as_body(), status_code=result.status_code)

    @app.get("/api/v1/stats/aggregate", tags=["stats"])
    def aggregate(
        key: Key,
        site_id: SiteId,
        period: Period = "30d",
        date_: DateParam = None,
        from_: FromParam = None,
        to: ToParam = None,
        metrics: Metrics = None,
        filters: Filters = None,
    ) -> dict[str, Any]:
        """Totals over the period, e.g. `metrics=visitors,visits,pageviews,bounce_rate`."""
        q = _query(key, site_id, period, date_, from_, to, metrics, filters)
        return {"results": service.aggregate(query_engine(key), q)}

    @app.get("/api/v1/stats/timeseries", tags=["stats"])
    def timeseries(
        key: Key,
        site_id: SiteId,
        period: Period = "30d",
        date_: DateParam = None,
        from_: FromParam = None,
        to: ToParam = None,
        metrics: Metrics = None,
        filters: Filters = None,
        interval: Annotated[str | None, Query(description="hour, day, week or month")] = None,
    ) -> dict[str, Any]:
        """One row per hour/day/week/month bucket, with no gaps."""
        q = _query(key, site_id, period, date_, from_, to, metrics, filters)
        chosen = interval or ("hour" if period == "day" else "day")
        if chosen not in INTERVALS:
            raise QueryError("interval", f"interval must be one of {', '.join(INTERVALS)}")
        if chosen == "hour" and len(q.date_range.days()) > 31:
            raise QueryError("interval", "interval=hour is limited to 31 days")
        return {"results": service.timeseries(query_engine(key), replace(q, interval=chosen))}

    @app.get("/api/v1/stats/breakdown", tags=["stats"])
    def breakdown(
        key: Key,
        site_id: SiteId,
        property: Annotated[str, Query(description="e.g. visit:source, event:page")],
        period: Period = "30d",
        date_: DateParam = None,
        from_: FromParam = None,
        to: ToParam = None,
        metrics: Metrics = None,
        filters: Filters = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    ) -> dict[str, Any]:
        """Top values of a property, ordered by the first metric."""
        q = _query(key, site_id, period, date_, from_, to, metrics, filters)
        dimension = check_dimension(property)
        q = replace(q, dimension=dimension, limit=limit, offset=(page - 1) * limit)
        return {"results": service.breakdown(query_engine(key), q)}

    from beaconlake.stats.query_api import router as query_router

    app.include_router(query_router)
    from beaconlake.stats.behaviour_api import router as behaviour_router

    app.include_router(behaviour_router)
    from beaconlake.dashboard.routes import router as dashboard_router

    app.include_router(dashboard_router)
    return app
