"""An independent, SQL-free model of the stats: sessions and metrics computed in plain Python
from what a test sent. Tests compare the stats API against it exactly."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

GAP_S = 30 * 60


@dataclass(frozen=True)
class Hit:
    visitor: int
    at: datetime
    name: str
    path: str
    source: str | None = None
    utm: dict[str, str] = field(default_factory=dict)
    props: dict[str, str] = field(default_factory=dict)
    interactive: bool = True
    browser: str = ""
    os: str = ""
    device: str = ""
    country: str | None = None
    revenue: float | None = None
    scroll_depth: int | None = None
    engaged_ms: int | None = None
    # order of arrival among a visitor's hits of the same millisecond (the collector's `seq`;
    # 0 where the events were stored without one)
    seq: int = 0


@dataclass
class Session:
    hits: list[Hit]

    @property
    def first(self) -> Hit:
        return self.hits[0]

    @property
    def pageviews(self) -> int:
        return sum(h.name == "pageview" for h in self.hits)

    @property
    def bounce(self) -> bool:
        interactions = sum(
            h.name not in ("pageview", "engagement") and h.interactive for h in self.hits
        )
        return self.pageviews == 1 and interactions == 0

    @property
    def duration_ms(self) -> float:
        return (self.hits[-1].at - self.hits[0].at).total_seconds() * 1000

    def attr(self, key: str) -> str | None:
        pageviews = [h for h in self.hits if h.name == "pageview"]
        if key == "entry_page":
            return pageviews[0].path if pageviews else None
        if key == "exit_page":
            return pageviews[-1].path if pageviews else None
        if key == "source":
            return self.first.source
        if key.startswith("utm_"):
            return self.first.utm.get(key)
        raise KeyError(key)


def sessions(hits: Iterable[Hit]) -> list[Session]:
    by_visitor: dict[int, list[Hit]] = defaultdict(list)
    for h in hits:
        by_visitor[h.visitor].append(h)
    out: list[Session] = []
    for vhits in by_visitor.values():
        vhits.sort(key=lambda h: (h.at, h.seq))
        current = [vhits[0]]
        for prev, h in zip(vhits, vhits[1:], strict=False):
            if (h.at - prev.at).total_seconds() >= GAP_S:
                out.append(Session(current))
                current = []
            current.append(h)
        out.append(Session(current))
    return out


def metrics(hits: list[Hit], keep: Callable[[Hit, Session], bool] = lambda h, s: True) -> dict:
    """Aggregate metrics over the hits that pass `keep` (and the sessions holding one)."""
    matched_hits: list[Hit] = []
    matched_sessions: list[Session] = []
    for s in sessions(hits):
        kept = [h for h in s.hits if keep(h, s)]
        if kept:
            matched_sessions.append(s)
            matched_hits.extend(kept)
    visits = len(matched_sessions)
    return {
        "visitors": len({h.visitor for h in matched_hits}),
        "pageviews": sum(h.name == "pageview" for h in matched_hits),
        "events": sum(h.name != "engagement" for h in matched_hits),
        "visits": visits,
        "bounce_rate": round(100 * sum(s.bounce for s in matched_sessions) / visits)
        if visits
        else 0,
        "visit_duration": round(sum(s.duration_ms for s in matched_sessions) / 1000 / visits)
        if visits
        else 0,
        "views_per_visit": round(sum(s.pageviews for s in matched_sessions) / visits, 2)
        if visits
        else 0.0,
    }


SESSION_KEYS = {"entry_page", "exit_page", "source", "utm_source", "utm_medium", "utm_campaign"}


def value_of(h: Hit, s: Session, key: str) -> str | None:
    if key in SESSION_KEYS:
        return s.attr(key)
    if key == "page":
        return h.path
    if key == "name":
        return h.name
    if key in ("browser", "os", "device", "country"):
        return getattr(h, key) or None
    if key.startswith("props:"):
        return h.props.get(key[6:])
    raise KeyError(key)


def breakdown(hits: list[Hit], key: str) -> dict[str | None, dict]:
    values = {value_of(h, s, key) for s in sessions(hits) for h in s.hits}
    return {v: metrics(hits, lambda h, s, v=v: value_of(h, s, key) == v) for v in values}


def engagement_metrics(hits: list[Hit]) -> dict:
    """scroll_depth: mean over (visitor, page) of the deepest scroll; time_on_page: mean
    engaged seconds per (visitor, page); revenue sums."""
    pairs: dict[tuple[int, str], list[Hit]] = defaultdict(list)
    for h in hits:
        if h.name == "engagement":
            pairs[(h.visitor, h.path)].append(h)
    depths = [max(x.scroll_depth or 0 for x in hs) for hs in pairs.values()]
    engaged = [sum(x.engaged_ms or 0 for x in hs) for hs in pairs.values()]
    revenue = [h.revenue for h in hits if h.revenue is not None]
    return {
        "scroll_depth": round(sum(depths) / len(depths)) if depths else None,
        "time_on_page": round(sum(engaged) / len(engaged) / 1000) if engaged else None,
        "total_revenue": float(sum(revenue)) if revenue else None,
        "average_revenue": round(sum(revenue) / len(revenue), 2) if revenue else None,
    }


def matched_hits(hits: list[Hit], keep: Callable[[Hit, Session], bool]) -> list[Hit]:
    return [h for s in sessions(hits) for h in s.hits if keep(h, s)]


def group(
    hits: list[Hit], key: Callable[[Hit, Session], object]
) -> dict[object, Callable[[Hit, Session], bool]]:
    """One `keep` predicate per distinct key value."""
    values = {key(h, s) for s in sessions(hits) for h in s.hits}
    return {v: (lambda h, s, v=v: key(h, s) == v) for v in values}


DIRECT = "Direct / None"


def visit_source(s: Session) -> str:
    """The visit's source as the API shows it: its first hit's, DIRECT for none."""
    return s.first.source or DIRECT


# ---- time zones --------------------------------------------------------------------------
# A site in a zone other than UTC counts in its wall-clock days: a range holds the visits that
# STARTED in it, with all of their events, and every time bucket of a visit and of its events
# is the one its start falls in (in UTC, where visits never cross midnight, hourly buckets of
# events are the events' own hours). Visitor ids stay per UTC day.


def wall_clock(at: datetime, tz: str) -> datetime:
    """An aware time → the naive wall-clock time of `tz`."""
    return at.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def started_between(hits: Iterable[Hit], tz: str, start: datetime, end: datetime) -> list[Hit]:
    """The hits of the visits that started in [start, end) (wall-clock times of `tz`)."""
    return [h for s in sessions(hits) if start <= wall_clock(s.first.at, tz) < end for h in s.hits]


def in_days(hits: Iterable[Hit], tz: str, first: date, last: date) -> list[Hit]:
    """The hits of the visits that started on the days first..last of `tz`."""
    start = datetime(first.year, first.month, first.day)
    return started_between(hits, tz, start, start + timedelta(days=(last - first).days + 1))


def bucket_label(moment: datetime, interval: str) -> str:
    """The label of the bucket a wall-clock time falls in, as the API writes it."""
    if interval == "hour":
        return moment.strftime("%Y-%m-%d %H:00:00")
    day = moment.date()
    if interval == "week":
        day -= timedelta(days=day.weekday())
    elif interval == "month":
        day = day.replace(day=1)
    return day.isoformat()


def by_start_bucket(hits: Iterable[Hit], tz: str, interval: str) -> dict[str, list[Hit]]:
    """The hits, grouped by the bucket of their visit's start."""
    out: dict[str, list[Hit]] = defaultdict(list)
    for s in sessions(hits):
        out[bucket_label(wall_clock(s.first.at, tz), interval)].extend(s.hits)
    return dict(out)


# ---- imported data (Plausible's CSV export) ------------------------------------------------
# Imported rows add up as Plausible adds them: per day, per dimension value, visitors included
# (a visitor counted on two days counts twice, as native daily visitor ids do).

IMPORTED_SUMS = ("visitors", "visits", "pageviews", "bounces", "duration_ms", "session_pageviews")


def raw_sums(hits: list[Hit], keep: Callable[[Hit, Session], bool] = lambda h, s: True) -> dict:
    """The sums behind `metrics` (visitors, visits, pageviews, bounces, duration_ms,
    session_pageviews) over the hits that pass `keep` and their sessions."""
    kept_hits: list[Hit] = []
    kept_sessions: list[Session] = []
    for s in sessions(hits):
        kept = [h for h in s.hits if keep(h, s)]
        if kept:
            kept_sessions.append(s)
            kept_hits.extend(kept)
    return {
        "visitors": len({h.visitor for h in kept_hits}),
        "visits": len(kept_sessions),
        "pageviews": sum(h.name == "pageview" for h in kept_hits),
        "bounces": sum(s.bounce for s in kept_sessions),
        "duration_ms": sum(s.duration_ms for s in kept_sessions),
        "session_pageviews": sum(s.pageviews for s in kept_sessions),
    }


def imported_sums(rows: Iterable[dict], visits: str = "visits") -> dict:
    """The sums of imported rows (one export file's), `visits` read from the column that
    holds them (`entrances`, `exits` for the entry and exit pages)."""
    out = dict.fromkeys(IMPORTED_SUMS, 0)
    for r in rows:
        out["visitors"] += int(r["visitors"])
        out["visits"] += int(r.get(visits) or 0)
        out["pageviews"] += int(r.get("pageviews") or 0)
        out["bounces"] += int(r.get("bounces") or 0)
        out["duration_ms"] += int(r.get("visit_duration") or 0) * 1000
        out["session_pageviews"] += int(r.get("pageviews") or 0)
    return out


def from_sums(*parts: dict) -> dict:
    """Metrics from sums added over native and imported parts, rounded like `metrics`."""
    t = {k: sum(p.get(k, 0) for p in parts) for k in IMPORTED_SUMS}
    v = t["visits"]
    return {
        "visitors": t["visitors"],
        "visits": v,
        "pageviews": t["pageviews"],
        "bounce_rate": round(100 * t["bounces"] / v) if v else 0,
        "visit_duration": round(t["duration_ms"] / 1000 / v) if v else 0,
        "views_per_visit": round(t["session_pageviews"] / v, 2) if v else 0.0,
    }
