"""The behaviour views' queries (funnels, journeys, paths, sequences, retention): their bodies
as the API takes them, each field read by the rule that checks it (a QueryError names the
field and the rule: a 400), and the plain query data the SQL (`behaviour_sql`) is built from.

Scope fields are the v2 query's own: the same range parser and the same filter tree
(`stats.query_parser`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, model_validator

from beaconlake.stats.query import DateRange, FilterNode, Goal, QueryError, check_text
from beaconlake.stats.query_parser import (
    DateRangeField,
    FiltersField,
    RefDay,
    SiteId,
    checked,
)

MIN_STEPS, MAX_FUNNEL_STEPS = 2, 8
MAX_SEQUENCE_STEPS = 8
MAX_STEP_PROPS = 10
MAX_EVENT_CHARS = 120
DEFAULT_WINDOW_MINUTES = 24 * 60
MAX_WINDOW_MINUTES = 30 * 24 * 60
Order = Literal["ordered", "strict"]
ORDERS: tuple[str, ...] = get_args(Order)
Unit = Literal["visitors", "visits"]
UNITS: tuple[str, ...] = get_args(Unit)
Direction = Literal["next", "previous"]
DIRECTIONS: tuple[str, ...] = get_args(Direction)
MAX_JOURNEY_LIMIT = 100
MIN_PATH_STEPS, MAX_PATH_STEPS = 2, 10
Period = Literal["day", "week"]
PERIODS: tuple[str, ...] = get_args(Period)
MAX_RETENTION_DAYS = {"day": 92, "week": 371}
MAX_PAGE_CHARS = 2000


# ---- the query data ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """Pageviews of a path (`*` is a wildcard) or a custom event, with optional prop values."""

    page: str | None = None
    event: str | None = None
    props: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        if self.page is not None:
            return self.page
        if not self.props:
            return str(self.event)
        return f"{self.event} ({', '.join(f'{k}={v}' for k, v in self.props)})"


@dataclass(frozen=True)
class Scope:
    """What every behaviour query shares: a site, a range and visit filters."""

    site_id: str
    date_range: DateRange
    filters: tuple[FilterNode, ...] = ()
    goals: tuple[Goal, ...] = ()


@dataclass(frozen=True)
class FunnelQuery:
    scope: Scope
    steps: tuple[Step, ...]
    window_minutes: int | None = DEFAULT_WINDOW_MINUTES
    order: str = "ordered"
    unit: str = "visitors"


@dataclass(frozen=True)
class JourneyQuery:
    scope: Scope
    page: str
    direction: str = "next"
    limit: int = 10


@dataclass(frozen=True)
class PathsQuery:
    scope: Scope
    steps: int = 3
    start_page: str | None = None
    limit: int = 10


@dataclass(frozen=True)
class RetentionQuery:
    site_id: str
    date_range: DateRange
    period: str = "week"


# ---- the rules -----------------------------------------------------------------------------


def whole_number(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise QueryError(name, f"{name} must be a whole number from {low} to {high}")
    return value


def one_of_choices(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise QueryError(name, f"{name} must be one of {', '.join(choices)}")
    return str(value)


def page(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not value.startswith("/") or len(value) > MAX_PAGE_CHARS:
        raise QueryError(field_name, "a page is a path starting with '/' ('*' is a wildcard)")
    return check_text(value, field_name)


def parse_step(raw: Any, path: str) -> Step:
    if not isinstance(raw, dict) or ("page" in raw) == ("event" in raw):
        raise QueryError(path, 'a step is {"page": "/path/*"} or {"event": "Name", "props"?: {}}')
    unknown = set(raw) - {"page", "event", "props"}
    if unknown:
        raise QueryError(f"{path}.{sorted(unknown)[0]}", "unknown step field")
    if "page" in raw:
        if raw.get("props"):
            raise QueryError(f"{path}.props", "props can only narrow an event step")
        return Step(page=page(raw["page"], f"{path}.page"))
    event = raw["event"]
    if not isinstance(event, str) or not 1 <= len(event) <= MAX_EVENT_CHARS:
        raise QueryError(
            f"{path}.event", f"event must be an event name (1-{MAX_EVENT_CHARS} characters)"
        )
    check_text(event, f"{path}.event")
    props = raw.get("props") or {}
    if not isinstance(props, dict) or len(props) > MAX_STEP_PROPS:
        raise QueryError(f"{path}.props", f"props is an object of at most {MAX_STEP_PROPS} keys")
    for k, v in props.items():
        if not isinstance(v, str) or not k or len(k) > 300 or len(v) > MAX_PAGE_CHARS:
            raise QueryError(f"{path}.props", "props keys and values must be strings")
        check_text(k, f"{path}.props")
        check_text(v, f"{path}.props")
    return Step(event=event, props=tuple(sorted(props.items())))


def parse_steps(value: Any, most: int) -> tuple[Step, ...]:
    if not isinstance(value, list) or not MIN_STEPS <= len(value) <= most:
        raise QueryError("steps", f"steps must be a list of {MIN_STEPS} to {most} steps")
    return tuple(parse_step(s, f"steps[{i}]") for i, s in enumerate(value))


class PageStep(BaseModel):
    """Pageviews of a path; `*` matches anything."""

    model_config = ConfigDict(extra="forbid")
    page: str = Field(pattern="^/", max_length=MAX_PAGE_CHARS)


class EventStep(BaseModel):
    """A custom event, optionally only with these prop values."""

    model_config = ConfigDict(extra="forbid")
    event: str = Field(min_length=1, max_length=MAX_EVENT_CHARS)
    props: dict[str, str] = Field(default_factory=dict, max_length=MAX_STEP_PROPS)


def _bounds(low: int, high: int) -> dict[str, Any]:
    return {"json_schema_extra": {"minimum": low, "maximum": high}}


PAGE_SCHEMA: dict[str, Any] = {"json_schema_extra": {"pattern": "^/", "maxLength": MAX_PAGE_CHARS}}
FunnelSteps = Annotated[
    tuple[Step, ...],
    PlainValidator(
        lambda v: parse_steps(v, MAX_FUNNEL_STEPS),
        json_schema_input_type=list[PageStep | EventStep],
    ),
    Field(json_schema_extra={"minItems": MIN_STEPS, "maxItems": MAX_FUNNEL_STEPS}),
]
SequenceSteps = Annotated[
    tuple[Step, ...],
    PlainValidator(
        lambda v: parse_steps(v, MAX_SEQUENCE_STEPS),
        json_schema_input_type=list[PageStep | EventStep],
    ),
    Field(json_schema_extra={"minItems": MIN_STEPS, "maxItems": MAX_SEQUENCE_STEPS}),
]
WindowMinutes = Annotated[
    int,
    PlainValidator(
        lambda v: whole_number(v, "window_minutes", 1, MAX_WINDOW_MINUTES),
        json_schema_input_type=int,
    ),
    Field(**_bounds(1, MAX_WINDOW_MINUTES)),
]
RowLimit = Annotated[
    int,
    PlainValidator(
        lambda v: whole_number(v, "limit", 1, MAX_JOURNEY_LIMIT), json_schema_input_type=int
    ),
    Field(**_bounds(1, MAX_JOURNEY_LIMIT)),
]
PathSteps = Annotated[
    int,
    PlainValidator(
        lambda v: whole_number(v, "steps", MIN_PATH_STEPS, MAX_PATH_STEPS),
        json_schema_input_type=int,
    ),
    Field(**_bounds(MIN_PATH_STEPS, MAX_PATH_STEPS)),
]
OrderField = Annotated[
    Order,
    PlainValidator(lambda v: one_of_choices(v, "order", ORDERS), json_schema_input_type=Order),
]
UnitField = Annotated[
    Unit, PlainValidator(lambda v: one_of_choices(v, "unit", UNITS), json_schema_input_type=Unit)
]
DirectionField = Annotated[
    Direction,
    PlainValidator(
        lambda v: one_of_choices(v, "direction", DIRECTIONS), json_schema_input_type=Direction
    ),
]
PeriodField = Annotated[
    Period,
    PlainValidator(lambda v: one_of_choices(v, "period", PERIODS), json_schema_input_type=Period),
]
JourneyPage = Annotated[
    str, PlainValidator(lambda v: page(v, "page"), json_schema_input_type=str), Field(**PAGE_SCHEMA)
]
StartPage = Annotated[
    str | None,
    PlainValidator(
        lambda v: None if v is None else page(v, "start_page"), json_schema_input_type=str | None
    ),
    Field(**PAGE_SCHEMA),
]


# ---- the bodies ----------------------------------------------------------------------------


class ScopeBody(BaseModel):
    """A site, a range and the v2 filter tree choosing visits (any event matching)."""

    model_config = ConfigDict(extra="forbid")

    site_id: SiteId
    date: RefDay = None
    date_range: DateRangeField = "30d"  # type: ignore[assignment]
    filters: FiltersField = ()

    @property
    def site(self) -> str:
        return self.site_id.strip().lower()

    def scope(self, goals: tuple[Goal, ...], timezone: str = "UTC") -> Scope:
        """The scope, its range in the site's time zone."""
        return Scope(self.site, self.date_range.in_zone(timezone, self.date), self.filters, goals)


class FunnelBody(ScopeBody):
    """Visitors (visitor_id over the range) reaching each step, in order, within the window."""

    steps: FunnelSteps = Field(
        description='2-8 steps: {"page": "/blog/*"} or {"event": "Signup", "props": {"plan": "pro"}}'
    )
    window_minutes: WindowMinutes = Field(
        default=DEFAULT_WINDOW_MINUTES,
        description="Time from step 1 within which the last step must happen",
    )
    order: OrderField = Field(
        default="ordered",
        description="'ordered': other events may come between steps; 'strict': consecutive",
    )


class SequenceBody(ScopeBody):
    """How many visitors (or visits) did A, then B (then C …), with anything in between."""

    steps: SequenceSteps = Field(description="2-8 steps, as in /api/v2/funnel")
    unit: UnitField = Field(
        default="visitors", description="'visitors' (over the range) or 'visits'"
    )


class JourneyBody(ScopeBody):
    """The pages visits went to next (or came from) around a page."""

    page: JourneyPage = Field(description="A path; '*' is a wildcard")
    direction: DirectionField = "next"
    limit: RowLimit = 10


class PathsBody(ScopeBody):
    """The most common runs of N consecutive pageviews within visits."""

    steps: PathSteps = Field(default=3, description="Pageviews per path")
    start_page: StartPage = Field(default=None, description="Paths must start here ('*' ok)")
    limit: RowLimit = 10


class RetentionBody(BaseModel):
    """Cohorts of users by first day or week in the range."""

    model_config = ConfigDict(extra="forbid")

    site_id: SiteId
    date: RefDay = None
    date_range: DateRangeField = "91d"  # type: ignore[assignment]
    period: PeriodField = Field(
        default="week",
        description=f"'day' (≤ {MAX_RETENTION_DAYS['day']} days) or 'week' "
        f"(≤ {MAX_RETENTION_DAYS['week']} days)",
    )

    @model_validator(mode="after")
    def _span(self) -> RetentionBody:
        most = MAX_RETENTION_DAYS[self.period]
        if (self.date_range.last - self.date_range.first).days + 1 > most:
            raise QueryError("date_range", f"period={self.period} covers at most {most} days")
        return self


# ---- bodies → queries ----------------------------------------------------------------------

Goals = tuple[Goal, ...]
GoalsFor = Mapping[str, tuple[Goal, ...]]


def funnel_query(body: FunnelBody, goals: Goals, timezone: str = "UTC") -> FunnelQuery:
    return FunnelQuery(body.scope(goals, timezone), body.steps, body.window_minutes, body.order)


def sequence_query(body: SequenceBody, goals: Goals, timezone: str = "UTC") -> FunnelQuery:
    """A sequence is an unbounded funnel counted per unit."""
    return FunnelQuery(body.scope(goals, timezone), body.steps, None, "ordered", body.unit)


def journey_query(body: JourneyBody, goals: Goals, timezone: str = "UTC") -> JourneyQuery:
    return JourneyQuery(body.scope(goals, timezone), body.page, body.direction, body.limit)


def paths_query(body: PathsBody, goals: Goals, timezone: str = "UTC") -> PathsQuery:
    return PathsQuery(body.scope(goals, timezone), body.steps, body.start_page, body.limit)


def retention_query(body: RetentionBody, timezone: str = "UTC") -> RetentionQuery:
    date_range = body.date_range.in_zone(timezone, body.date)
    return RetentionQuery(body.site_id.strip().lower(), date_range, body.period)


# The same from a JSON object, for callers that are not routes: a QueryError if it is bad.


def parse_funnel(
    raw: Mapping[str, Any], goals_for: GoalsFor, today: date | None = None
) -> FunnelQuery:
    body: FunnelBody = checked(FunnelBody, raw, today)
    return funnel_query(body, goals_for.get(body.site, ()))


def parse_sequence(
    raw: Mapping[str, Any], goals_for: GoalsFor, today: date | None = None
) -> FunnelQuery:
    body: SequenceBody = checked(SequenceBody, raw, today)
    return sequence_query(body, goals_for.get(body.site, ()))


def parse_journey(
    raw: Mapping[str, Any], goals_for: GoalsFor, today: date | None = None
) -> JourneyQuery:
    body: JourneyBody = checked(JourneyBody, raw, today)
    return journey_query(body, goals_for.get(body.site, ()))


def parse_paths(
    raw: Mapping[str, Any], goals_for: GoalsFor, today: date | None = None
) -> PathsQuery:
    body: PathsBody = checked(PathsBody, raw, today)
    return paths_query(body, goals_for.get(body.site, ()))


def parse_retention(raw: Mapping[str, Any], today: date | None = None) -> RetentionQuery:
    return retention_query(checked(RetentionBody, raw, today))
