"""The kinds of record stats.registry holds: an `Aggregate` (one raw column of every stats
statement), a `Metric` (computed from aggregates) and a `Dimension` (what a row is split or
filtered by), with the enums that describe them.

Kinds of rows an aggregate can be computed over (`stats.sql.plan` picks one per query):
- `events`: the matched events, one row each, with their visit's attributes;
- `visits`: one row per visit (the sessions CTE, or the sessions rollup of past days);
- `pages`: one row per visitor and page of a day (the pages rollup);
- `engagement`: per visitor and page, a value over its engagement events, then averaged.
`visitors` over visit or page rows is counted as the plan allows (`stats.sql.plan`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

Row = Mapping[str, Any]


class Change(StrEnum):
    """How a comparison shows a metric's change."""

    PERCENT = "percent"  # (now - before) / before, in percent
    POINTS = "points"  # now - before, for rates and shares


class Denominator(StrEnum):
    """A metric read against a count over more than its own group (another pass)."""

    ALL_GROUPS = "total_visitors"  # the visitors of all groups together
    WITHOUT_GOALS = "base_visitors"  # the visitors of the query without its goal filters
    GROUP_WITHOUT_GOALS = "group_base_visitors"  # … of the same group, without goal filters

    @property
    def without_goals(self) -> bool:
        """Counted over the query's events without its goal filters (a conversion rate)."""
        return self is not Denominator.ALL_GROUPS


class Panel(StrEnum):
    """Where the dashboard shows a metric: the totals (cards and chart), the pages, the goals,
    and breakdowns by a visit attribute or by an event attribute."""

    TOTALS = "totals"
    PAGES = "pages"
    GOALS = "goals"
    VISITS = "visit_breakdowns"
    EVENTS = "event_breakdowns"


ALL_PANELS = tuple(Panel)


@dataclass(frozen=True)
class Aggregate:
    """One raw column of every stats statement, with its SQL per kind of row (None: that
    kind of row cannot compute it). `engagement` is (the value per visitor and page over
    their engagement events, its name); the column is its mean. `empty` is the value where
    nothing was computed."""

    name: str
    events: str | None = None
    visits: str | None = None
    pages: str | None = None
    engagement: tuple[str, str] | None = None
    empty: str = "0"

    def over(self, rows: str) -> str | None:
        """The SQL over `rows` ('visits' or 'pages'), or None."""
        return self.visits if rows == "visits" else self.pages


@dataclass(frozen=True)
class Metric:
    name: str
    doc: str
    inputs: tuple[str, ...]  # the aggregates `value` and `order` read
    value: Callable[[Row], Any]  # a row of aggregates → the metric, rounded like Plausible
    order: str  # SQL over the aggregates that orders rows by the metric
    heading: str  # the dashboard's column heading
    change: Change = Change.PERCENT
    v1: bool = False  # offered by API v1 too (v2 has every metric)
    denominator: Denominator | None = None
    # what it counts under an `event:goal` filter (the matched events are the conversions);
    # None: it describes whole visits or pages, not conversions, and is refused there (400)
    with_goal_filter: str | None = None
    panels: tuple[Panel, ...] = ()  # the dashboard panels that show it
    goal_panels: tuple[Panel, ...] = ()  # … under a goal filter


class Source(StrEnum):
    """Where a dimension's value comes from."""

    EVENT = "event column"  # a column of the event (schema.py)
    VISIT = "visit"  # computed per visit from its events (the sessions CTE)
    PROPS = "props"  # a custom property's value
    GOAL = "goals"  # the site's goals the event matches
    TIME = "time"  # the event's (or, for visits, the visit start's) time bucket


class Scope(StrEnum):
    """What a dimension's value is fixed for."""

    VISITOR = "visitor"  # a visitor id (the day's salt, the IP and the User-Agent): one a day
    VISIT = "visit"  # one visit: its first event's or its pages'
    EVENT = "event"  # may differ from event to event of a visit


@dataclass(frozen=True)
class Dimension:
    """`column` is its SQL over events with their visit's attributes (and over visit rows);
    `first_of`: for a visit attribute, the event column whose value at the visit's first
    event it is (`first_sql`: computed from it). `key` names it in v1 answers; `label` in the dashboard."""

    name: str
    column: str
    key: str
    source: Source
    scope: Scope
    doc: str
    label: str = ""
    first_of: str | None = None
    privacy: str = ""
    first_sql: str = ""  # SQL over the event's columns for its value, if not `first_of` itself
    origin: str = ""  # where the value comes from, for the docs, if not simply `first_of`
