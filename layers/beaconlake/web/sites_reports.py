"""E-mail report settings per site, in the management API's style: `GET /api/v1/reports`
(`sites:read:*`) and `PUT /api/v1/reports` (`sites:provision:*`). The reports and alerts
themselves are sent by `beaconlake.reports.job` (docs/REPORTS.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from beaconlake.reports.book import MAX_RECIPIENTS, MAX_THRESHOLD, ReportBook, checked
from beaconlake.web.sites_access import RESPONSES, ManagementRoute, Provisioner, SiteReader, site_of

router = APIRouter(tags=["reports"], route_class=ManagementRoute, responses=RESPONSES)
REPORTS = "/api/v1/reports"


class ReportSettingsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site_id: str = Field(min_length=1, max_length=253)
    recipients: list[Annotated[str, Field(max_length=320)]] = Field(
        default_factory=list, max_length=MAX_RECIPIENTS, description="E-mail addresses"
    )
    weekly: bool = Field(False, description="A summary each Monday for the past week")
    monthly: bool = Field(False, description="A summary on the 1st for the past month")
    alert_threshold: int | None = Field(
        None, ge=1, le=MAX_THRESHOLD, description="Alert above this many current visitors"
    )


class ReportSettingsOut(BaseModel):
    site_id: str
    recipients: list[str]
    weekly: bool
    monthly: bool
    alert_threshold: int | None


@router.get(REPORTS)
def get_reports(
    reader: SiteReader, site_id: Annotated[str, Query(min_length=1, max_length=253)]
) -> ReportSettingsOut:
    """A site's report recipients, which summaries it gets and its alert threshold."""
    site = site_of(reader, site_id).domain
    settings = ReportBook(reader.ports.logins()).settings(site)
    return ReportSettingsOut(site_id=site, **settings.as_dict())


@router.put(REPORTS)
def put_reports(body: ReportSettingsBody, reader: Provisioner) -> ReportSettingsOut:
    """Replace a site's report settings (no recipients and nothing on: no mail)."""
    site = site_of(reader, body.site_id).domain
    settings = checked(body.recipients, body.weekly, body.monthly, body.alert_threshold)
    ReportBook(reader.ports.logins()).save(site, settings)
    return ReportSettingsOut(site_id=site, **settings.as_dict())
