"""Downsampled retention, on the query side: retention deletes a day's raw events and keeps
its daily rollups (one row per visit, and per visitor and page: beaconlake.stats.sql), so a
range reaching back past the raw data is answered from the rollups where they hold what the
query asks for, says so in `meta`, and is refused with a 400 (rule `raw_data_expired`)
where they do not: funnels, journeys, paths, sequences and retention cohorts (they follow a
visitor's events in order), custom properties, and event-level dimensions and filters that
are not kept per visit or per visitor and page.

The engine reports the days whose raw events are gone in the Rollup it hands back
(`Rollup.raw_expired`)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from beaconlake.ports import QueryEngine, Rollup
from beaconlake.stats import monthly
from beaconlake.stats.query import DateRange, QueryError, StatsQuery
from beaconlake.stats.sql import plan

RULE = "raw_data_expired"
DAILY = "daily_rollups"


def expired_error(site_id: str, days: tuple[date, date], what: str) -> QueryError:
    first, last = days
    return QueryError(
        "date_range",
        f"the raw events of {site_id} from {first} to {last} were deleted by retention and "
        f"only their daily rollups are kept; {what} need the raw events: choose a range "
        f"starting on {last + timedelta(days=1)} or later",
        rule=RULE,
    )


def from_rollups(q: StatsQuery) -> bool:
    """The query's statement reads the rollups for every rolled-up day of its range (the
    choice beaconlake.stats.sql.build makes: visit rows, or page rows in UTC, whose edges
    in another zone come from events)."""
    if plan.answerable_from_visits(q, rolled_up=True):
        return True
    return not q.date_range.local and plan.answerable_from_pages(q)


def check_query(q: StatsQuery, rollup: Rollup | None) -> dict[str, Any]:
    """The `meta` of a stats query over days whose raw events are gone ({} when none are),
    or a QueryError when the rollups cannot answer it."""
    if rollup is None or rollup.raw_expired is None:
        return {}
    if not from_rollups(q):
        raise expired_error(
            q.site_id, rollup.raw_expired, "the query's metrics, dimensions or filters"
        )
    first, last = rollup.raw_expired
    return {"answered_from": DAILY, "rollup_days": [first.isoformat(), last.isoformat()]}


def require_raw(engine: QueryEngine, site_id: str, date_range: DateRange, what: str) -> None:
    """Refuse (400) a view that reads raw events when part of its range has none left."""
    first, last = date_range.dt_days()
    months = monthly.monthly_months(engine, site_id, first, last)
    if months:
        raise monthly.refuse_raw(site_id, months, what)
    rollup = engine.session_rollup(site_id, first, last)
    if rollup is not None and rollup.raw_expired is not None:
        raise expired_error(site_id, rollup.raw_expired, what)
