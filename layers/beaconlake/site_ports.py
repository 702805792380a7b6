"""The ports of the site catalogue: the sites, what belongs to each (goals, saved funnels,
annotations, segments) and what the collector saw per host. Adapters and the one Catalogue
(beaconlake.sites) implement them; wiring picks the store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol


@dataclass(frozen=True)
class Goal:
    """A site goal: a custom event name, or pageviews of a path (`*` is a wildcard). A revenue
    goal is an event goal with the ISO 4217 `currency` its events' revenue is in. `goal_id` is
    stable (Plausible's Sites API deletes goals by id); configured goals get one derived from
    the site and name."""

    name: str
    event: str | None = None
    page: str | None = None
    currency: str | None = None
    goal_id: str = ""


@dataclass(frozen=True)
class Site:
    """A tracked site: its domain (the site id every query names), the IANA time zone its
    days, hours and "today" are counted in, and when it was added (epoch seconds)."""

    domain: str
    timezone: str = "UTC"
    created: int = 0


@dataclass(frozen=True)
class SavedFunnel:
    """A named funnel; `steps` are exactly the `steps` of a /api/v2/funnel body."""

    funnel_id: str
    name: str
    steps: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Annotation:
    """A short note on a day of a site's chart."""

    annotation_id: str
    day: date
    text: str


@dataclass(frozen=True)
class Segment:
    """A named set of filters, in the /api/v2/query `filters` form."""

    segment_id: str
    name: str
    filters: tuple[Any, ...]


class CatalogueError(ValueError):
    """A change the catalogue refuses: 400 (a bad value), 404 (no such item) or 409 (it
    exists), naming the field and the rule."""

    def __init__(self, status: int, field_name: str, message: str, rule: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field_name
        self.message = message
        self.rule = rule

    def as_body(self) -> dict[str, str]:
        return {"error": self.message, "field": self.field, "rule": self.rule}


class SiteCatalogue(Protocol):
    """The sites and what belongs to each (goals, saved funnels, annotations, segments), kept
    in the product: a file locally, DynamoDB on AWS; the configuration (BEACONLAKE_SITES,
    BEACONLAKE_GOALS / goals.json, cdk.json's sites and goals) only seeds it. The collector,
    the queries, the daily job and the dashboard all read this one catalogue. It is also the
    process's GoalStore."""

    def sites(self) -> list[Site]: ...

    def site(self, domain: str) -> Site | None: ...

    def add_site(self, domain: str, timezone: str = "UTC") -> Site: ...

    def update_site(
        self, domain: str, *, timezone: str | None = None, new_domain: str | None = None
    ) -> Site: ...

    def remove_site(self, domain: str) -> bool: ...

    def goals(self, site_id: str) -> tuple[Goal, ...]: ...

    def add_goal(self, site_id: str, goal: Goal) -> Goal:
        """Stores the goal with a new goal_id; an equal goal already there is returned as is
        (Plausible's PUT is find-or-create); another goal of that name is a 409."""
        ...

    def remove_goal(self, site_id: str, goal_id: str) -> bool: ...

    def funnels(self, site_id: str) -> tuple[SavedFunnel, ...]: ...

    def add_funnel(
        self, site_id: str, name: str, steps: Sequence[dict[str, Any]]
    ) -> SavedFunnel: ...

    def remove_funnel(self, site_id: str, funnel_id: str) -> bool: ...

    def annotations(self, site_id: str) -> tuple[Annotation, ...]: ...

    def add_annotation(self, site_id: str, day: date, text: str) -> Annotation: ...

    def remove_annotation(self, site_id: str, annotation_id: str) -> bool: ...

    def segments(self, site_id: str) -> tuple[Segment, ...]: ...

    def add_segment(self, site_id: str, name: str, filters: Sequence[Any]) -> Segment: ...

    def remove_segment(self, site_id: str, segment_id: str) -> bool: ...


@dataclass(frozen=True)
class Sighting:
    """The last time the collector saw a beacon for a host with one outcome: "accepted", or
    the reason it dropped it ("unknown_site", "bot", "localhost", "dnt", "gpc", ...)."""

    host: str
    outcome: str
    at: int  # epoch seconds


class Sightings(Protocol):
    """What the collector saw lately per host, for "verify installation". `note` is called on
    every beacon and must stay cheap: adapters keep at most one write per host and outcome a
    minute."""

    def note(self, host: str, outcome: str, at: int) -> None: ...

    def recent(self, host: str) -> list[Sighting]:
        """The newest sighting per outcome for the host (and its subdomains' `www.`)."""
        ...


class GoalStore(Protocol):
    """Each site's goals, from the operator's configuration. The query API, the behaviour
    views and the dashboard all read this one store, so the dashboard never offers a goal the
    queries reject: a change to the configuration reaches every reader at once."""

    def goals(self, site_id: str) -> tuple[Goal, ...]:
        """The site's goals as configured now (none: an empty tuple)."""
        ...
