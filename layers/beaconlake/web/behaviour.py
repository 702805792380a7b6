"""Behaviour routes under /api/v2/: funnel, journeys, paths, sequences, retention, realtime.

Bodies and their rules are `stats.behaviour_query`'s (a bad field is a 400 naming it); the
answers are `stats.behaviour`'s."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from beaconlake.stats import behaviour
from beaconlake.stats.behaviour_query import (
    FunnelBody,
    JourneyBody,
    PathsBody,
    RetentionBody,
    SequenceBody,
    funnel_query,
    journey_query,
    paths_query,
    retention_query,
    sequence_query,
)
from beaconlake.stats.query import QueryError
from beaconlake.stats.registry_privacy import blank_realtime
from beaconlake.web import small_counts
from beaconlake.web.auth import Key, Reader
from beaconlake.web.sites_access import STATS_SCOPE

router = APIRouter(tags=["behaviour"], dependencies=STATS_SCOPE)

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


def _follows_visitors(reader: Reader) -> None:
    """A 400 where no visitor id is kept: every event is then its own visit, so a funnel,
    journey, path or sequence would answer 0 past its first step, a wrong number."""
    if reader.ports.settings().privacy.no_visitor_id:
        raise QueryError(
            "privacy",
            "this server keeps no visitor id (BEACONLAKE_PRIVACY_NO_VISITOR_ID), so every event"
            " is its own visit: funnels, journeys, paths and sequences cannot be answered",
            "no_visitor_id",
        )


@router.post("/api/v2/funnel", responses=_answer(FUNNEL_ANSWER))
def funnel(
    reader: Key,
    body: Annotated[FunnelBody, Body(openapi_examples={"signup": {"value": FUNNEL_EXAMPLE}})],
) -> dict[str, Any]:
    """Visitors per step, conversion (% of step 1 and of the previous step) and drop-off.

    Visitor ids change daily, so a funnel follows a visitor within a UTC day (and a
    little past midnight) at most; the window caps it further."""
    _follows_visitors(reader)
    q = funnel_query(body, reader.goals(site := reader.site(body.site_id)), reader.timezone(site))
    answer = behaviour.run_funnel(reader.engine(), q)
    return small_counts.funnel_answer(answer, reader.min_count)


@router.post("/api/v2/journeys", responses=_answer(JOURNEY_ANSWER))
def journeys(
    reader: Key,
    body: Annotated[JourneyBody, Body(openapi_examples={"after": {"value": JOURNEY_EXAMPLE}})],
) -> dict[str, Any]:
    """The pages visits went to next (or came from) around a page, within a visit.

    `(exit)` / `(entrance)` rows count visits that left after the page / started on it."""
    _follows_visitors(reader)
    q = journey_query(body, reader.goals(site := reader.site(body.site_id)), reader.timezone(site))
    answer = behaviour.run_journeys(reader.engine(), q)
    return small_counts.journeys_answer(answer, reader.min_count)


@router.post("/api/v2/paths", responses=_answer(PATHS_ANSWER))
def paths(
    reader: Key,
    body: Annotated[PathsBody, Body(openapi_examples={"top": {"value": PATHS_EXAMPLE}})],
) -> dict[str, Any]:
    """The most common runs of N consecutive pageviews within visits."""
    _follows_visitors(reader)
    q = paths_query(body, reader.goals(site := reader.site(body.site_id)), reader.timezone(site))
    return behaviour.run_paths(reader.engine(), q)


@router.post("/api/v2/sequences", responses=_answer(SEQUENCE_ANSWER))
def sequences(
    reader: Key,
    body: Annotated[SequenceBody, Body(openapi_examples={"then": {"value": SEQUENCE_EXAMPLE}})],
) -> dict[str, Any]:
    """How many visitors (or visits) did A, then B (then C …), with anything in between."""
    _follows_visitors(reader)
    q = sequence_query(body, reader.goals(site := reader.site(body.site_id)), reader.timezone(site))
    return behaviour.run_sequence(reader.engine(), q)


@router.post("/api/v2/retention", responses=_answer(RETENTION_ANSWER))
def retention(
    reader: Key,
    body: Annotated[RetentionBody, Body(openapi_examples={"weekly": {"value": RETENTION_EXAMPLE}})],
) -> dict[str, Any]:
    """Cohorts of users (site-supplied `user_id`, stored as a keyed hash) by first day/week
    in the range, and how many were active in each later period. Off unless enabled."""
    site = reader.site(body.site_id)
    enabled = site in reader.ports.settings().user_id_sites
    answer = behaviour.run_retention(
        reader.engine(), retention_query(body, reader.timezone(site)), enabled
    )
    return small_counts.retention_answer(answer, reader.min_count)


@router.get("/api/v2/realtime", responses=_answer(REALTIME_ANSWER))
def realtime(
    reader: Key, site_id: Annotated[str, Query(min_length=1, max_length=253)]
) -> dict[str, Any]:
    """Visitors in the last 5 minutes and visitors/pageviews per minute for 30 minutes.

    Locally this includes events still in the write buffer; on AWS events show up after
    Firehose delivers them (see docs/ANALYTICS.md)."""
    site = reader.site(site_id)
    pending = reader.ports.pending()
    answer = behaviour.run_realtime(
        reader.engine(), site, datetime.now(UTC), pending, reader.timezone(site)
    )
    privacy = reader.ports.settings().privacy
    return blank_realtime(small_counts.realtime_answer(answer, reader.min_count), privacy)
