"""Behaviour analysis: funnels, journeys, paths, sequences, retention and realtime.

Shaping (raw rows → the answer) is pure; `run_*` take the QueryEngine port. The queries and
their bodies are in `beaconlake.stats.behaviour_query`, the SQL in `behaviour_sql`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from beaconlake.model import Event
from beaconlake.ports import QueryEngine
from beaconlake.stats import behaviour_sql, expiry
from beaconlake.stats.behaviour_query import (
    FunnelQuery,
    JourneyQuery,
    PathsQuery,
    RetentionQuery,
    Step,
)
from beaconlake.stats.behaviour_sql import REALTIME_MINUTES, realtime_window
from beaconlake.stats.query import zone, zone_name

CURRENT_MINUTES = 5


# ---- shaping -------------------------------------------------------------------------------


def _pct(part: int, whole: int, digits: int = 1) -> float:
    return round(100 * part / whole, digits) if whole else 0.0


def funnel_result(steps: Sequence[Step], counts: Sequence[int]) -> dict[str, Any]:
    entered = counts[0] if counts else 0
    out = []
    for i, (step, n) in enumerate(zip(steps, counts, strict=True)):
        previous = counts[i - 1] if i else n
        out.append(
            {
                "label": step.label,
                "visitors": n,
                "conversion_rate": _pct(n, entered),
                "step_conversion": _pct(n, previous),
                "dropoff": previous - n,
            }
        )
    return {
        "steps": out,
        "visitors": entered,
        "conversion_rate": _pct(counts[-1], entered) if counts else 0.0,
    }


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def period_starts(first: date, last: date, period: str) -> list[date]:
    """The start of every period touching [first, last]: days, or Mondays."""
    if period == "day":
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]
    start, out = _week_start(first), []
    while start <= last:
        out.append(start)
        start += timedelta(days=7)
    return out


def retention_grid(
    rows: Sequence[tuple[str, str, int]], first: date, last: date, period: str
) -> list[dict[str, Any]]:
    """(cohort start, active period start, users) → one row per cohort with a user; each
    `retained` list runs from the cohort's own period to the last period of the range."""
    starts = [d.isoformat() for d in period_starts(first, last, period)]
    index = {s: i for i, s in enumerate(starts)}
    counts: dict[str, dict[int, int]] = defaultdict(dict)
    for cohort, active, users in rows:
        counts[cohort][index[active] - index[cohort]] = int(users)
    cohorts = []
    for cohort in starts:
        if cohort not in counts:
            continue
        retained = [counts[cohort].get(k, 0) for k in range(len(starts) - index[cohort])]
        cohorts.append(
            {
                "cohort": cohort,
                "users": retained[0],
                "retained": retained,
                "percentages": [_pct(n, retained[0]) for n in retained],
            }
        )
    return cohorts


def minute_label(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:00")


def pending_minute_rows(
    events: Sequence[Event], site_id: str, now: datetime
) -> list[tuple[str, int, int]]:
    """Accepted but not yet stored events → the rows the realtime SQL returns:
    (minute, visitor_id, pageviews)."""
    start, end = realtime_window(now)
    pageviews: dict[tuple[str, int], int] = defaultdict(int)
    for e in events:
        if e.site_id == site_id and start <= e.ts < end:
            pageviews[(minute_label(e.ts), e.visitor_id)] += e.name == "pageview"
    return [(m, v, n) for (m, v), n in pageviews.items()]


def _minute_iso(label: str, timezone: str) -> str:
    """A UTC minute label → ISO 8601: with "Z" in UTC, else the site's wall-clock time with
    its offset."""
    if timezone == "UTC":
        return label.replace(" ", "T") + "Z"
    moment = datetime.fromisoformat(label).replace(tzinfo=UTC).astimezone(zone(timezone))
    return moment.isoformat(timespec="seconds")


def realtime_result(
    rows: Sequence[tuple[str, int, int]], now: datetime, timezone: str = "UTC"
) -> dict[str, Any]:
    """(minute, visitor_id, pageviews) rows, from storage and from the buffer → visitors in
    the last 5 minutes (the current one included) and a gap-free 30-minute series. The
    window is the same in every zone; its minutes are labelled in the site's."""
    timezone = zone_name(timezone)
    start, _ = realtime_window(now)
    minutes = [minute_label(start + timedelta(minutes=i)) for i in range(REALTIME_MINUTES)]
    visitors: dict[str, set[int]] = defaultdict(set)
    views: dict[str, int] = defaultdict(int)
    for minute, visitor, pageviews in rows:
        visitors[minute].add(int(visitor))
        views[minute] += int(pageviews)
    current = set().union(*(visitors[m] for m in minutes[-CURRENT_MINUTES:]))
    return {
        "visitors": len(current),
        "timezone": timezone,
        "series": [
            {
                "minute": _minute_iso(m, timezone),
                "visitors": len(visitors[m]),
                "pageviews": views[m],
            }
            for m in minutes
        ],
    }


# ---- running -------------------------------------------------------------------------------


def run_funnel(engine: QueryEngine, q: FunnelQuery) -> dict[str, Any]:
    expiry.require_raw(engine, q.scope.site_id, q.scope.date_range, "funnels")
    st = behaviour_sql.funnel(q)
    rows = engine.query(st.sql, st.params)
    row = rows[0] if rows else {}
    counts = [int(row.get(f"step_{i + 1}") or 0) for i in range(len(q.steps))]
    return funnel_result(q.steps, counts)


def run_sequence(engine: QueryEngine, q: FunnelQuery) -> dict[str, Any]:
    expiry.require_raw(engine, q.scope.site_id, q.scope.date_range, "sequences")
    st = behaviour_sql.funnel(q, count_total=True)
    rows = engine.query(st.sql, st.params)
    row = rows[0] if rows else {}
    count, total = int(row.get(f"step_{len(q.steps)}") or 0), int(row.get("total") or 0)
    return {
        "unit": q.unit,
        "steps": [s.label for s in q.steps],
        "count": count,
        "total": total,
        "percentage": _pct(count, total),
    }


def run_journeys(engine: QueryEngine, q: JourneyQuery) -> dict[str, Any]:
    expiry.require_raw(engine, q.scope.site_id, q.scope.date_range, "journeys")
    st = behaviour_sql.journeys(q)
    rows = engine.query(st.sql, st.params)
    return {
        "page": q.page,
        "direction": q.direction,
        "visits": int(rows[0]["total"]) if rows else 0,
        "results": [
            {
                "page": r["page"],
                "visits": int(r["visits"]),
                "percentage": _pct(int(r["visits"]), int(r["total"])),
            }
            for r in rows
        ],
    }


def run_paths(engine: QueryEngine, q: PathsQuery) -> dict[str, Any]:
    expiry.require_raw(engine, q.scope.site_id, q.scope.date_range, "paths")
    st = behaviour_sql.paths(q)
    rows = engine.query(st.sql, st.params)
    return {
        "steps": q.steps,
        "results": [
            {"path": [r[f"p{i + 1}"] for i in range(q.steps)], "visits": int(r["visits"])}
            for r in rows
        ],
    }


def run_retention(engine: QueryEngine, q: RetentionQuery, enabled: bool) -> dict[str, Any]:
    if not enabled:
        return {
            "available": False,
            "reason": (
                "Retention needs user ids and they are off for this site. Visitor ids change "
                "every day, so they cannot show who returns. Set BEACONLAKE_USER_ID_SITES to "
                "include the site and send `user_id` with events (see docs/ANALYTICS.md)."
            ),
            "period": q.period,
            "cohorts": [],
        }
    expiry.require_raw(engine, q.site_id, q.date_range, "retention cohorts")
    st = behaviour_sql.retention(q)
    rows = [(r["cohort"], r["active"], r["users"]) for r in engine.query(st.sql, st.params)]
    cohorts = retention_grid(rows, q.date_range.first, q.date_range.last, q.period)
    out: dict[str, Any] = {"available": True, "period": q.period, "cohorts": cohorts}
    if not cohorts:
        out["reason"] = "no event in this date range carried a user_id"
    return out


def run_realtime(
    engine: QueryEngine,
    site_id: str,
    now: datetime,
    pending: Sequence[Event],
    timezone: str = "UTC",
) -> dict[str, Any]:
    st = behaviour_sql.realtime(site_id, now)
    stored = [
        (r["minute"], r["visitor_id"], r["pageviews"]) for r in engine.query(st.sql, st.params)
    ]
    rows = stored + pending_minute_rows(pending, site_id, now)
    return realtime_result(rows, now, timezone)
