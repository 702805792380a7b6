"""Funnels, sequences, journeys, paths, retention and realtime: every number equals the
independent Python reference (tests/reference_behaviour.py), on seeded scenarios loaded
through the real collector, Parquet sink and DuckDB engine."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from beaconlake import wiring
from beaconlake.ingest.service import collect
from beaconlake.model import RequestMeta
from beaconlake.stats import behaviour, behaviour_query
from beaconlake.stats.query import Goal
from beaconlake.stats.query_parser import checked, parse_query
from beaconlake.stats.query_runner import Include, run_query
from tests.conftest import CHROME_UA, FIREFOX_UA, IPHONE_UA
from tests.reference import Hit, in_days, sessions
from tests.reference_behaviour import (
    RefStep,
    funnel,
    funnel_answer,
    journeys,
    paths,
    ranked,
    realtime,
    retention,
    sequence_count,
)

ALL = ["2026-03-09", "2026-03-20"]
GOALS = {"example.com": (Goal("Signup", event="Signup"),)}
MOBILE = (
    [["is", "visit:device", ["mobile"]]],
    lambda h, s: h.device == "mobile",
)
SIGNED_UP = (
    [["has_done", ["is", "event:name", ["Signup"]]]],
    lambda h, s: any(x.name == "Signup" for x in s.hits),
)
GOOGLE_OR_DOCS = (
    [["or", [["is", "visit:source", ["Google"]], ["is", "event:page", ["/docs"]]]]],
    lambda h, s: s.first.source == "Google" or h.path == "/docs",
)
NO_FILTER: tuple[list, None] = ([], None)


def _steps(raw: list[dict]) -> list[RefStep]:
    return [
        RefStep(s.get("page"), s.get("event"), tuple(sorted(s.get("props", {}).items())))
        for s in raw
    ]


@pytest.mark.parametrize(
    ("steps", "window", "order", "flt"),
    [
        (
            [{"page": "/"}, {"event": "Signup", "props": {"plan": "pro"}}],
            1440,
            "ordered",
            NO_FILTER,
        ),
        ([{"page": "/"}, {"page": "/pric*"}, {"event": "Purchase"}], 30, "ordered", NO_FILTER),
        ([{"page": "/"}, {"page": "/pric*"}, {"event": "Purchase"}], 43200, "ordered", NO_FILTER),
        ([{"page": "/pricing"}, {"event": "Purchase"}], 1440, "strict", NO_FILTER),
        ([{"page": "/*"}, {"page": "/*"}, {"page": "/*"}], 60, "strict", NO_FILTER),
        ([{"page": "/*"}] * 8, 43200, "ordered", NO_FILTER),
        ([{"page": "/docs"}, {"page": "/signup"}, {"event": "Signup"}], 1440, "ordered", MOBILE),
        ([{"page": "/"}, {"page": "/blog/*"}], 1440, "ordered", SIGNED_UP),
        ([{"event": "Signup"}, {"page": "/"}], 120, "ordered", GOOGLE_OR_DOCS),
    ],
)
def test_funnel(loaded, steps, window, order, flt) -> None:
    filters, keep = flt
    body = {"site_id": "example.com", "date_range": ALL, "steps": steps, "filters": filters}
    q = behaviour_query.parse_funnel({**body, "window_minutes": window, "order": order}, GOALS)
    got = behaviour.run_funnel(wiring.engine(), q)
    counts = funnel(loaded, _steps(steps), timedelta(minutes=window), order == "strict", keep)
    assert got == funnel_answer([s.label for s in q.steps], counts)
    assert counts[0] > 0


def test_funnel_over_part_of_the_range(loaded) -> None:
    steps = [{"page": "/"}, {"page": "/pricing"}]
    day = date(2026, 3, 10)
    body = {"site_id": "example.com", "date_range": [day.isoformat()] * 2, "steps": steps}
    got = behaviour.run_funnel(wiring.engine(), behaviour_query.parse_funnel(body, GOALS))
    hits = [h for h in loaded if h.at.date() == day]
    assert [s["visitors"] for s in got["steps"]] == funnel(hits, _steps(steps), timedelta(days=1))


@pytest.mark.parametrize("unit", ["visitors", "visits"])
@pytest.mark.parametrize(
    ("steps", "flt"),
    [
        ([{"page": "/"}, {"event": "Signup"}], NO_FILTER),
        ([{"page": "/pricing"}, {"page": "/docs"}, {"page": "/"}], NO_FILTER),
        ([{"event": "Signup", "props": {"plan": "free"}}, {"event": "Purchase"}], MOBILE),
    ],
)
def test_sequences(loaded, unit, steps, flt) -> None:
    filters, keep = flt
    body = {"site_id": "example.com", "date_range": ALL, "steps": steps, "filters": filters}
    got = behaviour.run_sequence(
        wiring.engine(), behaviour_query.parse_sequence({**body, "unit": unit}, GOALS)
    )
    count, total = sequence_count(loaded, _steps(steps), unit, keep)
    assert (got["count"], got["total"]) == (count, total)
    assert got["percentage"] == round(100 * count / total, 1)
    assert total > 0


def test_sequences_add_the_order_that_has_done_filters_leave_out(loaded) -> None:
    """Visits with has_done A and has_done B (query API) did both in some order: each is
    counted by the sequence A→B or B→A, and the reference agrees on all three numbers."""
    a, b = {"page": "/pricing"}, {"page": "/docs"}
    both = [["has_done", ["is", "event:page", [s["page"]]]] for s in (a, b)]
    q = parse_query(
        {"site_id": "example.com", "date_range": ALL, "metrics": ["visits"], "filters": both}, {}
    )
    (row,) = run_query(wiring.engine(), q, Include())["results"]
    did_both = sum(
        all(any(x.path == s["page"] for x in sess.hits) for s in (a, b))
        for sess in sessions(loaded)
    )
    forward, backward = (
        behaviour.run_sequence(
            wiring.engine(),
            behaviour_query.parse_sequence(
                {"site_id": "example.com", "date_range": ALL, "steps": steps, "unit": "visits"}, {}
            ),
        )["count"]
        for steps in ([a, b], [b, a])
    )
    assert row["metrics"] == [did_both]
    assert forward == sequence_count(loaded, _steps([a, b]), "visits")[0]
    assert max(forward, backward) <= did_both <= forward + backward
    assert 0 < forward < did_both


@pytest.mark.parametrize("direction", ["next", "previous"])
@pytest.mark.parametrize(
    ("page", "flt", "limit"),
    [("/", NO_FILTER, 100), ("/pricing", NO_FILTER, 3), ("/blog/*", MOBILE, 100)],
)
def test_journeys(loaded, direction, page, flt, limit) -> None:
    filters, keep = flt
    body = {"site_id": "example.com", "date_range": ALL, "filters": filters}
    q = behaviour_query.parse_journey(
        {**body, "page": page, "direction": direction, "limit": limit}, {}
    )
    got = behaviour.run_journeys(wiring.engine(), q)
    counts, total = journeys(loaded, page, direction, keep)
    assert got["visits"] == total > 0
    assert got["results"] == [
        {"page": p, "visits": n, "percentage": round(100 * n / total, 1)}
        for p, n in ranked(counts, limit)
    ]
    assert ("(exit)" if direction == "next" else "(entrance)") in counts


@pytest.mark.parametrize(
    ("n", "start", "flt", "limit"),
    [
        (2, None, NO_FILTER, 100),
        (3, None, NO_FILTER, 5),
        (4, "/", SIGNED_UP, 100),
        (3, "/*", MOBILE, 7),
    ],
)
def test_paths(loaded, n, start, flt, limit) -> None:
    filters, keep = flt
    body = {"site_id": "example.com", "date_range": ALL, "filters": filters, "steps": n}
    q = behaviour_query.parse_paths({**body, "start_page": start, "limit": limit}, {})
    got = behaviour.run_paths(wiring.engine(), q)
    expected = ranked(paths(loaded, n, start, keep), limit)
    assert got["results"] == [{"path": list(p), "visits": v} for p, v in expected]
    assert expected


# ---- retention: site-supplied user ids ------------------------------------------------------

MONDAY = datetime(2026, 2, 2, tzinfo=UTC)
AGENTS = [CHROME_UA, IPHONE_UA, FIREFOX_UA]


@pytest.fixture
def with_users(local_env, monkeypatch):
    """35 days of traffic; 25 signed-in users (string and integer ids) who come back on
    random days, plus anonymous visitors and a site without user ids."""
    monkeypatch.setenv("BEACONLAKE_USER_ID_SITES", "example.com")
    wiring.reset()
    p = wiring.ports()
    rng = random.Random(11)
    activity: list[tuple[str, datetime]] = []
    for u in range(25):
        user: str | int = f"user-{u}@example.org" if u % 3 else 10_000 + u
        start = rng.randint(0, 20)
        for day in sorted({start, *rng.sample(range(start, 35), rng.randint(0, 6))}):
            at = MONDAY + timedelta(days=day, hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
            meta = RequestMeta(f"10.2.{u}.{day}", AGENTS[u % 3])
            data = {"n": "pageview", "u": "https://example.com/app", "d": "example.com"}
            data["uid" if u % 2 else "user_id"] = user
            outcome = collect(data, meta, p.policy, lambda d: b"s" * 32, at)
            p.sink.put(outcome.events)
            activity.append((str(user), at))
    for v in range(10):
        at = MONDAY + timedelta(days=rng.randint(0, 34), hours=3)
        for site in ("example.com", "shop.test"):
            data = {"n": "pageview", "u": f"https://{site}/", "d": site, "user_id": f"anon-{v}"}
            if site == "example.com":
                del data["user_id"]
            p.sink.put(
                collect(
                    data, RequestMeta(f"10.3.0.{v}", CHROME_UA), p.policy, lambda d: b"s" * 32, at
                ).events
            )
    p.sink.flush()
    return activity


@pytest.mark.parametrize(
    ("period", "first", "last"),
    [
        ("week", date(2026, 2, 4), date(2026, 3, 8)),
        ("week", date(2026, 2, 2), date(2026, 2, 22)),
        ("day", date(2026, 2, 10), date(2026, 3, 1)),
    ],
)
def test_retention(with_users, period, first, last) -> None:
    body = {"site_id": "example.com", "date_range": [first.isoformat(), last.isoformat()]}
    q = behaviour_query.parse_retention({**body, "period": period})
    got = behaviour.run_retention(wiring.engine(), q, enabled=True)
    expected = retention(with_users, first, last, period)
    assert got == {"available": True, "period": period, "cohorts": expected}
    assert sum(c["users"] for c in expected) > 5


def test_user_ids_are_stored_only_as_keyed_hashes(with_users) -> None:
    rows = wiring.engine().query(
        "SELECT site_id, user_id FROM events WHERE user_id IS NOT NULL GROUP BY site_id, user_id",
        [],
    )
    stored = {r["user_id"] for r in rows}
    assert {r["site_id"] for r in rows} == {"example.com"}
    assert len(stored) == len({u for u, _ in with_users})
    assert all(len(h) == 32 and int(h, 16) >= 0 for h in stored)
    assert not stored & {u for u, _ in with_users}


def test_retention_without_user_ids_says_why(with_users) -> None:
    q = behaviour_query.parse_retention({"site_id": "shop.test", "date_range": "30d"})
    got = behaviour.run_retention(wiring.engine(), q, enabled=False)
    assert got["available"] is False and got["cohorts"] == []
    assert "BEACONLAKE_USER_ID_SITES" in got["reason"]


# ---- realtime: stored and still-buffered events ---------------------------------------------

NOW = datetime(2026, 3, 10, 0, 2, 30, 250_000, tzinfo=UTC)  # the window crosses midnight


def SALT(day: str) -> bytes:  # noqa: N802
    return b"r" * 32


def test_realtime_counts_stored_and_pending_events(local_env) -> None:
    p = wiring.ports()
    rng = random.Random(5)
    hits: list[Hit] = []
    for v in range(30):
        meta = RequestMeta(f"10.4.0.{v}", AGENTS[v % 3])
        at = NOW - timedelta(minutes=rng.randint(0, 45), seconds=rng.randint(0, 59))
        for _ in range(rng.randint(1, 5)):
            name = rng.choice(["pageview", "pageview", "engagement", "Signup"])
            data = {"n": name, "u": "https://example.com/x", "d": "example.com"}
            p.sink.put(collect(data, meta, p.policy, lambda d: b"r" * 32, at).events)
            hits.append(Hit(v, at, name, "/x"))
            at += timedelta(seconds=rng.randint(1, 200))
            if at > NOW:
                break
        if v == 20:
            p.sink.flush()  # the first visitors are stored, the rest still buffered
    other = {"n": "pageview", "u": "https://shop.test/", "d": "shop.test"}
    p.sink.put(
        collect(
            other, RequestMeta("10.5.0.1", CHROME_UA), p.policy, lambda d: b"r" * 32, NOW
        ).events
    )
    assert p.pending()
    got = behaviour.run_realtime(wiring.engine(), "example.com", NOW, p.pending())
    start = NOW.replace(second=0, microsecond=0) - timedelta(minutes=29)
    in_window = [h for h in hits if h.at >= start]
    assert got == realtime(in_window, NOW)
    assert got["visitors"] > 0 and len(got["series"]) == 30
    assert sum(m["pageviews"] for m in got["series"]) > 0


# ---- sites in other time zones: the visits that started in the range's local days ----------

LA, KOLKATA = "America/Los_Angeles", "Asia/Kolkata"
LOCAL = ["2026-03-07", "2026-03-08"]  # around LA's change to daylight saving time


@pytest.mark.parametrize("tz", [LA, KOLKATA])
def test_zone_funnel_sequence_journeys_and_paths(dst_loaded, tz) -> None:
    hits = in_days(dst_loaded, tz, date(2026, 3, 7), date(2026, 3, 8))
    scope = {"site_id": "example.com", "date_range": LOCAL}
    steps = [{"page": "/"}, {"page": "/pric*"}, {"event": "Purchase"}]
    body = checked(behaviour_query.FunnelBody, {**scope, "steps": steps, "window_minutes": 1440})
    got = behaviour.run_funnel(wiring.engine(), behaviour_query.funnel_query(body, (), tz))
    counts = funnel(hits, _steps(steps), timedelta(minutes=1440))
    assert got == funnel_answer([s.label for s in body.steps], counts) and counts[0] > 0
    seq = checked(behaviour_query.SequenceBody, {**scope, "steps": steps[:2], "unit": "visits"})
    got = behaviour.run_sequence(wiring.engine(), behaviour_query.sequence_query(seq, (), tz))
    assert (got["count"], got["total"]) == sequence_count(hits, _steps(steps[:2]), "visits")
    jb = checked(behaviour_query.JourneyBody, {**scope, "page": "/", "direction": "next"})
    got = behaviour.run_journeys(wiring.engine(), behaviour_query.journey_query(jb, (), tz))
    counts_j, total = journeys(hits, "/", "next")
    assert got["visits"] == total > 0
    assert {r["page"]: r["visits"] for r in got["results"]} == counts_j
    pb = checked(behaviour_query.PathsBody, {**scope, "steps": 2, "limit": 100})
    got = behaviour.run_paths(wiring.engine(), behaviour_query.paths_query(pb, (), tz))
    expected = ranked(paths(hits, 2), 100)
    assert got["results"] == [{"path": list(p), "visits": v} for p, v in expected]


@pytest.mark.parametrize("period", ["day", "week"])
def test_zone_retention_counts_local_days(with_users, period) -> None:
    first, last = date(2026, 2, 4), date(2026, 3, 1)
    raw = {"site_id": "example.com", "date_range": [first.isoformat(), last.isoformat()]}
    body = checked(behaviour_query.RetentionBody, {**raw, "period": period})
    q = behaviour_query.retention_query(body, KOLKATA)
    got = behaviour.run_retention(wiring.engine(), q, enabled=True)
    expected = retention(with_users, first, last, period, KOLKATA)
    assert got == {"available": True, "period": period, "cohorts": expected}
    assert expected != retention(with_users, first, last, period)  # the zone matters here


def test_zone_realtime_labels_minutes_in_the_site_zone(local_env) -> None:
    """The window is the same instants in every zone; Kolkata's minutes are labelled +05:30."""
    p = wiring.ports()
    hits = []
    for v in range(6):
        at = NOW - timedelta(minutes=3 * v)
        data = {"n": "pageview", "u": "https://example.com/x", "d": "example.com"}
        p.sink.put(collect(data, RequestMeta(f"10.6.0.{v}", CHROME_UA), p.policy, SALT, at).events)
        hits.append(Hit(v, at, "pageview", "/x"))
    p.sink.flush()
    got = behaviour.run_realtime(wiring.engine(), "example.com", NOW, [], KOLKATA)
    assert got == realtime(hits, NOW, KOLKATA)
    assert got["series"][-1]["minute"] == "2026-03-10T05:32:00+05:30"
    assert got["visitors"] == 2
