"""Behaviour analysis: funnels, journeys, paths, sequences, retention and realtime.

Parsing (JSON body → plain query data, or a QueryError naming the field) and shaping (raw
rows → the answer) are pure; `run_*` take the QueryEngine port. The SQL lives in
`beaconlake.stats.behaviour_sql`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from beaconlake.model import Event
from beaconlake.ports import QueryEngine
from beaconlake.stats import behaviour_sql
from beaconlake.stats.behaviour_sql import REALTIME_MINUTES, realtime_window
from beaconlake.stats.query import DateRange, FilterNode, Goal, QueryError, check_text
from beaconlake.stats.v2 import parse_date_range, parse_filters

MIN_STEPS, MAX_FUNNEL_STEPS = 2, 8
MAX_SEQUENCE_STEPS = 8
MAX_STEP_PROPS = 10
DEFAULT_WINDOW_MINUTES = 24 * 60
MAX_WINDOW_MINUTES = 30 * 24 * 60
ORDERS = ("ordered", "strict")
UNITS = ("visitors", "visits")
DIRECTIONS = ("next", "previous")
MAX_JOURNEY_LIMIT = 100
MIN_PATH_STEPS, MAX_PATH_STEPS = 2, 10
PERIODS = ("day", "week")
MAX_RETENTION_DAYS = {"day": 92, "week": 371}
CURRENT_MINUTES = 5
MAX_PAGE_CHARS = 2000


@dataclass(frozen=True)
class Step:
    """Pageviews of a path (`*` is a wildcard) or a custom event, with optional prop values."""

    page: str | None = None
    event: str | None = None
    props: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        if self.page is not None:
            return self.page
        if not self.props:
            return str(self.event)
        return f"{self.event} ({', '.join(f'{k}={v}' for k, v in self.props)})"


@dataclass(frozen=True)
class Scope:
    """What every behaviour query shares: a site, a range and visit filters."""

    site_id: str
    date_range: DateRange
    filters: tuple[FilterNode, ...] = ()
    goals: tuple[Goal, ...] = ()


@dataclass(frozen=True)
class FunnelQuery:
    scope: Scope
    steps: tuple[Step, ...]
    window_minutes: int | None = DEFAULT_WINDOW_MINUTES
    order: str = "ordered"
    unit: str = "visitors"


@dataclass(frozen=True)
class JourneyQuery:
    scope: Scope
    page: str
    direction: str = "next"
    limit: int = 10


@dataclass(frozen=True)
class PathsQuery:
    scope: Scope
    steps: int = 3
    start_page: str | None = None
    limit: int = 10


@dataclass(frozen=True)
class RetentionQuery:
    site_id: str
    date_range: DateRange
    period: str = "week"


# ---- parsing -------------------------------------------------------------------------------


def _int(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise QueryError(name, f"{name} must be a whole number from {low} to {high}")
    return value


def _choice(body: dict[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = body.get(name) or choices[0]
    if value not in choices:
        raise QueryError(name, f"{name} must be one of {', '.join(choices)}")
    return str(value)


def _page(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not value.startswith("/") or len(value) > MAX_PAGE_CHARS:
        raise QueryError(field_name, "a page is a path starting with '/' ('*' is a wildcard)")
    return check_text(value, field_name)


def _ref(body: dict[str, Any]) -> date | None:
    raw = body.get("date")
    if raw is None:
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise QueryError("date", "date must look like 2026-01-31") from None


def parse_scope(
    body: dict[str, Any], goals_for: dict[str, tuple[Goal, ...]], ref: date | None = None
) -> Scope:
    site_id = str(body.get("site_id", "")).strip().lower()
    goals = goals_for.get(site_id, ())
    date_range = parse_date_range(body.get("date_range", "30d"), ref or _ref(body))
    raw_filters = body.get("filters") or []
    if not isinstance(raw_filters, list):
        raise QueryError("filters", "filters must be a list")
    filters = parse_filters(raw_filters, goals)
    return Scope(site_id, date_range, filters, goals)


def parse_step(raw: Any, path: str) -> Step:
    if not isinstance(raw, dict) or ("page" in raw) == ("event" in raw):
        raise QueryError(path, 'a step is {"page": "/path/*"} or {"event": "Name", "props"?: {}}')
    unknown = set(raw) - {"page", "event", "props"}
    if unknown:
        raise QueryError(f"{path}.{sorted(unknown)[0]}", "unknown step field")
    if "page" in raw:
        if raw.get("props"):
            raise QueryError(f"{path}.props", "props can only narrow an event step")
        return Step(page=_page(raw["page"], f"{path}.page"))
    event = raw["event"]
    if not isinstance(event, str) or not 1 <= len(event) <= 120:
        raise QueryError(f"{path}.event", "event must be an event name (1-120 characters)")
    check_text(event, f"{path}.event")
    props = raw.get("props") or {}
    if not isinstance(props, dict) or len(props) > MAX_STEP_PROPS:
        raise QueryError(f"{path}.props", f"props is an object of at most {MAX_STEP_PROPS} keys")
    for k, v in props.items():
        if not isinstance(v, str) or not k or len(k) > 300 or len(v) > 2000:
            raise QueryError(f"{path}.props", "props keys and values must be strings")
        check_text(k, f"{path}.props")
        check_text(v, f"{path}.props")
    return Step(event=event, props=tuple(sorted(props.items())))


def parse_steps(raw: Any, most: int) -> tuple[Step, ...]:
    if not isinstance(raw, list) or not MIN_STEPS <= len(raw) <= most:
        raise QueryError("steps", f"steps must be a list of {MIN_STEPS} to {most} steps")
    return tuple(parse_step(s, f"steps[{i}]") for i, s in enumerate(raw))


def parse_funnel(
    body: dict[str, Any], goals_for: dict[str, tuple[Goal, ...]], ref: date | None = None
) -> FunnelQuery:
    scope = parse_scope(body, goals_for, ref)
    steps = parse_steps(body.get("steps"), MAX_FUNNEL_STEPS)
    window = _int(body, "window_minutes", DEFAULT_WINDOW_MINUTES, 1, MAX_WINDOW_MINUTES)
    return FunnelQuery(scope, steps, window, _choice(body, "order", ORDERS))


def parse_sequence(
    body: dict[str, Any], goals_for: dict[str, tuple[Goal, ...]], ref: date | None = None
) -> FunnelQuery:
    scope = parse_scope(body, goals_for, ref)
    steps = parse_steps(body.get("steps"), MAX_SEQUENCE_STEPS)
    return FunnelQuery(scope, steps, None, "ordered", _choice(body, "unit", UNITS))


def parse_journey(
    body: dict[str, Any], goals_for: dict[str, tuple[Goal, ...]], ref: date | None = None
) -> JourneyQuery:
    scope = parse_scope(body, goals_for, ref)
    page = _page(body.get("page"), "page")
    direction = _choice(body, "direction", DIRECTIONS)
    return JourneyQuery(scope, page, direction, _int(body, "limit", 10, 1, MAX_JOURNEY_LIMIT))


def parse_paths(
    body: dict[str, Any], goals_for: dict[str, tuple[Goal, ...]], ref: date | None = None
) -> PathsQuery:
    scope = parse_scope(body, goals_for, ref)
    steps = _int(body, "steps", 3, MIN_PATH_STEPS, MAX_PATH_STEPS)
    start = body.get("start_page")
    start_page = _page(start, "start_page") if start is not None else None
    return PathsQuery(scope, steps, start_page, _int(body, "limit", 10, 1, MAX_JOURNEY_LIMIT))


def parse_retention(body: dict[str, Any], ref: date | None = None) -> RetentionQuery:
    site_id = str(body.get("site_id", "")).strip().lower()
    period = _choice({"period": body.get("period") or "week"}, "period", PERIODS)
    date_range = parse_date_range(body.get("date_range", "91d"), ref or _ref(body))
    if (date_range.last - date_range.first).days + 1 > MAX_RETENTION_DAYS[period]:
        raise QueryError(
            "date_range",
            f"period={period} covers at most {MAX_RETENTION_DAYS[period]} days",
        )
    return RetentionQuery(site_id, date_range, period)


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


def realtime_result(rows: Sequence[tuple[str, int, int]], now: datetime) -> dict[str, Any]:
    """(minute, visitor_id, pageviews) rows, from storage and from the buffer → visitors in
    the last 5 minutes (the current one included) and a gap-free 30-minute series."""
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
        "series": [
            {
                "minute": m.replace(" ", "T") + "Z",
                "visitors": len(visitors[m]),
                "pageviews": views[m],
            }
            for m in minutes
        ],
    }


# ---- running -------------------------------------------------------------------------------


def run_funnel(engine: QueryEngine, q: FunnelQuery) -> dict[str, Any]:
    st = behaviour_sql.funnel(q)
    rows = engine.query(st.sql, st.params)
    row = rows[0] if rows else {}
    counts = [int(row.get(f"step_{i + 1}") or 0) for i in range(len(q.steps))]
    return funnel_result(q.steps, counts)


def run_sequence(engine: QueryEngine, q: FunnelQuery) -> dict[str, Any]:
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
    st = behaviour_sql.retention(q)
    rows = [(r["cohort"], r["active"], r["users"]) for r in engine.query(st.sql, st.params)]
    cohorts = retention_grid(rows, q.date_range.first, q.date_range.last, q.period)
    out: dict[str, Any] = {"available": True, "period": q.period, "cohorts": cohorts}
    if not cohorts:
        out["reason"] = "no event in this date range carried a user_id"
    return out


def run_realtime(
    engine: QueryEngine, site_id: str, now: datetime, pending: Sequence[Event]
) -> dict[str, Any]:
    st = behaviour_sql.realtime(site_id, now)
    stored = [
        (r["minute"], r["visitor_id"], r["pageviews"]) for r in engine.query(st.sql, st.params)
    ]
    return realtime_result(stored + pending_minute_rows(pending, site_id, now), now)
