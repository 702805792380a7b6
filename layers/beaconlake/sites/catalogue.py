"""The site catalogue (ports.SiteCatalogue), written once over the generic record store
(ports.RecordStore: a 0600 JSON file locally, the sessions table in DynamoDB on AWS).

Reads come from an in-process snapshot, so the collector can ask for the site list on every
beacon: a kind is read again from the store when its snapshot is older than `ttl_seconds`
(AWS: 60 s), or, when a `version` is given (the local file's modification time and size),
as soon as the version changes. This process's own writes are in its snapshot at once.

The configuration only seeds the catalogue: at first use each configured site (and each
configured goal, with an id derived from its site and name) is added if it was never added
before; a "seed" marker remembers it, so an item the owner removed stays removed. A goal the
configuration no longer names is removed if the owner left it as it was seeded."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from beaconlake.domains import normalise_domain
from beaconlake.ports import RecordStore
from beaconlake.site_ports import Annotation, CatalogueError, Goal, SavedFunnel, Segment, Site
from beaconlake.sites import records as rec
from beaconlake.sites import validation as check
from beaconlake.sites.validation import CATALOGUE_LIMITS

GoalSeed = Callable[[], Mapping[str, Sequence[Goal]]]


def _no_goals() -> Mapping[str, Sequence[Goal]]:
    return {}


class Catalogue:
    def __init__(
        self,
        store: RecordStore,
        *,
        seed_sites: Iterable[str] = (),
        seed_goals: GoalSeed = _no_goals,
        ttl_seconds: float | None = 60.0,
        version: Callable[[], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._seed_sites = tuple(sorted({normalise_domain(s) for s in seed_sites if s.strip()}))
        self._seed_goals = seed_goals
        self.ttl = ttl_seconds
        self._version_of = version
        self._clock = clock
        self._now = now
        self._lock = threading.RLock()
        self._snapshot: dict[str, tuple[float, dict[str, dict[str, Any]]]] = {}
        self._version: object = None
        self._sites_seeded = False
        self._goals_seeded: Mapping[str, Sequence[Goal]] | None = None

    # ---- the snapshot ---------------------------------------------------------------------

    def _records(self, kind: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            if self._version_of is not None:
                version = self._version_of()
                if version != self._version:
                    self._snapshot.clear()
                    self._version = version
            held = self._snapshot.get(kind)
            fresh = held is not None and (self.ttl is None or self._clock() - held[0] < self.ttl)
            if held is None or not fresh:
                held = (self._clock(), dict(self.store.list(kind)))
                self._snapshot[kind] = held
            return held[1]

    def _put(self, kind: str, item_id: str, record: dict[str, Any]) -> None:
        with self._lock:
            self.store.put(kind, item_id, record, None)
            self._records(kind)[item_id] = record

    def _delete(self, kind: str, item_id: str) -> bool:
        with self._lock:
            gone = self.store.delete(kind, item_id)
            self._records(kind).pop(item_id, None)
            return gone

    def refresh(self) -> None:
        """Forget the snapshot: the next read goes to the store."""
        with self._lock:
            self._snapshot.clear()

    def _order(self) -> int:
        return time.time_ns()

    # ---- sites ----------------------------------------------------------------------------

    def _seed(self) -> None:
        if self._sites_seeded:
            return
        with self._lock:
            if self._sites_seeded:
                return
            if not self._seed_sites:
                self._sites_seeded = True
                return
            seeded = self._records(rec.SEED)
            sites = self._records(rec.SITE)
            for domain in self._seed_sites:
                marker = f"site#{domain}"
                if marker in seeded:
                    continue
                if domain not in sites:
                    self._put(
                        rec.SITE, domain, rec.site_record(Site(domain, "UTC", int(self._now())))
                    )
                self._put(rec.SEED, marker, {"site": domain})
            self._sites_seeded = True

    def _site_records(self) -> dict[str, dict[str, Any]]:
        self._seed()
        return self._records(rec.SITE)

    def site_ids(self) -> frozenset[str]:
        """The tracked domains (what the collector accepts), from the snapshot."""
        return frozenset(self._site_records())

    def __contains__(self, domain: object) -> bool:
        return isinstance(domain, str) and domain in self._site_records()

    def sites(self) -> list[Site]:
        return sorted(
            (rec.site_of(r) for r in self._site_records().values()), key=lambda s: s.domain
        )

    def site(self, domain: str) -> Site | None:
        """The site, or None. A miss is asked of the store once more when the snapshot may be
        behind (a TTL): a site just added through another container is found at once by
        whoever names it (the collector's `in` keeps to the snapshot: beacons are cheap)."""
        key = normalise_domain(domain)
        record = self._site_records().get(key)
        if record is None and self._version_of is None and key:
            record = self.store.get(rec.SITE, key)
            if record is not None:
                with self._lock:
                    self._records(rec.SITE)[key] = record
        return rec.site_of(record) if record is not None else None

    def _known(self, domain: str, field_name: str = "site_id") -> str:
        site = normalise_domain(domain) if isinstance(domain, str) else ""
        if not site or self.site(site) is None:
            raise CatalogueError(404, field_name, f"{domain!r} is not a site here", "not_found")
        return site

    def add_site(self, domain: str, timezone: str = "UTC") -> Site:
        site = Site(check.domain(domain), check.timezone(timezone), int(self._now()))
        with self._lock:
            held = self._site_records()
            if site.domain in held:
                raise CatalogueError(409, "domain", f"{site.domain} is already a site", "exists")
            check.at_most(len(held), CATALOGUE_LIMITS.sites, "sites")
            self._put(rec.SITE, site.domain, rec.site_record(site))
        return site

    def update_site(
        self, domain: str, *, timezone: str | None = None, new_domain: str | None = None
    ) -> Site:
        with self._lock:
            old = self._known(domain)
            current = rec.site_of(self._site_records()[old])
            zone = check.timezone(timezone) if timezone is not None else current.timezone
            target = check.domain(new_domain) if new_domain is not None else old
            if target != old and target in self._site_records():
                raise CatalogueError(409, "domain", f"{target} is already a site", "exists")
            site = Site(target, zone, current.created)
            self._put(rec.SITE, target, rec.site_record(site))
            if target != old:
                self._move_items(old, target)
                self._delete(rec.SITE, old)
            return site

    def _move_items(self, old: str, new: str) -> None:
        for kind in rec.PER_SITE_KINDS:
            for key, record in list(self._records(kind).items()):
                site, item = rec.split_key(key)
                if site == old:
                    self._put(kind, rec.item_key(new, item), record)
                    self._delete(kind, key)

    def remove_site(self, domain: str) -> bool:
        """Forget the site and what belongs to it (its events stay until erased)."""
        with self._lock:
            site = normalise_domain(domain)
            if site not in self._site_records():
                return False
            for kind in rec.PER_SITE_KINDS:
                for key in [k for k in self._records(kind) if rec.split_key(k)[0] == site]:
                    self._delete(kind, key)
            return self._delete(rec.SITE, site)

    # ---- per-site items -------------------------------------------------------------------

    def _items(self, kind: str, site_id: str) -> list[tuple[str, dict[str, Any]]]:
        site = normalise_domain(site_id)
        prefix = f"{site}#"
        found = [
            (key[len(prefix) :], r)
            for key, r in self._records(kind).items()
            if key.startswith(prefix)
        ]
        return sorted(found, key=lambda item: (int(item[1].get("order", 0)), item[0]))

    # ---- goals ----------------------------------------------------------------------------

    def _seed_goals_now(self) -> None:
        wanted = self._seed_goals()  # raises GoalConfigError for a broken configuration
        if wanted is self._goals_seeded or wanted == self._goals_seeded:
            return
        if not wanted and self._goals_seeded is None and not self._records(rec.SEED):
            self._goals_seeded = wanted  # nothing configured, nothing seeded before
            return
        with self._lock:
            seeded = self._records(rec.SEED)
            config_ids: set[str] = set()
            for raw_site, goals in wanted.items():
                site = normalise_domain(raw_site)
                held = {r["name"]: r for _, r in self._items(rec.GOAL, site)}
                for index, goal in enumerate(goals):
                    gid = rec.derived_id(site, goal.name)
                    marker = f"goal#{site}#{gid}"
                    config_ids.add(marker)
                    if marker in seeded:
                        continue
                    stored = Goal(goal.name, goal.event, goal.page, goal.currency, gid)
                    if goal.name not in held:
                        self._put(rec.GOAL, rec.item_key(site, gid), rec.goal_record(stored, index))
                    self._put(rec.SEED, marker, rec.goal_record(stored, index))
            for marker, record in list(seeded.items()):
                if not marker.startswith("goal#") or marker in config_ids:
                    continue
                _, site, gid = marker.split("#", 2)
                key = rec.item_key(site, gid)
                current = self._records(rec.GOAL).get(key)
                if current is not None and rec.goal_of(current) == rec.goal_of(record):
                    self._delete(rec.GOAL, key)
                self._delete(rec.SEED, marker)
            self._goals_seeded = wanted

    def goals(self, site_id: str) -> tuple[Goal, ...]:
        self._seed_goals_now()
        return tuple(rec.goal_of(r) for _, r in self._items(rec.GOAL, site_id))

    def add_goal(self, site_id: str, goal: Goal) -> Goal:
        wanted = check.goal(goal)
        with self._lock:
            site = self._known(site_id)
            held = self.goals(site)
            for existing in held:
                if existing.name == wanted.name:
                    same = (existing.event, existing.page, existing.currency) == (
                        wanted.event,
                        wanted.page,
                        wanted.currency,
                    )
                    if same:
                        return existing
                    raise CatalogueError(
                        409,
                        "display_name",
                        f"{site} has another goal named {wanted.name!r}",
                        "exists",
                    )
            check.at_most(len(held), CATALOGUE_LIMITS.goals, "goals")
            stored = Goal(
                wanted.name,
                wanted.event,
                wanted.page,
                wanted.currency,
                rec.derived_id(site, wanted.name),
            )
            self._put(
                rec.GOAL, rec.item_key(site, stored.goal_id), rec.goal_record(stored, self._order())
            )
            return stored

    def remove_goal(self, site_id: str, goal_id: str) -> bool:
        return self._delete_item(rec.GOAL, site_id, goal_id)

    def _delete_item(self, kind: str, site_id: str, item_id: str) -> bool:
        with self._lock:
            key = rec.item_key(normalise_domain(site_id), str(item_id))
            if key not in self._records(kind):
                return False
            return self._delete(kind, key)

    # ---- saved funnels --------------------------------------------------------------------

    def funnels(self, site_id: str) -> tuple[SavedFunnel, ...]:
        return tuple(rec.funnel_of(i, r) for i, r in self._items(rec.FUNNEL, site_id))

    def _named(self, kind: str, site: str, name: str) -> str | None:
        return next((i for i, r in self._items(kind, site) if r.get("name") == name), None)

    def add_funnel(self, site_id: str, name: str, steps: Sequence[dict[str, Any]]) -> SavedFunnel:
        """Saves the funnel; one of the same name is replaced (its id kept)."""
        funnel_name, checked = check.name(name), check.funnel_steps(steps)
        funnel_id = self._save_named(
            rec.FUNNEL,
            site_id,
            funnel_name,
            CATALOGUE_LIMITS.funnels,
            lambda item_id, order: rec.funnel_record(
                SavedFunnel(item_id, funnel_name, checked), order
            ),
        )
        return SavedFunnel(funnel_id, funnel_name, checked)

    def _save_named(
        self,
        kind: str,
        site_id: str,
        name: str,
        most: int,
        record: Callable[[str, int], dict[str, Any]],
    ) -> str:
        """Stores `record(item_id, order)` as the item of that name (a new id if there is
        none, within `most` items of the kind); returns the id."""
        with self._lock:
            site = self._known(site_id)
            item_id = self._named(kind, site, name)
            if item_id is None:
                check.at_most(len(self._items(kind, site)), most, f"{kind}s")
                item_id = secrets.token_hex(6)
            self._put(kind, rec.item_key(site, item_id), record(item_id, self._order()))
            return item_id

    def remove_funnel(self, site_id: str, funnel_id: str) -> bool:
        return self._delete_item(rec.FUNNEL, site_id, funnel_id)

    # ---- annotations ----------------------------------------------------------------------

    def annotations(self, site_id: str) -> tuple[Annotation, ...]:
        notes = [rec.annotation_of(i, r) for i, r in self._items(rec.ANNOTATION, site_id)]
        return tuple(sorted(notes, key=lambda a: a.day))

    def add_annotation(self, site_id: str, day: date, text: str) -> Annotation:
        """Adds a note to a day; the same note on the same day is returned as it is."""
        when, note = check.day(day), check.annotation_text(text)
        with self._lock:
            site = self._known(site_id)
            held = self.annotations(site)
            for existing in held:
                if existing.day == when and existing.text == note:
                    return existing
            check.at_most(len(held), CATALOGUE_LIMITS.annotations, "annotations")
            annotation = Annotation(secrets.token_hex(6), when, note)
            self._put(
                rec.ANNOTATION,
                rec.item_key(site, annotation.annotation_id),
                rec.annotation_record(annotation, self._order()),
            )
            return annotation

    def remove_annotation(self, site_id: str, annotation_id: str) -> bool:
        return self._delete_item(rec.ANNOTATION, site_id, annotation_id)

    # ---- segments -------------------------------------------------------------------------

    def segments(self, site_id: str) -> tuple[Segment, ...]:
        return tuple(rec.segment_of(i, r) for i, r in self._items(rec.SEGMENT, site_id))

    def add_segment(self, site_id: str, name: str, filters: Sequence[Any]) -> Segment:
        """Saves the segment; one of the same name is replaced (its id kept)."""
        segment_name, checked = check.name(name), check.segment_filters(filters)
        segment_id = self._save_named(
            rec.SEGMENT,
            site_id,
            segment_name,
            CATALOGUE_LIMITS.segments,
            lambda item_id, order: rec.segment_record(
                Segment(item_id, segment_name, checked), order
            ),
        )
        return Segment(segment_id, segment_name, checked)

    def remove_segment(self, site_id: str, segment_id: str) -> bool:
        return self._delete_item(rec.SEGMENT, site_id, segment_id)
