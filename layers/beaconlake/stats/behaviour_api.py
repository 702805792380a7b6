"""Behaviour routes under /api/v2/: funnel, journeys, paths, sequences, retention, realtime.

Auth and the site check are the query API's; bad input is a 400 naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict, Field

from beaconlake.stats import behaviour
from beaconlake.stats.api import Key, check_site, query_engine
from beaconlake.stats.query_api import _goals
from beaconlake.wiring import ports

router = APIRouter(tags=["behaviour"])

DateRangeField = Annotated[
    str | list[str],
    Field(description="As in /api/v2/query: '30d', 'month', ['2026-01-01', '2026-01-31'] …"),
]
FiltersField = Annotated[
    list[Any],
    Field(
        default_factory=list,
        description="The /api/v2/query filter tree; it chooses visits (any event matching)",
    ),
]
RefDate = Annotated[str | None, Field(description="Reference day for relative ranges")]

FUNNEL_EXAMPLE: dict[str, Any] = {
    "site_id": "example.com",
    "date_range": "30d",
    "steps": [
        {"page": "/blog/*"},
        {"page": "/pricing"},
        {"event": "Signup", "props": {"plan": "pro"}},
    ],
    "window_minutes": 1440,
    "order": "ordered",
}
JOURNEY_EXAMPLE: dict[str, Any] = {
    "site_id": "example.com",
    "date_range": "7d",
    "page": "/pricing",
    "direction": "next",
    "limit": 10,
}
PATHS_EXAMPLE: dict[str, Any] = {
    "site_id": "example.com",
    "date_range": "7d",
    "steps": 3,
    "start_page": "/",
    "limit": 10,
}
SEQUENCE_EXAMPLE: dict[str, Any] = {
    "site_id": "example.com",
    "date_range": "30d",
    "steps": [{"page": "/pricing"}, {"event": "Signup"}],
    "unit": "visits",
}
RETENTION_EXAMPLE: dict[str, Any] = {
    "site_id": "example.com",
    "date_range": "91d",
    "period": "week",
}


def _answer(example: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"application/json": {"example": example}}}}


FUNNEL_ANSWER = {
    "visitors": 812,
    "conversion_rate": 3.1,
    "steps": [
        {
            "label": "/blog/*",
            "visitors": 812,
            "conversion_rate": 100.0,
            "step_conversion": 100.0,
            "dropoff": 0,
        },
        {
            "label": "/pricing",
            "visitors": 120,
            "conversion_rate": 14.8,
            "step_conversion": 14.8,
            "dropoff": 692,
        },
        {
            "label": "Signup (plan=pro)",
            "visitors": 25,
            "conversion_rate": 3.1,
            "step_conversion": 20.8,
            "dropoff": 95,
        },
    ],
}
JOURNEY_ANSWER = {
    "page": "/pricing",
    "direction": "next",
    "visits": 290,
    "results": [
        {"page": "(exit)", "visits": 120, "percentage": 41.4},
        {"page": "/signup", "visits": 80, "percentage": 27.6},
    ],
}
PATHS_ANSWER = {"steps": 3, "results": [{"path": ["/", "/pricing", "/signup"], "visits": 57}]}
SEQUENCE_ANSWER = {
    "unit": "visits",
    "steps": ["/pricing", "Signup"],
    "count": 41,
    "total": 1290,
    "percentage": 3.2,
}
RETENTION_ANSWER = {
    "available": True,
    "period": "week",
    "cohorts": [
        {
            "cohort": "2026-02-02",
            "users": 40,
            "retained": [40, 12, 9],
            "percentages": [100.0, 30.0, 22.5],
        }
    ],
}
REALTIME_ANSWER = {
    "visitors": 7,
    "series": [{"minute": "2026-03-10T13:31:00Z", "visitors": 3, "pageviews": 4}],
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: str = Field(min_length=1, max_length=253)
    date_range: DateRangeField = "30d"
    date: RefDate = None


class FunnelBody(_Body):
    """Visitors (visitor_id over the range) reaching each step, in order, within the window."""

    model_config = ConfigDict(json_schema_extra={"examples": [FUNNEL_EXAMPLE]})

    filters: FiltersField
    steps: list[Any] = Field(
        description='2-8 steps: {"page": "/blog/*"} or {"event": "Signup", "props": {"plan": "pro"}}'
    )
    window_minutes: int = Field(
        default=behaviour.DEFAULT_WINDOW_MINUTES,
        description="Time from step 1 within which the last step must happen (≤ 43200)",
    )
    order: str = Field(
        default="ordered",
        description="'ordered': other events may come between steps; 'strict': consecutive",
    )


class JourneyBody(_Body):
    model_config = ConfigDict(json_schema_extra={"examples": [JOURNEY_EXAMPLE]})

    filters: FiltersField
    page: str = Field(description="A path; '*' is a wildcard")
    direction: str = Field(default="next", description="'next' or 'previous'")
    limit: int = Field(default=10, description="At most 100 rows")


class PathsBody(_Body):
    model_config = ConfigDict(json_schema_extra={"examples": [PATHS_EXAMPLE]})

    filters: FiltersField
    steps: int = Field(default=3, description="Pageviews per path, 2-10")
    start_page: str | None = Field(default=None, description="Paths must start here ('*' ok)")
    limit: int = Field(default=10, description="At most 100 paths")


class SequenceBody(_Body):
    model_config = ConfigDict(json_schema_extra={"examples": [SEQUENCE_EXAMPLE]})

    filters: FiltersField
    steps: list[Any] = Field(description="2-8 steps, as in /api/v2/funnel")
    unit: str = Field(default="visitors", description="'visitors' (over the range) or 'visits'")


class RetentionBody(_Body):
    model_config = ConfigDict(json_schema_extra={"examples": [RETENTION_EXAMPLE]})

    date_range: DateRangeField = "91d"
    period: str = Field(default="week", description="'day' (≤ 92 days) or 'week' (≤ 371 days)")


def _checked(key: Any, body: _Body) -> dict[str, Any]:
    raw = body.model_dump()
    raw["site_id"] = check_site(key, body.site_id)
    return raw


@router.post("/api/v2/funnel", responses=_answer(FUNNEL_ANSWER))
def funnel(
    key: Key,
    body: Annotated[FunnelBody, Body(openapi_examples={"signup": {"value": FUNNEL_EXAMPLE}})],
) -> dict[str, Any]:
    """Visitors per step, conversion (% of step 1 and of the previous step) and drop-off.

    Visitor ids change daily, so a funnel follows a visitor within a UTC day (and a
    little past midnight) at most; the window caps it further."""
    q = behaviour.parse_funnel(_checked(key, body), _goals())
    return behaviour.run_funnel(query_engine(key), q)


@router.post("/api/v2/journeys", responses=_answer(JOURNEY_ANSWER))
def journeys(
    key: Key,
    body: Annotated[JourneyBody, Body(openapi_examples={"after": {"value": JOURNEY_EXAMPLE}})],
) -> dict[str, Any]:
    """The pages visits went to next (or came from) around a page, within a visit.

    `(exit)` / `(entrance)` rows count visits that left after the page / started on it."""
    q = behaviour.parse_journey(_checked(key, body), _goals())
    return behaviour.run_journeys(query_engine(key), q)


@router.post("/api/v2/paths", responses=_answer(PATHS_ANSWER))
def paths(
    key: Key, body: Annotated[PathsBody, Body(openapi_examples={"top": {"value": PATHS_EXAMPLE}})]
) -> dict[str, Any]:
    """The most common runs of N consecutive pageviews within visits."""
    q = behaviour.parse_paths(_checked(key, body), _goals())
    return behaviour.run_paths(query_engine(key), q)


@router.post("/api/v2/sequences", responses=_answer(SEQUENCE_ANSWER))
def sequences(
    key: Key,
    body: Annotated[SequenceBody, Body(openapi_examples={"then": {"value": SEQUENCE_EXAMPLE}})],
) -> dict[str, Any]:
    """How many visitors (or visits) did A, then B (then C …), with anything in between."""
    q = behaviour.parse_sequence(_checked(key, body), _goals())
    return behaviour.run_sequence(query_engine(key), q)


@router.post("/api/v2/retention", responses=_answer(RETENTION_ANSWER))
def retention(
    key: Key,
    body: Annotated[RetentionBody, Body(openapi_examples={"weekly": {"value": RETENTION_EXAMPLE}})],
) -> dict[str, Any]:
    """Cohorts of users (site-supplied `user_id`, stored as a keyed hash) by first day/week
    in the range, and how many were active in each later period. Off unless enabled."""
    raw = _checked(key, body)
    q = behaviour.parse_retention(raw)
    return behaviour.run_retention(
        query_engine(key), q, q.site_id in ports().settings.user_id_sites
    )


@router.get("/api/v2/realtime", responses=_answer(REALTIME_ANSWER))
def realtime(
    key: Key, site_id: Annotated[str, Query(min_length=1, max_length=253)]
) -> dict[str, Any]:
    """Visitors in the last 5 minutes and visitors/pageviews per minute for 30 minutes.

    Locally this includes events still in the write buffer; on AWS events show up after
    Firehose delivers them (see docs/ANALYTICS.md)."""
    site = check_site(key, site_id)
    p = ports()
    return behaviour.run_realtime(query_engine(key), site, datetime.now(UTC), p.pending())
