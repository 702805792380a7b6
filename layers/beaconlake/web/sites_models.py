"""The management API's bodies and answers (`web.sites_api`), shaped as Plausible's Sites API:
every field bounded, unknown fields refused (a 422 naming the field), so the OpenAPI document
says exactly what is accepted. Funnel steps are read by the v2 funnel's step rule and segment
filters by the v2 query's filter rule (a 400 naming the field and the rule)."""

from __future__ import annotations

from datetime import date as Day
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator

from beaconlake.sites import CATALOGUE_LIMITS
from beaconlake.stats.behaviour_query import (
    MAX_FUNNEL_STEPS,
    EventStep,
    PageStep,
    Step,
    parse_steps,
)
from beaconlake.stats.query_parser import FilterTree, parse_filters

MAX_NAME_CHARS = CATALOGUE_LIMITS.name_chars
MAX_TEXT_CHARS = CATALOGUE_LIMITS.annotation_chars
MAX_EVENT_CHARS = CATALOGUE_LIMITS.event_chars
MAX_DOMAIN_CHARS = CATALOGUE_LIMITS.domain_chars
MAX_ZONE_CHARS = 64  # the longest IANA name is 32
PAGE_LIMIT = 100  # Plausible's default and largest page of a list

SiteId = Annotated[
    str,
    Field(min_length=1, max_length=MAX_DOMAIN_CHARS, description="The site's domain (its id)"),
]
TimeZone = Annotated[
    str,
    Field(max_length=MAX_ZONE_CHARS, description="An IANA time zone name; blank: UTC"),
]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]


def _step_json(step: Step) -> dict[str, Any]:
    if step.page is not None:
        return {"page": step.page}
    return {"event": step.event, "props": dict(step.props)} if step.props else {"event": step.event}


def _steps(value: Any) -> tuple[dict[str, Any], ...]:
    """The steps as a /api/v2/funnel body takes them, checked by that body's rule."""
    return tuple(_step_json(s) for s in parse_steps(value, MAX_FUNNEL_STEPS))


def _filters(value: Any) -> tuple[Any, ...]:
    """The filters as a /api/v2/query body takes them, checked by that body's rule (the
    site's goals are checked by the route)."""
    parse_filters(value)
    return tuple(value)


FunnelSteps = Annotated[
    tuple[dict[str, Any], ...],
    PlainValidator(_steps, json_schema_input_type=list[PageStep | EventStep]),
    Field(
        description=f"2 to {MAX_FUNNEL_STEPS} steps, as in a /api/v2/funnel body",
        json_schema_extra={"minItems": 2, "maxItems": MAX_FUNNEL_STEPS},
    ),
]
SegmentFilters = Annotated[
    tuple[Any, ...],
    PlainValidator(_filters, json_schema_input_type=list[FilterTree]),
    Field(description="Filters as in a /api/v2/query body"),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- bodies --------------------------------------------------------------------------------


class SiteCreate(Strict):
    domain: SiteId
    timezone: TimeZone | None = Field(default=None, description="Default (or blank): UTC")


class SiteUpdate(Strict):
    domain: SiteId | None = Field(default=None, description="A new domain for the site")
    timezone: TimeZone | None = Field(default=None, description="Blank: unchanged")


class SharedLinkBody(Strict):
    site_id: SiteId
    name: Name


class GoalBody(Strict):
    site_id: SiteId
    goal_type: Literal["event", "page"]
    event_name: str | None = Field(
        default=None, min_length=1, max_length=MAX_EVENT_CHARS, description="With goal_type event"
    )
    page_path: str | None = Field(
        default=None,
        pattern="^/",
        max_length=CATALOGUE_LIMITS.path_chars,
        description="With goal_type page; `*` is a wildcard",
    )
    display_name: Name | None = Field(
        default=None, description="Default: the event name, or 'Visit <page_path>'"
    )
    currency: str | None = Field(
        default=None,
        pattern="^[A-Z]{3}$",
        description="A revenue goal's ISO 4217 currency (event goals only)",
    )


class SiteRef(Strict):
    site_id: SiteId


class SavedFunnelBody(Strict):
    site_id: SiteId
    name: Name
    steps: FunnelSteps


class AnnotationBody(Strict):
    site_id: SiteId
    date: Day = Field(description="The day the note belongs to (YYYY-MM-DD)")
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]


class SegmentBody(Strict):
    site_id: SiteId
    name: Name
    filters: SegmentFilters


# ---- answers -------------------------------------------------------------------------------


class Meta(BaseModel):
    after: str | None = Field(description="Cursor of the next page; null: none")
    before: str | None = Field(description="Cursor of the previous page; null: none")
    limit: int


class SiteOut(BaseModel):
    domain: str
    timezone: str


class SiteDetail(SiteOut):
    custom_properties: list[str]


class SiteList(BaseModel):
    sites: list[SiteOut]
    meta: Meta


class Deleted(BaseModel):
    deleted: bool


class SharedLinkOut(BaseModel):
    name: str
    url: str = Field(description="The shared dashboard's address")


class GoalOut(BaseModel):
    id: str
    display_name: str
    goal_type: Literal["event", "page"]
    event_name: str | None
    page_path: str | None
    currency: str | None


class GoalCreated(GoalOut):
    domain: str


class GoalList(BaseModel):
    goals: list[GoalOut]
    meta: Meta


class FunnelOut(BaseModel):
    id: str
    name: str
    steps: list[dict[str, Any]]


class FunnelList(BaseModel):
    funnels: list[FunnelOut]


class AnnotationOut(BaseModel):
    id: str
    date: Day
    text: str


class AnnotationList(BaseModel):
    annotations: list[AnnotationOut]


class SegmentOut(BaseModel):
    id: str
    name: str
    filters: list[Any]


class SegmentList(BaseModel):
    segments: list[SegmentOut]


class Drop(BaseModel):
    reason: str
    at: str = Field(description="ISO 8601, UTC")
    explanation: str


class Installation(BaseModel):
    status: Literal["waiting", "receiving", "dropped"]
    last_event_at: str | None = Field(description="The last accepted beacon (ISO 8601, UTC)")
    drops: list[Drop]


class HostSeen(BaseModel):
    host: str
    at: str = Field(description="The last beacon for it (ISO 8601, UTC)")


class HostList(BaseModel):
    hosts: list[HostSeen]
