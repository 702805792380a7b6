"""How the catalogue's items are stored: one record per item in the generic record store
(ports.RecordStore), kind "site" (id: the domain) or "goal", "funnel", "annotation",
"segment" (id: "<site>#<item id>"), plus "seed" markers saying which configured item was
added once (so an item the owner removed is not added again)."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from beaconlake.site_ports import Annotation, Goal, SavedFunnel, Segment, Site

SITE, GOAL, FUNNEL, ANNOTATION, SEGMENT, SEED = (
    "site",
    "goal",
    "funnel",
    "annotation",
    "segment",
    "seed",
)
PER_SITE_KINDS = (GOAL, FUNNEL, ANNOTATION, SEGMENT)


def item_key(site_id: str, item_id: str) -> str:
    return f"{site_id}#{item_id}"


def split_key(key: str) -> tuple[str, str]:
    site, _, item = key.partition("#")
    return site, item


def derived_id(site_id: str, name: str) -> str:
    """A stable id for a configured goal: the same site and name give the same id in every
    process and on every deploy."""
    return hashlib.sha256(f"{site_id}\n{name}".encode()).hexdigest()[:12]


def site_record(site: Site) -> dict[str, Any]:
    return {"domain": site.domain, "timezone": site.timezone, "created": site.created}


def site_of(record: dict[str, Any]) -> Site:
    return Site(
        str(record["domain"]), str(record.get("timezone") or "UTC"), int(record.get("created", 0))
    )


def goal_record(goal: Goal, order: int) -> dict[str, Any]:
    return {
        "goal_id": goal.goal_id,
        "name": goal.name,
        "event": goal.event,
        "page": goal.page,
        "currency": goal.currency,
        "order": order,
    }


def goal_of(record: dict[str, Any]) -> Goal:
    return Goal(
        name=str(record["name"]),
        event=record.get("event"),
        page=record.get("page"),
        currency=record.get("currency"),
        goal_id=str(record["goal_id"]),
    )


def funnel_record(funnel: SavedFunnel, order: int) -> dict[str, Any]:
    return {"name": funnel.name, "steps": list(funnel.steps), "order": order}


def funnel_of(item_id: str, record: dict[str, Any]) -> SavedFunnel:
    return SavedFunnel(item_id, str(record["name"]), tuple(record.get("steps") or ()))


def annotation_record(annotation: Annotation, order: int) -> dict[str, Any]:
    return {"day": annotation.day.isoformat(), "text": annotation.text, "order": order}


def annotation_of(item_id: str, record: dict[str, Any]) -> Annotation:
    return Annotation(item_id, date.fromisoformat(str(record["day"])), str(record["text"]))


def segment_record(segment: Segment, order: int) -> dict[str, Any]:
    return {"name": segment.name, "filters": list(segment.filters), "order": order}


def segment_of(item_id: str, record: dict[str, Any]) -> Segment:
    return Segment(item_id, str(record["name"]), tuple(record.get("filters") or ()))


class MemoryRecords:
    """A record store in this process's memory: the catalogue of a process configured with
    no store (an AWS function without a sessions table), seeded from the configuration."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], dict[str, Any]] = {}

    def put(self, kind: str, item_id: str, record: dict[str, Any], expires_at: int | None) -> None:
        self._rows[(kind, item_id)] = dict(record)

    def get(self, kind: str, item_id: str) -> dict[str, Any] | None:
        row = self._rows.get((kind, item_id))
        return dict(row) if row is not None else None

    def delete(self, kind: str, item_id: str) -> bool:
        return self._rows.pop((kind, item_id), None) is not None

    def list(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return sorted((i, dict(r)) for (k, i), r in self._rows.items() if k == kind)
