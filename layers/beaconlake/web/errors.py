"""Every error the stats function answers, as JSON `{"error", "field", "rule"}`: never a 5xx
from what a client sends. A rule of the query is a 400, a request not of the documented form
a 422 (`stats.query_parser.validation_error`), who-may-read a 401/403/429, a busy or failing
engine a 429/503."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from beaconlake.ports import QueryFailed, QueryTooLarge
from beaconlake.stats.goals import GoalConfigError
from beaconlake.stats.limits import Busy
from beaconlake.stats.query import QueryError
from beaconlake.stats.query_parser import validation_error
from beaconlake.web.auth import AuthError

logger = Logger(service="beaconlake-stats")


class ErrorBody(BaseModel):
    """What every error answer holds."""

    error: str
    field: str | None = None
    rule: str | None = None


# documented on every operation
RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A rule of the query: the field and the rule"},
    422: {"model": ErrorBody, "description": "Not of the documented form: the field"},
}


async def _bad_query(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QueryError)
    return JSONResponse(exc.as_body(), status_code=400)


async def _auth(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AuthError)
    return JSONResponse(exc.as_body(), status_code=exc.status, headers=exc.headers)


async def _busy(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Busy)
    logger.warning("stats query refused: no free slot", extra={"status": exc.status})
    return JSONResponse(exc.as_body(), exc.status, headers={"retry-after": "5"})


async def _failed(_: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, QueryTooLarge):
        logger.warning("query refused over its cost budget", extra={"reason": str(exc)})
        message = f"{exc}; ask for a shorter date range, fewer filters or dimensions"
        return JSONResponse({"error": message, "field": "date_range", "rule": "cost"}, 400)
    logger.error("query failed", extra={"reason": str(exc)})
    return JSONResponse({"error": "the query engine is unavailable; retry later"}, 503)


async def _overflow(_: Request, exc: Exception) -> JSONResponse:
    """Date arithmetic past year 1 or 9999 (a range or comparison at the calendar's end)."""
    return JSONResponse({"error": "a date is out of range", "field": "date_range"}, 400)


async def _goals(_: Request, exc: Exception) -> JSONResponse:
    logger.error("the goals configuration is not valid", extra={"reason": str(exc)})
    body = {"error": "the site's goals are misconfigured on the server", "rule": "config"}
    return JSONResponse({**body, "field": "goals"}, 503)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    status, error = validation_error(exc.errors())
    return JSONResponse(error.as_body(), status_code=status)


async def _http(_: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (an unreadable body, a method not allowed), in the same shape."""
    assert isinstance(exc, HTTPException)
    body = {"error": str(exc.detail), "field": "request", "rule": "http"}
    return JSONResponse(body, exc.status_code, headers=exc.headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(QueryError, _bad_query)
    app.add_exception_handler(AuthError, _auth)
    app.add_exception_handler(Busy, _busy)
    app.add_exception_handler(QueryFailed, _failed)
    app.add_exception_handler(OverflowError, _overflow)
    app.add_exception_handler(GoalConfigError, _goals)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
