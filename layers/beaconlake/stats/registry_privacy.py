"""Which metrics a privacy mode makes unavailable (docs/PRIVACY.md, "Minimal mode"), and the
answers that say so: such a metric is answered as null and named in `meta.unavailable` with
its reason, never as a wrong number."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from beaconlake.config import Privacy

HOURLY = (
    "timestamps are rounded to the hour (BEACONLAKE_PRIVACY_HOURLY_TIMESTAMPS), so the order "
    "and spacing of events within a visit are unknown"
)
NO_VISITOR_ID = (
    "there is no visitor id (BEACONLAKE_PRIVACY_NO_VISITOR_ID), so every event is its own "
    "visit and visitors = visits"
)
NO_ENGAGEMENT = (
    "there is no visitor id (BEACONLAKE_PRIVACY_NO_VISITOR_ID), so engagement beacons, which "
    "belong to a visitor's pageview, are not stored"
)
VISITS_SPLIT = (
    "timestamps are rounded to the hour, so a visit that spans the start of an hour counts as two"
)
# the metrics that need the time between events of one visitor, or more than one event a visit
TIMED_METRICS = ("visit_duration", "bounce_rate", "views_per_visit")
# the metrics read from engagement beacons (engaged time is measured by the tracker, so hourly
# timestamps leave them exact)
ENGAGEMENT_METRICS = ("time_on_page", "scroll_depth")
REALTIME_PER_MINUTE = "realtime_per_minute"


def unavailable(privacy: Privacy) -> dict[str, str]:
    """Metric → why it cannot be answered under `privacy` (the first reason that applies)."""
    out: dict[str, str] = {}
    if privacy.hourly_timestamps:
        out.update(dict.fromkeys((*TIMED_METRICS, REALTIME_PER_MINUTE), HOURLY))
    if privacy.no_visitor_id:
        for metric in TIMED_METRICS:
            out.setdefault(metric, NO_VISITOR_ID)
        out.update(dict.fromkeys(ENGAGEMENT_METRICS, NO_ENGAGEMENT))
    return out


def approximate(privacy: Privacy) -> dict[str, str]:
    """Metric → why it is answered but coarser under `privacy`."""
    if privacy.hourly_timestamps and not privacy.no_visitor_id:
        return {"visits": VISITS_SPLIT}
    return {}


def privacy_meta(privacy: Privacy, metrics: Sequence[str]) -> dict[str, Any]:
    """What `meta` says about `metrics` under `privacy`: `unavailable` (metric → reason) for
    those the mode makes unavailable, `approximate` for those it makes coarser, and
    `visitors_are_visits` when there is no visitor id."""
    missing = unavailable(privacy)
    meta: dict[str, Any] = {}
    named = {m: missing[m] for m in metrics if m in missing}
    if named:
        meta["unavailable"] = named
    coarser = {m: reason for m, reason in approximate(privacy).items() if m in metrics}
    if coarser:
        meta["approximate"] = coarser
    if privacy.no_visitor_id:
        meta["visitors_are_visits"] = True
    return meta


def blank_unavailable(answer: dict[str, Any], privacy: Privacy) -> dict[str, Any]:
    """A v2 query answer with the unavailable metrics null in every row and comparison, and
    `meta` saying why."""
    metrics = list(answer["query"]["metrics"])
    extra = privacy_meta(privacy, metrics)
    if not extra:
        return answer
    gone = [i for i, m in enumerate(metrics) if m in extra.get("unavailable", {})]
    for row in answer["results"]:
        for part in (row, row.get("comparison") or {}):
            for key in ("metrics", "change"):
                if key in part:
                    for i in gone:
                        part[key][i] = None
    answer["meta"].update(extra)
    return answer


def blank_v1(results: Any, privacy: Privacy) -> dict[str, Any]:
    """Null the unavailable values of a v1 answer's `results` in place: an aggregate's
    ({metric: {"value": …}}) or a timeseries' or breakdown's rows ([{metric: value, …}]).
    Returns the `meta` to answer beside them (empty when nothing is lost)."""
    missing = unavailable(privacy)
    rows = [results] if isinstance(results, dict) else list(results)
    present = {m for row in rows for m in row}
    for row in rows:
        for metric in present & missing.keys() & row.keys():
            if isinstance(row[metric], dict):
                row[metric] = {k: None for k in row[metric]}
            else:
                row[metric] = None
    return privacy_meta(privacy, sorted(present))


def blank_realtime(answer: dict[str, Any], privacy: Privacy) -> dict[str, Any]:
    """A realtime answer (visitors of the last minutes, a per-minute series) with its counts
    null when timestamps are hourly: no event carries its minute any more."""
    reason = unavailable(privacy).get(REALTIME_PER_MINUTE)
    if reason is None:
        return answer
    answer["visitors"] = None
    for point in answer.get("series", []):
        point["visitors"] = point["pageviews"] = None
    answer.setdefault("meta", {})["unavailable"] = {REALTIME_PER_MINUTE: reason}
    return answer
