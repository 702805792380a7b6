"""The management API, shaped as Plausible's Sites API (same paths, bodies and answers, so its
clients work): sites, goals and shared links. Beaconlake's own additions in the same style
(saved funnels, annotations, segments, installation check, unknown hosts) are in
`web.sites_extras`. Scopes and site checks: `web.sites_access`; docs/MANAGEMENT_API.md."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar

from aws_lambda_powertools import Logger
from fastapi import APIRouter, Path, Query, Request

from beaconlake.dashboard.logins import create_share, list_shares
from beaconlake.site_ports import CatalogueError, Goal, Site
from beaconlake.web import sites_extras
from beaconlake.web.sites_access import (
    RESPONSES,
    ManagementRoute,
    Provisioner,
    SiteReader,
    allowed,
    site_of,
)
from beaconlake.web.sites_models import (
    PAGE_LIMIT,
    Deleted,
    GoalBody,
    GoalCreated,
    GoalList,
    GoalOut,
    Meta,
    SharedLinkBody,
    SharedLinkOut,
    SiteCreate,
    SiteDetail,
    SiteList,
    SiteOut,
    SiteRef,
    SiteUpdate,
)

logger = Logger(service="beaconlake-stats")
router = APIRouter(tags=["sites"], route_class=ManagementRoute, responses=RESPONSES)
SITES = "/api/v1/sites"
T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=PAGE_LIMIT, description="Page size (default 100)")]
Cursor = Annotated[str | None, Query(max_length=400, description="A cursor from `meta`")]
SitePath = Annotated[str, Path(min_length=1, max_length=253, description="The site's domain")]
SiteParam = Annotated[str, Query(min_length=1, max_length=253, description="The site's domain")]
# DELETE's site_id: in the body, as Plausible's docs send it, or in the query string
SiteQuery = Annotated[str | None, Query(min_length=1, max_length=253)]


# ---- pages of a list (Plausible's cursors: `after` and `before`, opaque) --------------------


def _cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def _uncursor(value: str, field_name: str) -> str:
    try:
        padded = value + "=" * (-len(value) % 4)
        key = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        key = ""
    if not key or _cursor(key) != value:
        raise CatalogueError(400, field_name, "not a cursor from a previous page", "cursor")
    return key


def page(
    items: Sequence[T], key: Callable[[T], str], limit: int, after: str | None, before: str | None
) -> tuple[list[T], Meta]:
    """One page of `items` (ordered by `key`) after or before a cursor."""
    if after is not None and before is not None:
        raise CatalogueError(400, "before", "send after or before, not both", "cursor")
    ordered = sorted(items, key=key)
    if after is not None:
        start = _uncursor(after, "after")
        chosen = [i for i in ordered if key(i) > start]
        rows, more_before = chosen[:limit], len(chosen) < len(ordered)
        more_after = len(chosen) > limit
    elif before is not None:
        end = _uncursor(before, "before")
        chosen = [i for i in ordered if key(i) < end]
        rows, more_after = chosen[-limit:], len(chosen) < len(ordered)
        more_before = len(chosen) > limit
    else:
        rows, more_before, more_after = ordered[:limit], False, len(ordered) > limit
    meta = Meta(
        after=_cursor(key(rows[-1])) if rows and more_after else None,
        before=_cursor(key(rows[0])) if rows and more_before else None,
        limit=limit,
    )
    return rows, meta


# ---- sites ---------------------------------------------------------------------------------


def site_json(site: Site) -> SiteOut:
    return SiteOut(domain=site.domain, timezone=site.timezone)


@router.get(SITES)
def list_sites(
    reader: SiteReader, limit: Limit = PAGE_LIMIT, after: Cursor = None, before: Cursor = None
) -> SiteList:
    """The sites this key may read, by domain, a page at a time."""
    sites = [s for s in reader.ports.catalogue().sites() if reader.key.allows(s.domain)]
    rows, meta = page(sites, lambda s: s.domain, limit, after, before)
    return SiteList(sites=[site_json(s) for s in rows], meta=meta)


@router.post(SITES)
def create_site(body: SiteCreate, reader: Provisioner) -> SiteOut:
    """Add a site (409 if it exists); beacons for it are accepted from now on."""
    domain = allowed(reader, body.domain)
    site = reader.ports.catalogue().add_site(domain, body.timezone or "UTC")
    logger.info("site added", extra={"site": site.domain})
    return site_json(site)


# ---- shared links --------------------------------------------------------------------------


@router.put(SITES + "/shared-links")
def shared_link(body: SharedLinkBody, reader: Provisioner, request: Request) -> SharedLinkOut:
    """Find or create the site's public (no password) shared link of this name."""
    site = site_of(reader, body.site_id).domain
    logins = reader.ports.logins()
    found = [
        s.path
        for s in list_shares(logins, reader.key)
        if s.site == site and s.label == body.name and not s.has_password and s.path
    ]
    path = found[0] if found else create_share(logins, site, None, body.name)[1].path
    if not found:
        logger.info("shared link created through the API", extra={"site": site})
    return SharedLinkOut(name=body.name, url=str(request.base_url).rstrip("/") + str(path))


# ---- goals ---------------------------------------------------------------------------------


def goal_json(goal: Goal) -> GoalOut:
    return GoalOut(
        id=goal.goal_id,
        display_name=goal.name,
        goal_type="page" if goal.event is None else "event",
        event_name=goal.event,
        page_path=goal.page,
        currency=goal.currency,
    )


def _goal(body: GoalBody) -> Goal:
    """The goal a body asks for: an event name with goal_type event, a path with page."""
    if body.goal_type == "event":
        if body.event_name is None or body.page_path is not None:
            raise CatalogueError(
                400, "event_name", "an event goal needs event_name (and no page_path)", "required"
            )
        name = body.display_name or body.event_name
        return Goal(name=name.strip(), event=body.event_name, currency=body.currency)
    if body.page_path is None or body.event_name is not None:
        raise CatalogueError(
            400, "page_path", "a page goal needs page_path (and no event_name)", "required"
        )
    if body.currency is not None:
        raise CatalogueError(400, "currency", "only an event goal can be a revenue goal", "event")
    return Goal(name=(body.display_name or f"Visit {body.page_path}").strip(), page=body.page_path)


@router.get(SITES + "/goals")
def list_goals(
    reader: SiteReader,
    site_id: SiteParam,
    limit: Limit = PAGE_LIMIT,
    after: Cursor = None,
    before: Cursor = None,
) -> GoalList:
    site = site_of(reader, site_id).domain
    goals = reader.ports.catalogue().goals(site)
    rows, meta = page(goals, lambda g: g.goal_id, limit, after, before)
    return GoalList(goals=[goal_json(g) for g in rows], meta=meta)


@router.put(SITES + "/goals")
def put_goal(body: GoalBody, reader: Provisioner) -> GoalCreated:
    """Find or create a goal: the same goal again is answered as it is; another goal of the
    same display name is a 409."""
    site = site_of(reader, body.site_id).domain
    goal = reader.ports.catalogue().add_goal(site, _goal(body))
    return GoalCreated(domain=site, **goal_json(goal).model_dump())


def site_ref(body: SiteRef | None, site_id: str | None) -> str:
    """A DELETE's site_id: from its body or its query string."""
    value = body.site_id if body is not None else site_id
    if value is None:
        raise CatalogueError(400, "site_id", "site_id is required", "required")
    return value


@router.delete(SITES + "/goals/{goal_id}")
def delete_goal(
    goal_id: Annotated[str, Path(min_length=1, max_length=100)],
    reader: Provisioner,
    body: SiteRef | None = None,
    site_id: SiteQuery = None,
) -> Deleted:
    site = site_of(reader, site_ref(body, site_id)).domain
    if not reader.ports.catalogue().remove_goal(site, goal_id):
        raise CatalogueError(404, "goal_id", "goal could not be found", "exists")
    return Deleted(deleted=True)


# ---- Beaconlake's additions, then one site (after every fixed path: /goals is not a site) --

router.include_router(sites_extras.router)


@router.get(SITES + "/{site_id}")
def get_site(site_id: SitePath, reader: SiteReader) -> SiteDetail:
    """The site. Beaconlake records every custom property sent (there is no allow-list), so
    `custom_properties` is empty."""
    site = site_of(reader, site_id)
    return SiteDetail(domain=site.domain, timezone=site.timezone, custom_properties=[])


@router.put(SITES + "/{site_id}")
def update_site(site_id: SitePath, body: SiteUpdate, reader: Provisioner) -> SiteOut:
    """Change the time zone or the domain (its events stay under the old domain's id)."""
    site = site_of(reader, site_id)
    new_domain = allowed(reader, body.domain) if body.domain is not None else None
    changed = reader.ports.catalogue().update_site(
        site.domain, timezone=body.timezone or None, new_domain=new_domain
    )
    return site_json(changed)


@router.delete(SITES + "/{site_id}")
def delete_site(site_id: SitePath, reader: Provisioner) -> Deleted:
    """Stop accepting beacons for the site and forget its goals, funnels, annotations and
    segments. Its stored events stay until erased (`beaconlake erase`) or aged out."""
    site = site_of(reader, site_id)
    reader.ports.catalogue().remove_site(site.domain)
    logger.info("site removed", extra={"site": site.domain})
    return Deleted(deleted=True)
