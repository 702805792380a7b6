"""Beaconlake's additions to the management API, in the style of Plausible's Sites API: saved
funnels, annotations and segments per site, the installation check of a site and the hosts
that send beacons but are not sites. Included by `web.sites_api` (before its `/{site_id}`
routes, which would otherwise take `/funnels` for a site)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from beaconlake.site_ports import Annotation, CatalogueError, SavedFunnel, Segment, Sighting
from beaconlake.stats.query import GOAL_DIMENSION, And, Filter, FilterNode, HasDone, Not, Or
from beaconlake.stats.query_parser import parse_filters
from beaconlake.web.sites_access import (
    RESPONSES,
    ManagementRoute,
    NoteReader,
    Provisioner,
    SiteReader,
    site_of,
)
from beaconlake.web.sites_models import (
    AnnotationBody,
    AnnotationList,
    AnnotationOut,
    Deleted,
    Drop,
    FunnelList,
    FunnelOut,
    HostList,
    HostSeen,
    Installation,
    SavedFunnelBody,
    SegmentBody,
    SegmentList,
    SegmentOut,
    SiteRef,
)

router = APIRouter(tags=["sites"], route_class=ManagementRoute, responses=RESPONSES)
SITES = "/api/v1/sites"
RECEIVING_SECONDS = 24 * 3600
ACCEPTED = "accepted"
UNKNOWN_SITE = "unknown_site"
EVERY_HOST = "*"  # Sightings.recent's "every host"
# what a site owner reads next to a dropped beacon's reason
EXPLANATIONS = {
    "unknown_site": "beacons for this host arrived but it is not a site here: add it",
    "bot": "the beacon came from a bot or crawler (by its User-Agent), which is not counted",
    "localhost": "the beacon came from a page on localhost (a development copy): not counted",
    "dnt": "the visitor's browser asks not to be tracked (Do Not Track), which is honoured",
    "gpc": "the visitor's browser sends Global Privacy Control, which is honoured",
}
ItemId = Annotated[str, Path(min_length=1, max_length=100)]
SiteParam = Annotated[str, Query(min_length=1, max_length=253, description="The site's domain")]
SiteQuery = Annotated[str | None, Query(min_length=1, max_length=253)]


def _site_ref(body: SiteRef | None, site_id: str | None) -> str:
    value = body.site_id if body is not None else site_id
    if value is None:
        raise CatalogueError(400, "site_id", "site_id is required", "required")
    return value


def _gone(kind: str) -> CatalogueError:
    return CatalogueError(404, f"{kind}_id", f"{kind} could not be found", "exists")


# ---- saved funnels -------------------------------------------------------------------------


def funnel_json(funnel: SavedFunnel) -> FunnelOut:
    return FunnelOut(id=funnel.funnel_id, name=funnel.name, steps=list(funnel.steps))


@router.get(SITES + "/funnels")
def list_funnels(reader: SiteReader, site_id: SiteParam) -> FunnelList:
    site = site_of(reader, site_id).domain
    return FunnelList(funnels=[funnel_json(f) for f in reader.ports.catalogue().funnels(site)])


@router.put(SITES + "/funnels")
def put_funnel(body: SavedFunnelBody, reader: Provisioner) -> FunnelOut:
    """Save a funnel: steps as a /api/v2/funnel body takes them."""
    site = site_of(reader, body.site_id).domain
    return funnel_json(reader.ports.catalogue().add_funnel(site, body.name.strip(), body.steps))


@router.delete(SITES + "/funnels/{funnel_id}")
def delete_funnel(
    funnel_id: ItemId, reader: Provisioner, body: SiteRef | None = None, site_id: SiteQuery = None
) -> Deleted:
    site = site_of(reader, _site_ref(body, site_id)).domain
    if not reader.ports.catalogue().remove_funnel(site, funnel_id):
        raise _gone("funnel")
    return Deleted(deleted=True)


# ---- annotations ---------------------------------------------------------------------------


def annotation_json(note: Annotation) -> AnnotationOut:
    return AnnotationOut(id=note.annotation_id, date=note.day, text=note.text)


@router.get(SITES + "/annotations")
def list_annotations(reader: NoteReader, site_id: SiteParam) -> AnnotationList:
    """A site's notes by day (a shared link may read its own site's)."""
    site = site_of(reader, site_id).domain
    notes = sorted(reader.ports.catalogue().annotations(site), key=lambda a: a.day)
    return AnnotationList(annotations=[annotation_json(a) for a in notes])


@router.put(SITES + "/annotations")
def put_annotation(body: AnnotationBody, reader: Provisioner) -> AnnotationOut:
    site = site_of(reader, body.site_id).domain
    note = reader.ports.catalogue().add_annotation(site, body.date, body.text.strip())
    return annotation_json(note)


@router.delete(SITES + "/annotations/{annotation_id}")
def delete_annotation(
    annotation_id: ItemId,
    reader: Provisioner,
    body: SiteRef | None = None,
    site_id: SiteQuery = None,
) -> Deleted:
    site = site_of(reader, _site_ref(body, site_id)).domain
    if not reader.ports.catalogue().remove_annotation(site, annotation_id):
        raise _gone("annotation")
    return Deleted(deleted=True)


# ---- segments ------------------------------------------------------------------------------


def _leaves(node: FilterNode) -> Iterator[Filter]:
    if isinstance(node, Filter):
        yield node
    elif isinstance(node, And | Or):
        for child in node.children:
            yield from _leaves(child)
    elif isinstance(node, Not | HasDone):
        yield from _leaves(node.child)


def segment_json(segment: Segment) -> SegmentOut:
    return SegmentOut(id=segment.segment_id, name=segment.name, filters=list(segment.filters))


@router.get(SITES + "/segments")
def list_segments(reader: SiteReader, site_id: SiteParam) -> SegmentList:
    site = site_of(reader, site_id).domain
    return SegmentList(segments=[segment_json(s) for s in reader.ports.catalogue().segments(site)])


@router.put(SITES + "/segments")
def put_segment(body: SegmentBody, reader: Provisioner) -> SegmentOut:
    """Save a named filter set: filters as a /api/v2/query body takes them, goals the site's."""
    site = site_of(reader, body.site_id).domain
    catalogue = reader.ports.catalogue()
    names = {g.name for g in catalogue.goals(site)}
    for leaf in (f for node in parse_filters(list(body.filters)) for f in _leaves(node)):
        unknown = [v for v in leaf.values if leaf.dimension == GOAL_DIMENSION and v not in names]
        if unknown:
            raise CatalogueError(
                400, "filters", f"unknown goal {unknown[0]!r} for this site", "goal"
            )
    return segment_json(catalogue.add_segment(site, body.name.strip(), body.filters))


@router.delete(SITES + "/segments/{segment_id}")
def delete_segment(
    segment_id: ItemId, reader: Provisioner, body: SiteRef | None = None, site_id: SiteQuery = None
) -> Deleted:
    site = site_of(reader, _site_ref(body, site_id)).domain
    if not reader.ports.catalogue().remove_segment(site, segment_id):
        raise _gone("segment")
    return Deleted(deleted=True)


# ---- what the collector saw ----------------------------------------------------------------


def _iso(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def installation(seen: list[Sighting], now: float) -> Installation:
    """ "receiving" after an accepted beacon in the last 24 h; else "dropped" if beacons were
    dropped, else "waiting"; each drop reason with a sentence a site owner understands."""
    accepted = [s.at for s in seen if s.outcome == ACCEPTED]
    last = max(accepted, default=None)
    drops = sorted((s for s in seen if s.outcome != ACCEPTED), key=lambda s: -s.at)
    status: Literal["waiting", "receiving", "dropped"] = "dropped" if drops else "waiting"
    if last is not None and now - last <= RECEIVING_SECONDS:
        status = "receiving"
    return Installation(
        status=status,
        last_event_at=_iso(last) if last is not None else None,
        drops=[
            Drop(
                reason=s.outcome,
                at=_iso(s.at),
                explanation=EXPLANATIONS.get(s.outcome, f"dropped by the collector ({s.outcome})"),
            )
            for s in drops
        ],
    )


@router.get(SITES + "/unknown-hosts")
def unknown_hosts(reader: SiteReader) -> HostList:
    """Hosts that sent beacons lately but are not sites (newest first), for a key that may
    read every site; another key gets an empty list."""
    if "*" not in reader.key.sites:
        return HostList(hosts=[])
    known = {s.domain for s in reader.ports.catalogue().sites()}
    seen = reader.ports.sightings().recent(EVERY_HOST)
    return HostList(
        hosts=[
            HostSeen(host=s.host, at=_iso(s.at))
            for s in sorted(seen, key=lambda s: -s.at)
            if s.outcome == UNKNOWN_SITE and s.host not in known
        ]
    )


@router.get(SITES + "/{site_id}/installation")
def check_installation(
    site_id: Annotated[str, Path(min_length=1, max_length=253)], reader: SiteReader
) -> Installation:
    """Whether the site's beacons arrive: "waiting" for the first, "receiving", or "dropped"
    with the reasons."""
    site = site_of(reader, site_id).domain
    return installation(reader.ports.sightings().recent(site), time.time())
