"""Every stats number equals an independent computation from the sent beacons.

Beacons go through the real collector service (with a fixed clock per beacon), the real
Parquet sink and the DuckDB engine; the expected numbers come from tests/reference.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from beaconlake import wiring
from beaconlake.ports import Rollup
from beaconlake.stats import service
from beaconlake.stats.query import METRICS, DateRange, Filter, StatsQuery
from tests.reference import breakdown, by_start_bucket, in_days, metrics

pytestmark = pytest.mark.usefixtures("engine_mode")


def query(days: DateRange, **kw) -> StatsQuery:
    return StatsQuery(site_id="example.com", date_range=days, metrics=METRICS, **kw)


ALL_DAYS = DateRange(date(2026, 3, 9), date(2026, 3, 20))


def test_each_mode_rolls_up_the_days_up_to_its_today(loaded, engine_mode) -> None:
    """Days before today from rollup files, today from the live day, later days from events."""
    rollup = engine_mode.session_rollup("example.com", ALL_DAYS.first, ALL_DAYS.last)
    today = engine_mode.today()
    if today < ALL_DAYS.first:
        assert rollup is None
    else:
        assert rollup == Rollup(ALL_DAYS.first, min(today, ALL_DAYS.last))
    # the live day took the flushes in one by one: computed whole once, when first read
    assert engine_mode.live.recomputed == 1
    if ALL_DAYS.first <= today <= ALL_DAYS.last:
        assert engine_mode.live.merged >= 3


def test_aggregate_matches_reference(loaded) -> None:
    got = service.aggregate(wiring.engine(), query(ALL_DAYS))
    assert {k: v["value"] for k, v in got.items()} == metrics(loaded)


def test_aggregate_of_one_day_counts_only_that_day(loaded) -> None:
    one = DateRange(date(2026, 3, 10), date(2026, 3, 10))
    day_hits = [h for h in loaded if h.at.date() == date(2026, 3, 10)]
    got = service.aggregate(wiring.engine(), query(one))
    assert {k: v["value"] for k, v in got.items()} == metrics(day_hits)


@pytest.mark.parametrize(
    ("dimension", "key"),
    [
        ("visit:source", "source"),
        ("visit:entry_page", "entry_page"),
        ("visit:exit_page", "exit_page"),
        ("visit:utm_source", "utm_source"),
        ("visit:utm_medium", "utm_medium"),
        ("visit:browser", "browser"),
        ("visit:os", "os"),
        ("visit:device", "device"),
        ("visit:country", "country"),
        ("event:page", "page"),
    ],
)
def test_breakdowns_match_reference(loaded, dimension: str, key: str) -> None:
    q = query(ALL_DAYS, dimension=dimension, limit=1000)
    rows = service.breakdown(wiring.engine(), q)
    result_key = dimension.split(":")[-1]
    got = {(r[result_key] if r[result_key] != "Direct / None" else None): r for r in rows}
    expected = breakdown(loaded, key)
    assert set(got) == set(expected)
    for value, exp in expected.items():
        assert {m: got[value][m] for m in METRICS} == exp, value
    ordered = [r["visitors"] for r in rows]
    assert ordered == sorted(ordered, reverse=True)


@pytest.mark.parametrize(
    ("dimension", "key"),
    [
        (None, None),
        ("visit:source", "source"),
        ("visit:country", "country"),
        ("event:page", "page"),
    ],
)
def test_each_metric_asked_alone_matches_reference(loaded, dimension, key) -> None:
    """A statement computes only the columns its metrics read (sql.raw_columns_needed), so a
    metric asked on its own must not lose what it is computed from."""
    for metric in METRICS:
        q = replace(query(ALL_DAYS, dimension=dimension, limit=1000), metrics=(metric,))
        if dimension is None:
            got = {None: service.aggregate(wiring.engine(), q)[metric]["value"]}
            expected = {None: metrics(loaded)[metric]}
        else:
            rows = service.breakdown(wiring.engine(), q)
            result_key = dimension.split(":")[-1]
            got = {r[result_key]: r[metric] for r in rows}
            got = {(v if v != "Direct / None" else None): n for v, n in got.items()}
            expected = {v: e[metric] for v, e in breakdown(loaded, key).items()}
        assert got == expected, metric


@pytest.mark.parametrize(
    ("dimension", "key"), [("event:name", "name"), ("event:props:plan", "props:plan")]
)
def test_event_breakdowns_match_reference(loaded, dimension: str, key: str) -> None:
    event_metrics = ("visitors", "pageviews", "events")
    q = replace(query(ALL_DAYS, dimension=dimension, limit=1000), metrics=event_metrics)
    rows = service.breakdown(wiring.engine(), q)
    result_key = dimension.split(":")[-1]
    got = {r[result_key]: {m: r[m] for m in event_metrics} for r in rows}
    expected = {v: {m: e[m] for m in event_metrics} for v, e in breakdown(loaded, key).items()}
    assert got == expected


@pytest.mark.parametrize(
    ("flt", "keep"),
    [
        (Filter("event:page", "is", ("/pricing",)), lambda h, s: h.path == "/pricing"),
        (
            Filter("event:page", "is_not", ("/pricing", "/")),
            lambda h, s: h.path not in ("/pricing", "/"),
        ),
        (Filter("event:page", "contains", ("BLOG",)), lambda h, s: "blog" in h.path),
        (Filter("event:page", "contains_not", ("o",)), lambda h, s: "o" not in h.path),
        (Filter("visit:source", "is", ("Google",)), lambda h, s: s.first.source == "Google"),
        (Filter("visit:entry_page", "is", ("/",)), lambda h, s: s.attr("entry_page") == "/"),
        (Filter("event:props:plan", "is", ("pro",)), lambda h, s: h.props.get("plan") == "pro"),
        (Filter("visit:country", "is_not", ("DE",)), lambda h, s: h.country != "DE"),
    ],
)
def test_filters_match_reference(loaded, flt: Filter, keep) -> None:
    got = service.aggregate(wiring.engine(), query(ALL_DAYS, filters=(flt,)))
    assert {k: v["value"] for k, v in got.items()} == metrics(loaded, keep)


def test_daily_timeseries_matches_reference(loaded) -> None:
    q = replace(query(ALL_DAYS, interval="day"), metrics=("visitors", "pageviews", "events"))
    series = service.timeseries(wiring.engine(), q)
    assert [row["date"] for row in series] == [d.isoformat() for d in ALL_DAYS.days()]
    for row in series:
        day_hits = [h for h in loaded if h.at.date().isoformat() == row["date"]]
        exp = metrics(day_hits) if day_hits else {"visitors": 0, "pageviews": 0, "events": 0}
        assert {m: row[m] for m in q.metrics} == {m: exp[m] for m in q.metrics}


def test_hourly_timeseries_counts_visits_by_session_start(loaded) -> None:
    one = DateRange(date(2026, 3, 10), date(2026, 3, 10))
    q = replace(query(one, interval="hour"), metrics=("pageviews", "visits"))
    series = service.timeseries(wiring.engine(), q)
    assert len(series) == 24
    day_hits = [h for h in loaded if h.at.date() == date(2026, 3, 10)]
    from tests.reference import sessions

    for row in series:
        hour = datetime.fromisoformat(row["date"]).hour
        assert row["pageviews"] == sum(h.name == "pageview" and h.at.hour == hour for h in day_hits)
        assert row["visits"] == sum(s.first.at.hour == hour for s in sessions(day_hits))


PAGE_METRICS = ("visitors", "pageviews", "events")


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        ((), lambda h, s: True),
        ((Filter("visit:device", "is", ("desktop",)),), lambda h, s: h.device == "desktop"),
        (
            (Filter("event:page", "contains", ("o",)), Filter("visit:country", "is_not", ("DE",))),
            lambda h, s: "o" in h.path and h.country != "DE",
        ),
    ],
)
def test_pages_panel_matches_reference(loaded, engine_mode, filters, keep) -> None:
    """The pages panel reads the per-visitor-and-page rollup for the days it covers."""
    q = StatsQuery(
        "example.com", ALL_DAYS, PAGE_METRICS, dimension="event:page", limit=1000, filters=filters
    )
    rows = service.breakdown(wiring.engine(), q)
    got = {r["page"]: {m: r[m] for m in PAGE_METRICS} for r in rows}
    expected = {
        page: metrics(loaded, lambda h, s, page=page: h.path == page and keep(h, s))
        for page in {h.path for h in loaded}
    }
    assert got == {
        page: {m: e[m] for m in PAGE_METRICS} for page, e in expected.items() if e["visitors"]
    }
    rolled_up = engine_mode.today() > ALL_DAYS.first
    assert ("page_rollup" in service.statement(wiring.engine(), q).sql) == rolled_up


def test_visitors_of_several_pages_count_each_visitor_once(loaded) -> None:
    pages = Filter("event:page", "is", ("/", "/pricing"))
    q = StatsQuery("example.com", ALL_DAYS, PAGE_METRICS, filters=(pages,))
    got = {k: v["value"] for k, v in service.aggregate(wiring.engine(), q).items()}
    expected = metrics(loaded, lambda h, s: h.path in ("/", "/pricing"))
    assert got == {m: expected[m] for m in PAGE_METRICS}


# ---- sites in other time zones (tests/reference.py: visits by their local start) ------------

ZONES = ["America/Los_Angeles", "Asia/Kolkata"]  # with a change to DST; with a half hour
DST_DAYS = DateRange(date(2026, 3, 6), date(2026, 3, 11))  # local days around dst_loaded
EMPTY = {
    "visitors": 0,
    "visits": 0,
    "pageviews": 0,
    "events": 0,
    "bounce_rate": 0,
    "visit_duration": 0,
    "views_per_visit": 0.0,
}


def zoned(first: date, last: date, tz: str) -> DateRange:
    return DateRange(first, last, timezone=tz)


def zone_query(days: DateRange, **kw) -> StatsQuery:
    return StatsQuery(site_id="example.com", date_range=days, metrics=tuple(EMPTY), **kw)


@pytest.mark.parametrize("tz", ZONES)
def test_zone_days_match_reference(dst_loaded, engine_mode, tz: str) -> None:
    """Each local day (LA's 2026-03-08 has 23 hours) and the whole range, whether the UTC days
    holding them come from rollup files, the live day or events."""
    for day in [*DST_DAYS.days(), None]:
        first, last = (day, day) if day else (DST_DAYS.first, DST_DAYS.last)
        q = zone_query(zoned(first, last, tz))
        got = {k: v["value"] for k, v in service.aggregate(wiring.engine(), q).items()}
        hits = in_days(dst_loaded, tz, first, last)
        assert got == (metrics(hits) if hits else EMPTY), (tz, day)
    q = zone_query(zoned(DST_DAYS.first, DST_DAYS.last, tz))
    rolled_up = engine_mode.today() > date(2026, 3, 7)
    assert ("session_rollup" in service.statement(wiring.engine(), q).sql) == rolled_up


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize("interval", ["hour", "day", "week", "month"])
def test_zone_timeseries_buckets_visits_by_their_local_start(dst_loaded, tz, interval) -> None:
    first, last = (date(2026, 3, 8),) * 2 if interval == "hour" else (DST_DAYS.first, DST_DAYS.last)
    days = zoned(first, last, tz)
    wanted = ("visitors", "visits", "pageviews", "events", "bounce_rate")
    q = replace(zone_query(days, interval=interval), metrics=wanted)
    series = service.timeseries(wiring.engine(), q)
    if interval == "hour":  # the clocks skip 02:00 in Los Angeles that day
        assert len(series) == (23 if tz == "America/Los_Angeles" else 24)
    hits = in_days(dst_loaded, tz, days.first, days.last)
    buckets = by_start_bucket(hits, tz, interval)
    assert set(buckets) <= {row["date"] for row in series}
    for row in series:
        exp = metrics(buckets[row["date"]]) if row["date"] in buckets else EMPTY
        assert {m: row[m] for m in wanted} == {m: exp[m] for m in wanted}, row["date"]


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize(
    ("dimension", "key"),
    [
        ("visit:source", "source"),
        ("visit:entry_page", "entry_page"),
        ("visit:country", "country"),
        ("event:page", "page"),
        ("event:name", "name"),
    ],
)
def test_zone_breakdowns_match_reference(dst_loaded, tz, dimension, key) -> None:
    days = zoned(date(2026, 3, 7), date(2026, 3, 8), tz)
    wanted = ("visitors", "visits", "pageviews", "events", "bounce_rate", "visit_duration")
    q = replace(zone_query(days, dimension=dimension, limit=1000), metrics=wanted)
    rows = service.breakdown(wiring.engine(), q)
    result_key = dimension.split(":")[-1]
    got = {(r[result_key] if r[result_key] != "Direct / None" else None): r for r in rows}
    expected = breakdown(in_days(dst_loaded, tz, days.first, days.last), key)
    assert set(got) == set(expected)
    for value, exp in expected.items():
        assert {m: got[value][m] for m in wanted} == {m: exp[m] for m in wanted}, value


@pytest.mark.parametrize("tz", ZONES)
def test_zone_filters_match_reference(dst_loaded, tz) -> None:
    days = zoned(date(2026, 3, 7), date(2026, 3, 9), tz)
    flt = Filter("event:page", "is", ("/pricing",))
    got = service.aggregate(wiring.engine(), zone_query(days, filters=(flt,)))
    hits = in_days(dst_loaded, tz, days.first, days.last)
    expected = metrics(hits, lambda h, s: h.path == "/pricing")
    assert {k: v["value"] for k, v in got.items()} == expected


@pytest.mark.parametrize("tz", ZONES)
def test_zone_pages_panel_reads_the_pages_rollup_inside_the_range(dst_loaded, engine_mode, tz):
    """UTC days wholly inside the local range come from the pages rollup; the range's edges
    (part UTC days) from the events of the visits that started in it."""
    days = zoned(DST_DAYS.first, DST_DAYS.last, tz)
    device = (Filter("visit:device", "is", ("desktop",)),)
    for filters in ((), device):
        q = StatsQuery(
            "example.com", days, PAGE_METRICS, dimension="event:page", limit=1000, filters=filters
        )
        rows = service.breakdown(wiring.engine(), q)
        hits = in_days(dst_loaded, tz, days.first, days.last)
        keep = (lambda h, s: h.device == "desktop") if filters else (lambda h, s: True)
        expected = {
            page: metrics(hits, lambda h, s, page=page: h.path == page and keep(h, s))
            for page in {h.path for h in hits}
        }
        assert {r["page"]: {m: r[m] for m in PAGE_METRICS} for r in rows} == {
            page: {m: e[m] for m in PAGE_METRICS} for page, e in expected.items() if e["visitors"]
        }
    used = "page_rollup" in service.statement(wiring.engine(), q).sql
    assert used == (engine_mode.today() >= date(2026, 3, 10))
