"""`GET /api/v1/stats/aggregate|timeseries|breakdown`: Plausible's Stats API v1, translated
onto the v2 query (`stats.legacy`) and answered in v1's shapes (`stats.service`); and
`GET /api/v1/stats/realtime/visitors`, the visitors of the last 5 minutes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from beaconlake.stats import behaviour, legacy, service
from beaconlake.stats.query import INTERVALS, MAX_LIMIT
from beaconlake.stats.registry_privacy import blank_realtime, blank_v1
from beaconlake.web.auth import Key
from beaconlake.web.sites_access import STATS_SCOPE

router = APIRouter(tags=["stats"], dependencies=STATS_SCOPE)

SiteId = Annotated[str, Query(min_length=1, max_length=253, description="The site's domain")]
Period = Annotated[str, Query(description=", ".join(legacy.PERIODS))]
DateParam = Annotated[
    date | None,
    Query(alias="date", ge=date(2000, 1, 1), le=date(2999, 12, 31), description="Reference day"),
]
FromParam = Annotated[str | None, Query(alias="from", description="First day, with custom")]
ToParam = Annotated[str | None, Query(alias="to", description="Last day, with custom")]
Metrics = Annotated[str | None, Query(description="Comma-separated metrics")]
Filters = Annotated[str | None, Query(description="e.g. event:page==/blog;visit:source!=Google")]


def v1_request(
    reader: Key,
    site_id: SiteId,
    period: Period = "30d",
    date_: DateParam = None,
    from_: FromParam = None,
    to: ToParam = None,
    metrics: Metrics = None,
    filters: Filters = None,
) -> legacy.V1Request:
    """The parameters every v1 route takes, the site's access checked."""
    return legacy.V1Request(
        site_id=reader.site(site_id),
        period=period,
        date=date_,
        start=from_,
        end=to,
        metrics=metrics,
        filters=filters,
    )


V1Params = Annotated[legacy.V1Request, Depends(v1_request)]


def _answer(reader: Key, results: Any) -> dict[str, Any]:
    """`results`, with what the privacy mode makes unavailable null and named in `meta`."""
    meta = blank_v1(results, reader.ports.settings().privacy)
    return {"results": results, "meta": meta} if meta else {"results": results}


@router.get("/api/v1/stats/aggregate")
def aggregate(reader: Key, r: V1Params) -> dict[str, Any]:
    """Totals over the period, e.g. `metrics=visitors,visits,pageviews,bounce_rate`."""
    q = legacy.translate(r, reader.goals(r.site_id), "aggregate", reader.timezone(r.site_id))
    return _answer(reader, service.aggregate(reader.engine(), q))


@router.get("/api/v1/stats/timeseries")
def timeseries(
    reader: Key,
    r: V1Params,
    interval: Annotated[str | None, Query(description=", ".join(INTERVALS))] = None,
) -> dict[str, Any]:
    """One row per hour/day/week/month bucket, with no gaps."""
    r = replace(r, interval=interval)
    q = legacy.translate(r, reader.goals(r.site_id), "timeseries", reader.timezone(r.site_id))
    return _answer(reader, service.timeseries(reader.engine(), q))


@router.get("/api/v1/stats/breakdown")
def breakdown(
    reader: Key,
    r: V1Params,
    property: Annotated[str, Query(description="e.g. visit:source, event:page")],
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> dict[str, Any]:
    """Top values of a property, ordered by the first metric."""
    r = replace(r, property=property, limit=limit, page=page)
    q = legacy.translate(r, reader.goals(r.site_id), "breakdown", reader.timezone(r.site_id))
    return _answer(reader, legacy.v1_rows(service.breakdown(reader.engine(), q)))


@router.get("/api/v1/stats/realtime/visitors")
def realtime_visitors(reader: Key, site_id: SiteId) -> int | None:
    """Visitors in the last 5 minutes, as a bare number (as Plausible answers). Locally this
    includes events still in the write buffer; on AWS events count once Firehose delivers
    them (docs/ANALYTICS.md). `null` when timestamps are rounded to the hour
    (docs/PRIVACY.md)."""
    site = reader.site(site_id)
    now, pending = datetime.now(UTC), reader.ports.pending()
    answer = behaviour.run_realtime(reader.engine(), site, now, pending, reader.timezone(site))
    answer = blank_realtime(answer, reader.ports.settings().privacy)
    return None if answer["visitors"] is None else int(answer["visitors"])
