"""The stats function's one FastAPI app: every router, the error answers, the ports.

Shapes follow Plausible's Stats API (v1 and v2) and Sites API so its clients work. Every
route but the health check, the docs and the dashboard's page needs an API key or a dashboard
login (`web.auth`) with the route's scope (`web.sites_access`)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from beaconlake import health
from beaconlake.stats import docs_page
from beaconlake.web import (
    behaviour,
    dashboard,
    errors,
    exports,
    query_v2,
    sites_api,
    sites_reports,
    stats_v1,
)
from beaconlake.web.ports import Ports, WebPorts

ROUTERS = (
    docs_page.router,
    stats_v1.router,
    query_v2.router,
    exports.router,
    behaviour.router,
    dashboard.router,
    sites_api.router,
    sites_reports.router,
)
health_router = APIRouter(tags=["health"])


@health_router.get("/health")
@health_router.get("/api/health", include_in_schema=False)
def health_check(ports: Ports) -> JSONResponse:
    """200 with the version and the back end when this process can take events and answer
    queries; 503 with the reasons when it cannot. No key needed."""
    result = health.check(ports.backend, ports.sink, ports.engine)
    if result.problems:
        errors.logger.warning("unhealthy", extra={"problems": list(result.problems)})
    return JSONResponse(result.as_body(), status_code=result.status_code)


def create_app(ports: WebPorts) -> FastAPI:
    """The app over `ports` (looked up per request)."""
    app = FastAPI(
        title="Beaconlake stats API",
        version="1",
        description="Cookie-less analytics. Shapes follow Plausible's Stats API v1 and v2.",
        docs_url=None,  # docs_page: Swagger UI from the package, under a CSP
        redoc_url=None,
        openapi_url=docs_page.OPENAPI_URL,
        # Starlette's trailing-slash redirect builds its Location from the Host header
        # (`Host: evil.test` → `https://evil.test/...`): no such redirects, a 404 instead
        redirect_slashes=False,
        responses=errors.RESPONSES,
    )
    app.state.ports = ports
    app.include_router(health_router)
    for router in ROUTERS:
        app.include_router(router)
    errors.install(app)
    return app
