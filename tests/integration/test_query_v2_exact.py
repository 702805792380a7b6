"""POST /api/v2/query: every number equals the independent reference computation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from beaconlake import wiring
from beaconlake.stats.channels import channel_of
from beaconlake.stats.query import DateRange, Goal, QueryError
from beaconlake.stats.query_parser import QueryBody, checked, parse_query, stats_query
from beaconlake.stats.query_runner import parse_include, run_query
from beaconlake.stats.service import time_buckets
from tests.reference import (
    by_start_bucket,
    engagement_metrics,
    group,
    in_days,
    matched_hits,
    metrics,
    sessions,
    started_between,
    visit_source,
)

GOALS = {
    "example.com": (
        Goal("Signup", event="Signup"),
        Goal("Pricing page", page="/pric*"),
        Goal("Purchase", event="Purchase"),
    )
}
ALL = ["2026-03-09", "2026-03-20"]
BASIC = [
    "visitors",
    "visits",
    "pageviews",
    "events",
    "bounce_rate",
    "visit_duration",
    "views_per_visit",
]


pytestmark = pytest.mark.usefixtures("engine_mode")


def run(body: dict, ref: date | None = None) -> dict:
    q = parse_query({"site_id": "example.com", "date_range": ALL, **body}, GOALS, ref)
    return run_query(wiring.engine(), q, parse_include(body.get("include")), ref)


def as_map(result: dict, metrics_: list[str]) -> dict:
    return {
        tuple(r["dimensions"]): dict(zip(metrics_, r["metrics"], strict=True))
        for r in result["results"]
    }


def test_aggregate_all_metrics(loaded) -> None:
    wanted = [*BASIC, "scroll_depth", "time_on_page", "total_revenue", "average_revenue"]
    got = as_map(run({"metrics": wanted}), wanted)[()]
    exp = metrics(loaded) | engagement_metrics(loaded)
    assert got == {m: exp[m] for m in wanted}


def test_two_dimensions(loaded) -> None:
    result = run({"metrics": BASIC, "dimensions": ["visit:source", "visit:device"]})
    got = as_map(result, BASIC)
    key = lambda h, s: (visit_source(s), h.device)  # noqa: E731
    expected = {k: metrics(loaded, keep) for k, keep in group(loaded, key).items()}
    assert got == {tuple(k): v for k, v in expected.items()}


def test_channels(loaded) -> None:
    got = as_map(
        run({"metrics": ["visitors", "visits"], "dimensions": ["visit:channel"]}),
        ["visitors", "visits"],
    )
    key = lambda h, s: channel_of(s.first.source, s.first.utm.get("utm_medium"))  # noqa: E731
    expected = {
        (k,): {m: metrics(loaded, keep)[m] for m in ("visitors", "visits")}
        for k, keep in group(loaded, key).items()
    }
    assert got == expected
    assert {"Direct", "Organic Search", "Organic Social", "Email", "Referral"} <= {
        k[0] for k in got
    }


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        (
            [["or", [["is", "event:page", ["/docs"]], ["contains", "event:page", ["blog"]]]]],
            lambda h, s: h.path == "/docs" or "blog" in h.path,
        ),
        (
            [["not", ["is", "visit:device", ["mobile"]]], ["is_not", "visit:source", ["Google"]]],
            lambda h, s: h.device != "mobile" and s.first.source != "Google",
        ),
        (
            [["matches", "event:page", ["^/(docs|signup)$"]]],
            lambda h, s: h.path in ("/docs", "/signup"),
        ),
        ([["matches_not", "event:page", ["^/"]]], lambda h, s: False),
        (
            [["has_done", ["is", "event:name", ["Signup"]]]],
            lambda h, s: any(x.name == "Signup" for x in s.hits),
        ),
        (
            [["has_not_done", ["is", "event:page", ["/pricing"]]]],
            lambda h, s: not any(x.path == "/pricing" for x in s.hits),
        ),
        (  # a goal inside has_done chooses visits: every metric means what it says
            [["has_done", ["is", "event:goal", ["Pricing page"]]]],
            lambda h, s: any(x.name == "pageview" and x.path.startswith("/pric") for x in s.hits),
        ),
        (
            [
                [
                    "and",
                    [
                        ["is", "visit:channel", ["Organic Search"]],
                        ["is", "event:props:plan", ["pro"]],
                    ],
                ]
            ],
            lambda h, s: s.first.source == "Google" and h.props.get("plan") == "pro",
        ),
    ],
)
def test_filter_trees(loaded, filters, keep) -> None:
    got = as_map(run({"metrics": BASIC, "filters": filters}), BASIC)[()]
    assert got == metrics(loaded, keep)


GOAL_CONDITIONS = {
    "Signup": lambda h, s: h.name == "Signup",
    "Pricing page": lambda h, s: h.name == "pageview" and h.path.startswith("/pric"),
    "Purchase": lambda h, s: h.name == "Purchase",
}


def expected_goals(hits) -> dict:
    """Each goal's visitors, events, conversion rate and revenue, by the reference model."""
    total = metrics(hits)["visitors"]
    expected = {}
    for name, keep in GOAL_CONDITIONS.items():
        m = metrics(hits, keep)
        expected[(name,)] = {
            "visitors": m["visitors"],
            "events": m["events"],
            "conversion_rate": round(100 * m["visitors"] / total, 1),
            "total_revenue": engagement_metrics(matched_hits(hits, keep))["total_revenue"],
        }
    return expected


def test_goals_with_conversion_rate_and_revenue(loaded) -> None:
    wanted = ["visitors", "events", "conversion_rate", "total_revenue"]
    got = as_map(run({"metrics": wanted, "dimensions": ["event:goal"]}), wanted)
    assert got == expected_goals(loaded)


def test_percentage_order_pagination_and_total_rows(loaded) -> None:
    body = {
        "metrics": ["visitors", "percentage"],
        "dimensions": ["event:page"],
        "order_by": [["event:page", "asc"]],
        "pagination": {"limit": 2, "offset": 1},
        "include": {"total_rows": True},
    }
    result = run(body)
    pages = sorted({h.path for h in loaded})
    total = metrics(loaded)["visitors"]
    assert result["meta"]["total_rows"] == len(pages)
    assert [r["dimensions"][0] for r in result["results"]] == pages[1:3]
    for r in result["results"]:
        v = metrics(loaded, lambda h, s, p=r["dimensions"][0]: h.path == p)["visitors"]
        assert r["metrics"] == [v, round(100 * v / total, 1)]


def test_time_dimension_with_labels(loaded) -> None:
    result = run(
        {
            "metrics": ["visitors", "visits"],
            "dimensions": ["time:day"],
            "include": {"time_labels": True},
        }
    )
    assert result["meta"]["time_labels"][0] == "2026-03-09"
    for r in result["results"]:
        day = r["dimensions"][0]
        hits = [h for h in loaded if h.at.date().isoformat() == day]
        visits = sum(s.first.at.date().isoformat() == day for s in sessions(loaded))
        assert r["metrics"] == [metrics(hits)["visitors"], visits]


def test_previous_period_comparison(loaded) -> None:
    result = run(
        {
            "metrics": ["visitors", "pageviews", "bounce_rate"],
            "date_range": ["2026-03-11", "2026-03-12"],
            "include": {"comparisons": {"mode": "previous_period"}},
        }
    )
    (row,) = result["results"]
    now = [h for h in loaded if date(2026, 3, 11) <= h.at.date() <= date(2026, 3, 12)]
    before = [h for h in loaded if date(2026, 3, 9) <= h.at.date() <= date(2026, 3, 10)]
    cur, prev = metrics(now), metrics(before)
    assert row["metrics"] == [cur["visitors"], cur["pageviews"], cur["bounce_rate"]]
    assert row["comparison"]["metrics"] == [
        prev["visitors"],
        prev["pageviews"],
        prev["bounce_rate"],
    ]
    assert row["comparison"]["change"] == [
        round((cur["visitors"] - prev["visitors"]) / prev["visitors"] * 100),
        round((cur["pageviews"] - prev["pageviews"]) / prev["pageviews"] * 100),
        float(cur["bounce_rate"] - prev["bounce_rate"]),
    ]
    assert result["meta"]["comparison_date_range"][0].startswith("2026-03-09")


def test_datetime_range_cuts_within_a_day(loaded) -> None:
    result = run(
        {
            "metrics": ["pageviews"],
            "date_range": ["2026-03-10T06:00:00+00:00", "2026-03-10T17:59:59.999+00:00"],
        }
    )
    hits = [h for h in loaded if h.at.date() == date(2026, 3, 10) and 6 <= h.at.hour < 18]
    assert result["results"][0]["metrics"] == [metrics(hits)["pageviews"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"metrics": []}, "metrics"),
        ({"metrics": ["visitors", "money"]}, "metrics[1]"),
        ({"metrics": ["visits"], "dimensions": ["event:name"]}, "metrics"),
        ({"metrics": ["conversion_rate"]}, "metrics"),
        ({"metrics": ["percentage"]}, "metrics"),
        ({"metrics": ["visitors"], "dimensions": ["visit:nope"]}, "dimensions[0]"),
        ({"metrics": ["visitors"], "filters": [["equals", "event:page", ["/"]]]}, "filters[0]"),
        ({"metrics": ["visitors"], "filters": [["is", "event:page", "/"]]}, "filters[0]"),
        (
            {"metrics": ["visitors"], "filters": [["or", [["is", "x:y", ["/"]]]]]},
            "filters[0][1][0][1]",
        ),
        ({"metrics": ["visitors"], "filters": [["is", "event:goal", ["Nope"]]]}, "filters"),
        ({"metrics": ["visitors"], "date_range": "fortnight"}, "date_range"),
        ({"metrics": ["visitors"], "date_range": ["2026-03-10", "2026-03-01"]}, "date_range"),
        ({"metrics": ["visitors"], "order_by": [["pageviews", "desc"]]}, "order_by[0]"),
        ({"metrics": ["visitors"], "pagination": {"limit": 0}}, "pagination.limit"),
        ({"metrics": ["visitors"], "dimensions": ["time:day", "time:hour"]}, "dimensions"),
        (
            {"metrics": ["visitors"], "include": {"comparisons": {"mode": "yesterday"}}},
            "include.comparisons.mode",
        ),
    ],
)
def test_bad_queries_name_the_field(local_env, body, field) -> None:
    with pytest.raises(QueryError) as err:
        q = parse_query({"site_id": "example.com", **body}, GOALS)
        run_query(wiring.engine(), q, parse_include(body.get("include")))
    assert err.value.field == field


# ---- sites in other time zones (tests/reference.py: visits by their local start) ------------

LA, KOLKATA = "America/Los_Angeles", "Asia/Kolkata"


def run_in(body: dict, tz: str, now: datetime | None = None) -> dict:
    """A v2 body for a site in `tz`, "today" being the zone's date at `now`."""
    checked_body = checked(QueryBody, {"site_id": "example.com", **body})
    q = stats_query(checked_body, GOALS["example.com"], tz)
    if now is not None:
        q = replace(q, date_range=checked_body.date_range.in_zone(tz, now=now))
    return run_query(wiring.engine(), q, parse_include(body.get("include")), None, now)


def test_zone_today_and_no_hour_after_now(dst_loaded) -> None:
    """At 05:00 UTC on 2026-03-08 it is 21:00 on the 7th in Los Angeles: "day" is the 7th,
    its hours end at 21:00 (the current one, partial), and meta says so."""
    now = datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    body = {
        "metrics": ["visits", "pageviews"],
        "date_range": "day",
        "dimensions": ["time:hour"],
        "include": {"time_labels": True},
    }
    result = run_in(body, LA, now)
    labels = result["meta"]["time_labels"]
    assert labels[0] == "2026-03-07 00:00:00" and labels[-1] == "2026-03-07 21:00:00"
    assert result["meta"]["now"] == "2026-03-07T21:00:00"
    assert result["meta"]["timezone"] == LA
    assert result["meta"]["partial_buckets"] == ["2026-03-07 21:00:00"]
    assert result["query"]["date_range"][0] == "2026-03-07T00:00:00"
    buckets = by_start_bucket(
        in_days(dst_loaded, LA, date(2026, 3, 7), date(2026, 3, 7)), LA, "hour"
    )
    expected = {
        (label,): [metrics(hits)["visits"], metrics(hits)["pageviews"]]
        for label, hits in buckets.items()
        if label <= labels[-1]
    }
    assert {tuple(r["dimensions"]): r["metrics"] for r in result["results"]} == expected


def test_zone_weeks_mark_their_partial_ends(dst_loaded) -> None:
    body = {
        "metrics": ["visitors", "visits", "pageviews"],
        "date_range": ["2026-03-04", "2026-03-11"],
        "dimensions": ["time:week"],
        "include": {"time_labels": True},
    }
    result = run_in(body, KOLKATA)
    assert result["meta"]["time_labels"] == ["2026-03-02", "2026-03-09"]
    assert result["meta"]["partial_buckets"] == ["2026-03-02", "2026-03-09"]
    hits = in_days(dst_loaded, KOLKATA, date(2026, 3, 4), date(2026, 3, 11))
    expected = {
        (label,): [metrics(h)[m] for m in ("visitors", "visits", "pageviews")]
        for label, h in by_start_bucket(hits, KOLKATA, "week").items()
    }
    assert {tuple(r["dimensions"]): r["metrics"] for r in result["results"]} == expected


@pytest.mark.parametrize("tz", [LA, KOLKATA])
def test_zone_previous_period(dst_loaded, tz) -> None:
    body = {
        "metrics": ["visitors", "pageviews", "bounce_rate"],
        "date_range": ["2026-03-08", "2026-03-09"],
        "include": {"comparisons": {"mode": "previous_period"}},
    }
    (row,) = run_in(body, tz)["results"]
    cur = metrics(in_days(dst_loaded, tz, date(2026, 3, 8), date(2026, 3, 9)))
    prev = metrics(in_days(dst_loaded, tz, date(2026, 3, 6), date(2026, 3, 7)))
    assert row["metrics"] == [cur["visitors"], cur["pageviews"], cur["bounce_rate"]]
    assert row["comparison"]["metrics"] == [
        prev["visitors"],
        prev["pageviews"],
        prev["bounce_rate"],
    ]


@pytest.mark.parametrize(
    ("tz", "date_range", "start", "end"),
    [  # a time with an offset is an instant; one without is the site's wall-clock time
        (
            KOLKATA,
            ["2026-03-08T06:00:00+00:00", "2026-03-08T17:59:59.999+00:00"],
            datetime(2026, 3, 8, 11, 30),
            datetime(2026, 3, 8, 23, 30),
        ),
        (
            LA,
            ["2026-03-08T09:00:00", "2026-03-08T16:59:59.999"],
            datetime(2026, 3, 8, 9),
            datetime(2026, 3, 8, 17),
        ),
    ],
)
def test_zone_times_within_a_day(dst_loaded, tz, date_range, start, end) -> None:
    result = run_in({"metrics": ["visits", "pageviews"], "date_range": date_range}, tz)
    hits = started_between(dst_loaded, tz, start, end)
    assert result["results"][0]["metrics"] == [metrics(hits)["visits"], metrics(hits)["pageviews"]]


def test_zone_day_lengths_and_the_repeated_hour() -> None:
    """Hours of a local day: 23 when the clocks skip one (no 02:00), 24 labels for the 25
    hours of the day they repeat one (01:00 holds both); Kolkata's are whole local hours."""
    hours = {
        day: time_buckets(DateRange(day, day, timezone=LA), "hour")
        for day in (date(2026, 3, 8), date(2026, 11, 1))
    }
    assert len(hours[date(2026, 3, 8)]) == 23
    assert "2026-03-08 02:00:00" not in hours[date(2026, 3, 8)]
    assert len(hours[date(2026, 11, 1)]) == 24
    kolkata = time_buckets(DateRange(date(2026, 3, 8), date(2026, 3, 8), timezone=KOLKATA), "hour")
    assert kolkata[0] == "2026-03-08 00:00:00" and len(kolkata) == 24
    back = DateRange(date(2026, 11, 1), date(2026, 11, 1), timezone=LA)
    assert (back.end_utc - back.start_utc).total_seconds() == 25 * 3600
    assert back.dt_days() == (date(2026, 11, 1), date(2026, 11, 2))
