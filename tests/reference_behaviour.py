"""An independent, SQL-free model of the behaviour analyses (funnels, sequences, journeys,
paths, retention, realtime), computed in plain Python from what a test sent."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.reference import Hit, Session, sessions, wall_clock

Keep = Callable[[Hit, Session], bool]


@dataclass(frozen=True)
class RefStep:
    page: str | None = None
    event: str | None = None
    props: tuple[tuple[str, str], ...] = ()

    def matches(self, h: Hit) -> bool:
        if self.page is not None:
            pattern = "".join(".*" if c == "*" else re.escape(c) for c in self.page)
            return h.name == "pageview" and re.fullmatch(pattern, h.path, re.DOTALL) is not None
        return h.name == self.event and all(h.props.get(k) == v for k, v in self.props)


def chosen_sessions(hits: Iterable[Hit], keep: Keep | None = None) -> list[Session]:
    """The visits a filter chooses: those with at least one hit passing `keep`."""
    return [s for s in sessions(hits) if keep is None or any(keep(h, s) for h in s.hits)]


def _ordered(hits: Iterable[Hit]) -> list[Hit]:
    return sorted(
        (h for h in hits if h.name != "engagement"), key=lambda h: (h.at, h.seq, h.name, h.path)
    )


def steps_reached(
    hits: list[Hit], steps: list[RefStep], window: timedelta | None, strict: bool
) -> int:
    """The most steps any start reaches in this unit's events (greedy scan per start)."""
    events = _ordered(hits)
    best = 0
    for i, first in enumerate(events):
        if not steps[0].matches(first):
            continue
        reached = 1
        for e in events[i + 1 :]:
            if reached == len(steps) or (window is not None and e.at - first.at > window):
                break
            if steps[reached].matches(e):
                reached += 1
            elif strict:
                break
        best = max(best, reached)
    return best


def funnel(
    hits: list[Hit],
    steps: list[RefStep],
    window: timedelta | None,
    strict: bool = False,
    keep: Keep | None = None,
) -> list[int]:
    """Visitors reaching each step (unit: visitor over everything sent)."""
    by_visitor: dict[int, list[Hit]] = defaultdict(list)
    for s in chosen_sessions(hits, keep):
        by_visitor[s.first.visitor].extend(s.hits)
    reached = [steps_reached(h, steps, window, strict) for h in by_visitor.values()]
    return [sum(r >= k for r in reached) for k in range(1, len(steps) + 1)]


def funnel_answer(labels: list[str], counts: list[int]) -> dict:
    def pct(a: int, b: int) -> float:
        return round(100 * a / b, 1) if b else 0.0

    steps = []
    for i, (label, n) in enumerate(zip(labels, counts, strict=True)):
        prev = counts[i - 1] if i else n
        steps.append(
            {
                "label": label,
                "visitors": n,
                "conversion_rate": pct(n, counts[0]),
                "step_conversion": pct(n, prev),
                "dropoff": prev - n,
            }
        )
    return {"steps": steps, "visitors": counts[0], "conversion_rate": pct(counts[-1], counts[0])}


def sequence_count(
    hits: list[Hit], steps: list[RefStep], unit: str, keep: Keep | None = None
) -> tuple[int, int]:
    """(units that did every step in order, units in scope)."""
    chosen = chosen_sessions(hits, keep)
    if unit == "visits":
        groups = [s.hits for s in chosen]
    else:
        by_visitor: dict[int, list[Hit]] = defaultdict(list)
        for s in chosen:
            by_visitor[s.first.visitor].extend(s.hits)
        groups = list(by_visitor.values())
    done = sum(steps_reached(g, steps, None, False) == len(steps) for g in groups)
    return done, len(groups)


def _pageviews(s: Session) -> list[str]:
    return [
        h.path for h in sorted(s.hits, key=lambda h: (h.at, h.seq, h.path)) if h.name == "pageview"
    ]


def journeys(
    hits: list[Hit], page: str, direction: str, keep: Keep | None = None
) -> tuple[dict[str, int], int]:
    """({neighbour page: visits}, visits with a pageview of `page`)."""
    target = RefStep(page=page)
    counts: dict[str, int] = defaultdict(int)
    total = 0
    for s in chosen_sessions(hits, keep):
        views = _pageviews(s)
        neighbours = set()
        for i, path in enumerate(views):
            if not target.matches(Hit(0, s.first.at, "pageview", path)):
                continue
            if direction == "next":
                neighbours.add(views[i + 1] if i + 1 < len(views) else "(exit)")
            else:
                neighbours.add(views[i - 1] if i > 0 else "(entrance)")
        total += bool(neighbours)
        for n in neighbours:
            counts[n] += 1
    return dict(counts), total


def paths(
    hits: list[Hit], n: int, start: str | None = None, keep: Keep | None = None
) -> dict[tuple[str, ...], int]:
    """{path of n consecutive pageviews: visits containing it}."""
    first = RefStep(page=start) if start else None
    counts: dict[tuple[str, ...], int] = defaultdict(int)
    for s in chosen_sessions(hits, keep):
        views = _pageviews(s)
        runs = {tuple(views[i : i + n]) for i in range(len(views) - n + 1)}
        for run in runs:
            if first is None or first.matches(Hit(0, s.first.at, "pageview", run[0])):
                counts[run] += 1
    return dict(counts)


def ranked(counts: dict, limit: int) -> list:
    """Most visits first, ties by key ascending, cut to `limit`."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def _period(day: date, period: str) -> date:
    return day if period == "day" else day - timedelta(days=day.weekday())


def retention(
    activity: Iterable[tuple[str, datetime]],
    first: date,
    last: date,
    period: str,
    tz: str = "UTC",
) -> list[dict]:
    """(user, time) pairs → cohorts by the period of first activity in [first, last] (days
    of the zone `tz`)."""
    active: dict[str, set[date]] = defaultdict(set)
    for user, at in activity:
        day = wall_clock(at, tz).date()
        if first <= day <= last:
            active[user].add(_period(day, period))
    step = timedelta(days=1 if period == "day" else 7)
    end = _period(last, period)
    cohorts: dict[date, list[str]] = defaultdict(list)
    for user, periods in active.items():
        cohorts[min(periods)].append(user)
    out = []
    for cohort in sorted(cohorts):
        users = cohorts[cohort]
        retained = []
        p = cohort
        while p <= end:
            retained.append(sum(p in active[u] for u in users))
            p += step
        out.append(
            {
                "cohort": cohort.isoformat(),
                "users": len(users),
                "retained": retained,
                "percentages": [round(100 * r / len(users), 1) for r in retained],
            }
        )
    return out


def realtime(hits: Iterable[Hit], now: datetime, tz: str = "UTC") -> dict:
    """Visitors in the 5 latest whole minutes (the current one included) and the 30-minute
    per-minute series of visitors and pageviews; the minutes labelled in the zone `tz`."""
    current = now.replace(second=0, microsecond=0)
    minutes = [current - timedelta(minutes=29 - i) for i in range(30)]
    per_minute: dict[datetime, list[Hit]] = defaultdict(list)
    for h in hits:
        per_minute[h.at.replace(second=0, microsecond=0)].append(h)
    series = [
        {
            "minute": m.strftime("%Y-%m-%dT%H:%M:00Z")
            if tz == "UTC"
            else m.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds"),
            "visitors": len({h.visitor for h in per_minute[m]}),
            "pageviews": sum(h.name == "pageview" for h in per_minute[m]),
        }
        for m in minutes
    ]
    last5 = {h.visitor for m in minutes[-5:] for h in per_minute[m]}
    return {"visitors": len(last5), "timezone": tz, "series": series}
