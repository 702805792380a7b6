"""`POST /api/v2/query`: Plausible's Stats API v2 query, with comparisons; JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import StreamingResponse

from beaconlake.stats.exports import csv_text
from beaconlake.stats.query_parser import QueryBody, stats_query
from beaconlake.stats.query_runner import run_query
from beaconlake.stats.registry_privacy import blank_unavailable
from beaconlake.web import small_counts
from beaconlake.web.auth import Key
from beaconlake.web.sites_access import STATS_SCOPE

router = APIRouter(tags=["query v2"], dependencies=STATS_SCOPE)

EXAMPLE: dict[str, Any] = {
    "site_id": "example.com",
    "metrics": ["visitors", "visits", "bounce_rate"],
    "date_range": "30d",
    "dimensions": ["visit:source"],
    "filters": [["is", "visit:device", ["mobile"]]],
    "order_by": [["visitors", "desc"]],
    "include": {"total_rows": True, "comparisons": {"mode": "previous_period"}},
    "pagination": {"limit": 10, "offset": 0},
}


@router.post("/api/v2/query", response_model=None)
def query(
    reader: Key,
    body: Annotated[QueryBody, Body(openapi_examples={"sources": {"value": EXAMPLE}})],
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> dict[str, Any] | StreamingResponse:
    """Metrics over a range, optionally split by dimensions, filtered, compared.

    `format=csv` returns the same result as CSV (one column per dimension and metric)."""
    site = reader.site(body.site_id)
    body, asked = small_counts.widened(body, reader.min_count)
    q = stats_query(body, reader.goals(site), reader.timezone(site))
    result = small_counts.query_answer(
        run_query(reader.engine(), q, body.include, body.date), reader.min_count, asked
    )
    result = blank_unavailable(result, reader.ports.settings().privacy)
    if format == "json":
        return result
    header = [*q.group_by(), *asked]
    rows = [header] + [r["dimensions"] + r["metrics"] for r in result["results"]]
    return StreamingResponse(
        csv_text(rows),
        media_type="text/csv",
        headers={"content-disposition": f'attachment; filename="{q.site_id}-query.csv"'},
    )
