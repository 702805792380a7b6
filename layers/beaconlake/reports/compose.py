"""A report composed once from the stats queries (the very ones `POST /api/v2/query`
answers): the period's visitors, visits and pageviews against the previous period, and the
top pages and sources, all in the site's time zone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from beaconlake.model import Event
from beaconlake.ports import QueryEngine
from beaconlake.site_ports import Site
from beaconlake.stats.behaviour import run_realtime
from beaconlake.stats.query import local_today
from beaconlake.stats.query_parser import QueryBody, checked, stats_query
from beaconlake.stats.query_runner import run_query

PERIODS = ("week", "month")
METRICS = ("visitors", "visits", "pageviews")
TOP = 5


@dataclass(frozen=True)
class Figure:
    metric: str
    current: int
    previous: int
    change: float | int | None  # percent, as /api/v2/query's comparison answers it


@dataclass(frozen=True)
class Report:
    site_id: str
    timezone: str
    period: str
    first: date
    last: date
    previous_first: date
    previous_last: date
    figures: tuple[Figure, ...]
    top_pages: tuple[tuple[str, int], ...]
    top_sources: tuple[tuple[str, int], ...]


def period_days(period: str, today: date) -> tuple[date, date, date, date]:
    """The last complete week (Monday to Sunday) or calendar month before `today`, and the
    one before it."""
    if period == "week":
        first = today - timedelta(days=today.weekday() + 7)
        return first, first + timedelta(days=6), first - timedelta(days=7), first - timedelta(1)
    if period == "month":
        last = today.replace(day=1) - timedelta(days=1)
        first = last.replace(day=1)
        previous_last = first - timedelta(days=1)
        return first, last, previous_last.replace(day=1), previous_last
    raise ValueError(f"period must be one of {', '.join(PERIODS)}")


def query_bodies(site_id: str, days: tuple[date, date, date, date]) -> dict[str, dict[str, Any]]:
    """The /api/v2/query bodies a report is made of (tests send the same ones over HTTP)."""
    first, last, previous_first, previous_last = (d.isoformat() for d in days)
    span = [first, last]
    top = {"order_by": [["visitors", "desc"]], "pagination": {"limit": TOP, "offset": 0}}
    return {
        "totals": {
            "site_id": site_id,
            "metrics": list(METRICS),
            "date_range": span,
            "include": {
                "comparisons": {"mode": "custom", "date_range": [previous_first, previous_last]}
            },
        },
        "pages": {
            "site_id": site_id,
            "metrics": ["visitors"],
            "date_range": span,
            "dimensions": ["event:page"],
            **top,
        },
        "sources": {
            "site_id": site_id,
            "metrics": ["visitors"],
            "date_range": span,
            "dimensions": ["visit:source"],
            **top,
        },
    }


def _answer(engine: QueryEngine, raw: dict[str, Any], timezone: str) -> dict[str, Any]:
    body: QueryBody = checked(QueryBody, raw)
    return run_query(engine, stats_query(body, (), timezone), body.include, body.date)


def _rows(answer: dict[str, Any]) -> tuple[tuple[str, int], ...]:
    return tuple((str(r["dimensions"][0]), int(r["metrics"][0])) for r in answer["results"])


def compose(engine: QueryEngine, site: Site, period: str, now: datetime) -> Report:
    days = period_days(period, local_today(site.timezone, now))
    bodies = query_bodies(site.domain, days)
    totals = _answer(engine, bodies["totals"], site.timezone)["results"][0]
    previous = totals["comparison"]
    figures = tuple(
        Figure(m, int(totals["metrics"][i] or 0), int(previous["metrics"][i] or 0), c)
        for i, (m, c) in enumerate(zip(METRICS, previous["change"], strict=True))
    )
    return Report(
        site.domain,
        site.timezone,
        period,
        *days,
        figures=figures,
        top_pages=_rows(_answer(engine, bodies["pages"], site.timezone)),
        top_sources=_rows(_answer(engine, bodies["sources"], site.timezone)),
    )


def current_visitors(
    engine: QueryEngine, site: Site, now: datetime, pending: Sequence[Event]
) -> int:
    """Visitors in the last 5 minutes, as `GET /api/v1/stats/realtime/visitors` counts them."""
    return int(run_realtime(engine, site.domain, now, pending, site.timezone)["visitors"])
