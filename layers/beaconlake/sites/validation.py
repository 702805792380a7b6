"""What the catalogue accepts: each refusal is a CatalogueError naming the field and the rule
(a 400 for the client), never an exception a client could turn into a 5xx."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from beaconlake.domains import is_local_host, normalise_domain
from beaconlake.site_ports import CatalogueError, Goal


@dataclass(frozen=True)
class CatalogueLimits:
    """How much one site may hold, in one place (the API refuses more with 400, rule "limit")."""

    sites: int = 1000
    goals: int = 100
    funnels: int = 50
    annotations: int = 1000
    segments: int = 100
    name_chars: int = 100
    annotation_chars: int = 200
    domain_chars: int = 253
    path_chars: int = 2000
    event_chars: int = 120


CATALOGUE_LIMITS = CatalogueLimits()

_LABEL = r"[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?"
# a host name of at least two labels; the last one not all digits (no IPv4 address)
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+(?![0-9]+$){_LABEL}$")


def domain(raw: Any, field_name: str = "domain") -> str:
    """The site id for a domain: lower case, `www.` folded, a host name of two labels or more
    (the id is used in storage paths and SQL, so nothing else passes)."""
    if not isinstance(raw, str) or not raw.strip():
        raise CatalogueError(400, field_name, "the domain must be a non-empty string", "required")
    value = normalise_domain(raw)
    if (
        len(value) > CATALOGUE_LIMITS.domain_chars
        or not _DOMAIN.match(value)
        or is_local_host(value)
    ):
        raise CatalogueError(
            400, field_name, f"{raw!r} is not a domain name like example.com", "domain"
        )
    return value


def timezone(raw: Any) -> str:
    """An IANA time zone name ("Europe/Berlin"); "UTC" when none is given."""
    if raw is None or raw == "":
        return "UTC"
    if isinstance(raw, str) and raw.strip() and ".." not in raw and not raw.startswith("/"):
        try:
            ZoneInfo(raw.strip())
            return raw.strip()
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise CatalogueError(
        400, "timezone", f"{raw!r} is not an IANA time zone such as Europe/Berlin", "iana_zone"
    )


def name(raw: Any, field_name: str = "name") -> str:
    most = CATALOGUE_LIMITS.name_chars
    if not isinstance(raw, str) or not raw.strip():
        raise CatalogueError(
            400, field_name, f"{field_name} must be a non-empty string", "required"
        )
    if len(raw.strip()) > most:
        raise CatalogueError(
            400, field_name, f"{field_name} must be at most {most} characters", "max_chars"
        )
    return raw.strip()


def annotation_text(raw: Any) -> str:
    most = CATALOGUE_LIMITS.annotation_chars
    if not isinstance(raw, str) or not raw.strip():
        raise CatalogueError(400, "text", "text must be a non-empty string", "required")
    if len(raw.strip()) > most:
        raise CatalogueError(400, "text", f"text must be at most {most} characters", "max_chars")
    return raw.strip()


def day(raw: Any) -> date:
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise CatalogueError(400, "date", f"{raw!r} is not a date (YYYY-MM-DD)", "date") from None


def _currency(raw: Any) -> str | None:
    if raw is None or raw == "":
        return None
    from beaconlake.ingest.payload import currencies

    if not isinstance(raw, str) or raw.upper() not in currencies():
        raise CatalogueError(400, "currency", f"{raw!r} is not an ISO 4217 currency", "iso4217")
    return raw.upper()


def goal(raw: Goal) -> Goal:
    """A goal as stored: a name, exactly one of an event name or a page path (`*` wildcard)."""
    goal_name = name(raw.name, "display_name")
    if (raw.event is None) == (raw.page is None):
        raise CatalogueError(
            400, "goal_type", "a goal is an event name or a page path, exactly one", "one_of"
        )
    if raw.event is not None:
        if (
            not isinstance(raw.event, str)
            or not 1 <= len(raw.event) <= CATALOGUE_LIMITS.event_chars
        ):
            raise CatalogueError(
                400,
                "event_name",
                f"event_name must be 1-{CATALOGUE_LIMITS.event_chars} characters",
                "max_chars",
            )
        return Goal(goal_name, event=raw.event, currency=_currency(raw.currency))
    page = raw.page
    if (
        not isinstance(page, str)
        or not page.startswith("/")
        or len(page) > CATALOGUE_LIMITS.path_chars
    ):
        raise CatalogueError(400, "page_path", "page_path must be a path starting with /", "path")
    if raw.currency:
        raise CatalogueError(400, "currency", "only an event goal has a currency", "event_only")
    return Goal(goal_name, page=page)


def funnel_steps(steps: Sequence[Any]) -> tuple[dict[str, Any], ...]:
    """The steps of a /api/v2/funnel body, checked by the funnel's own parser."""
    from beaconlake.stats.behaviour_query import MAX_FUNNEL_STEPS, parse_steps
    from beaconlake.stats.query import QueryError

    raw = list(steps) if isinstance(steps, (list, tuple)) else steps
    try:
        parse_steps(raw, MAX_FUNNEL_STEPS)
    except QueryError as exc:
        raise CatalogueError(400, exc.field, exc.message, exc.rule or "funnel_step") from None
    return tuple(dict(s) for s in raw)


def segment_filters(filters: Sequence[Any]) -> tuple[Any, ...]:
    """Filters in the /api/v2/query form, checked by the query's own parser."""
    from beaconlake.stats.query import QueryError
    from beaconlake.stats.query_parser import parse_filters

    raw = list(filters) if isinstance(filters, (list, tuple)) else filters
    if not isinstance(raw, list) or not raw:
        raise CatalogueError(400, "filters", "filters must be a non-empty list", "required")
    try:
        parse_filters(raw)
    except QueryError as exc:
        raise CatalogueError(400, exc.field, exc.message, exc.rule or "filter") from None
    return tuple(raw)


def at_most(count: int, most: int, what: str) -> None:
    if count >= most:
        raise CatalogueError(400, what, f"a site holds at most {most} {what}", "limit")
