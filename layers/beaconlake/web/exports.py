"""`GET /api/v2/export/events`: a range's raw (anonymous) events, streamed as CSV or NDJSON,
or (CSV, where the engine writes exports to files: Athena) links to gzip-compressed files."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from beaconlake.stats import exports
from beaconlake.stats.query import parse_date_range
from beaconlake.web.auth import Key
from beaconlake.web.sites_access import STATS_SCOPE

router = APIRouter(tags=["query v2"], dependencies=STATS_SCOPE)

DateRangeParam = Annotated[str, Query(description="'7d', or 'YYYY-MM-DD,YYYY-MM-DD'")]


def date_range_param(value: str) -> str | list[str]:
    """A range as a query parameter: a relative name, or `from,to`."""
    return value.split(",") if "," in value else value


@router.get("/api/v2/export/events", response_model=None)
def export_events(
    reader: Key,
    site_id: Annotated[str, Query(min_length=1, max_length=253)],
    date_range: DateRangeParam = "7d",
    format: Annotated[Literal["csv", "ndjson"], Query()] = "csv",
) -> StreamingResponse | dict[str, Any]:
    """Raw (anonymous) events of a range, oldest first: streamed, or (CSV, where the engine
    writes exports to files: Athena) links to gzip-compressed CSV files, valid 15 minutes."""
    site = reader.site(site_id)
    days = parse_date_range(date_range_param(date_range)).in_zone(reader.timezone(site))
    engine = reader.engine()
    if format == "csv":
        files = exports.export_files(engine, site, days)
        if files is not None:
            return exports.files_answer(site, days, files)
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(
        exports.event_chunks(engine, site, days, format),
        media_type=media,
        headers={"content-disposition": f'attachment; filename="{site}-events.{format}"'},
    )
