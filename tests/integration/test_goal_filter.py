"""An `event:goal` filter turns a query into a conversion query, as in Plausible: visitors
are unique conversions, events total conversions, conversion_rate and group_conversion_rate
are read against the visitors without the goal filter; metrics of whole visits or pages are
refused (400, rule goal_filter), never answered as numbers that contradict each other. Every
number equals the reference model's, in every rollup state."""

from __future__ import annotations

from datetime import date

import pytest

from beaconlake import wiring
from beaconlake.stats import legacy, service
from beaconlake.stats.query import Goal, QueryError
from beaconlake.stats.query_parser import parse_query
from beaconlake.stats.query_runner import parse_include, run_query
from tests.reference import (
    engagement_metrics,
    matched_hits,
    metrics,
    sessions,
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
IS_GOAL = {
    "Signup": lambda h, s: h.name == "Signup",
    "Pricing page": lambda h, s: h.name == "pageview" and h.path.startswith("/pric"),
    "Purchase": lambda h, s: h.name == "Purchase",
}
CONVERSIONS = ["visitors", "events", "conversion_rate", "total_revenue", "average_revenue"]

pytestmark = pytest.mark.usefixtures("engine_mode")


def run(body: dict) -> dict:
    q = parse_query({"site_id": "example.com", "date_range": ALL, **body}, GOALS)
    return run_query(wiring.engine(), q, parse_include(body.get("include")))


def as_map(result: dict, wanted: list[str]) -> dict:
    return {
        tuple(r["dimensions"]): dict(zip(wanted, r["metrics"], strict=True))
        for r in result["results"]
    }


def rate(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def conversions(hits, keep) -> dict:
    """The reference's conversion figures for the hits `keep` matches."""
    m = metrics(hits, keep)
    money = engagement_metrics(matched_hits(hits, keep))
    return {
        "visitors": m["visitors"],
        "events": m["events"],
        "conversion_rate": rate(m["visitors"], metrics(hits)["visitors"]),
        "total_revenue": money["total_revenue"],
        "average_revenue": money["average_revenue"],
    }


@pytest.mark.parametrize(
    ("flt", "keep"),
    [
        (["is", "event:goal", ["Signup"]], IS_GOAL["Signup"]),
        (["is", "event:goal", ["Purchase"]], IS_GOAL["Purchase"]),
        (
            ["is", "event:goal", ["Signup", "Pricing page"]],
            lambda h, s: IS_GOAL["Signup"](h, s) or IS_GOAL["Pricing page"](h, s),
        ),
        # contains: the goals whose name holds the text, in any case
        (["contains", "event:goal", ["PRIC"]], IS_GOAL["Pricing page"]),
        (
            ["contains", "event:goal", ["up", "chase"]],
            lambda h, s: IS_GOAL["Signup"](h, s) or IS_GOAL["Purchase"](h, s),
        ),
        (["contains", "event:goal", ["no such goal"]], lambda h, s: False),
        (["is_not", "event:goal", ["Signup"]], lambda h, s: not IS_GOAL["Signup"](h, s)),
    ],
)
def test_a_goal_filter_answers_conversions(loaded, flt, keep) -> None:
    got = as_map(run({"metrics": CONVERSIONS, "filters": [flt]}), CONVERSIONS)[()]
    assert got == conversions(loaded, keep)
    if flt[0] == "is":
        assert got["visitors"] > 0 and got["events"] >= got["visitors"]


def test_v1_aggregate_and_goal_breakdown_with_conversion_rate(loaded) -> None:
    """Plausible's v1: conversion_rate with a goal filter, and in an event:goal breakdown
    (which a Plausible client asks for and used to get a 400 for)."""
    r = legacy.V1Request(
        site_id="example.com",
        period="custom",
        start=ALL[0],
        end=ALL[1],
        metrics="visitors,events,conversion_rate",
        filters="event:goal==Signup",
    )
    got = service.aggregate(wiring.engine(), legacy.translate(r, GOALS["example.com"], "aggregate"))
    exp = conversions(loaded, IS_GOAL["Signup"])
    assert {k: v["value"] for k, v in got.items()} == {
        m: exp[m] for m in ("visitors", "events", "conversion_rate")
    }
    r = legacy.V1Request(
        site_id="example.com",
        period="custom",
        start=ALL[0],
        end=ALL[1],
        metrics="visitors,conversion_rate",
        property="event:goal",
    )
    rows = service.breakdown(
        wiring.engine(), legacy.translate(r, GOALS["example.com"], "breakdown")
    )
    assert {row["goal"]: (row["visitors"], row["conversion_rate"]) for row in rows} == {
        name: (c["visitors"], c["conversion_rate"])
        for name, keep in IS_GOAL.items()
        for c in [conversions(loaded, keep)]
    }


GROUPS = {
    "visit:source": lambda h, s: visit_source(s),
    "event:page": lambda h, s: h.path,
    "visit:device": lambda h, s: h.device,
    "time:day": lambda h, s: h.at.date().isoformat(),
}


@pytest.mark.parametrize("dimension", list(GROUPS))
def test_group_conversion_rate_by_any_other_dimension(loaded, dimension) -> None:
    """A group's conversions ÷ the same group's visitors without the goal filter (Plausible's
    group_conversion_rate); conversion_rate stays the rate against all visitors."""
    wanted = ["visitors", "group_conversion_rate", "conversion_rate", "events"]
    body = {
        "metrics": wanted,
        "dimensions": [dimension],
        "filters": [["is", "event:goal", ["Signup"]]],
    }
    got = as_map(run(body), wanted)
    key, goal = GROUPS[dimension], IS_GOAL["Signup"]
    total = metrics(loaded)["visitors"]
    expected = {}
    for value in {key(h, s) for s in sessions(loaded) for h in s.hits}:
        conv = metrics(loaded, lambda h, s, v=value: key(h, s) == v and goal(h, s))
        if not conv["events"]:
            continue  # a group with no conversion has no row
        base = metrics(loaded, lambda h, s, v=value: key(h, s) == v)["visitors"]
        expected[(value,)] = {
            "visitors": conv["visitors"],
            "group_conversion_rate": rate(conv["visitors"], base),
            "conversion_rate": rate(conv["visitors"], total),
            "events": conv["events"],
        }
    assert got == expected
    assert any(0 < v["group_conversion_rate"] < 100 for v in got.values())


def test_group_conversion_rate_orders_the_rows(loaded) -> None:
    body = {
        "metrics": ["visitors", "group_conversion_rate"],
        "dimensions": ["event:page"],
        "filters": [["is", "event:goal", ["Signup"]]],
        "order_by": [["group_conversion_rate", "desc"]],
    }
    rates = [r["metrics"][1] for r in run(body)["results"]]
    assert rates == sorted(rates, reverse=True) and len(rates) > 1


@pytest.mark.parametrize(
    "metric",
    ["visits", "bounce_rate", "visit_duration", "views_per_visit", "scroll_depth", "time_on_page"],
)
@pytest.mark.parametrize(
    "flt",
    [
        ["is", "event:goal", ["Signup"]],
        ["contains", "event:goal", ["sign"]],
        ["is_not", "event:goal", ["Signup"]],
        ["and", [["is", "visit:device", ["mobile"]], ["is", "event:goal", ["Purchase"]]]],
    ],
)
def test_metrics_of_whole_visits_are_refused_under_a_goal_filter(local_env, metric, flt) -> None:
    with pytest.raises(QueryError) as err:
        run({"metrics": ["visitors", metric], "filters": [flt]})
    assert (err.value.field, err.value.rule) == ("metrics", "goal_filter")
    assert metric in err.value.message and "conversion_rate" in err.value.message


def test_v1_refuses_session_metrics_with_a_goal_filter(local_env) -> None:
    r = legacy.V1Request(
        site_id="example.com", metrics="visitors,bounce_rate", filters="event:goal==Signup"
    )
    with pytest.raises(QueryError) as err:
        legacy.translate(r, GOALS["example.com"], "aggregate")
    assert (err.value.field, err.value.rule) == ("metrics", "goal_filter")
    assert "bounce_rate" in err.value.message


def test_a_goal_inside_has_done_chooses_visits_and_allows_their_metrics(loaded) -> None:
    wanted = ["visits", "bounce_rate", "views_per_visit"]
    flt = ["has_done", ["is", "event:goal", ["Signup"]]]
    got = as_map(run({"metrics": wanted, "filters": [flt]}), wanted)[()]
    exp = metrics(loaded, lambda h, s: any(x.name == "Signup" for x in s.hits))
    assert got == {m: exp[m] for m in wanted}


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ({"metrics": ["group_conversion_rate"], "dimensions": ["visit:source"]}, "goal"),
        (
            {
                "metrics": ["group_conversion_rate"],
                "filters": [["is", "event:goal", ["Signup"]]],
            },
            "goal",
        ),
        (
            {
                "metrics": ["group_conversion_rate"],
                "dimensions": ["event:goal"],
                "filters": [["is", "event:goal", ["Signup"]]],
            },
            "goal",
        ),
        ({"metrics": ["conversion_rate"], "dimensions": ["visit:source"]}, "goal"),
    ],
)
def test_conversion_rates_need_a_goal(local_env, body, rule) -> None:
    with pytest.raises(QueryError) as err:
        run(body)
    assert (err.value.field, err.value.rule) == ("metrics", rule)


def test_goal_filters_take_is_and_contains_only(local_env) -> None:
    with pytest.raises(QueryError) as err:
        run({"metrics": ["visitors"], "filters": [["matches", "event:goal", ["^Sign"]]]})
    assert err.value.field == "filters[0]"


def test_a_day_s_conversion_rate_is_against_that_day_s_visitors(loaded) -> None:
    """The time series of a conversion rate: each day against that day's visitors."""
    body = {
        "metrics": ["group_conversion_rate"],
        "dimensions": ["time:day"],
        "filters": [["is", "event:goal", ["Purchase"]]],
        "date_range": ["2026-03-10", "2026-03-10"],
    }
    (row,) = run(body)["results"]
    day = [h for h in loaded if h.at.date() == date(2026, 3, 10)]
    conv = metrics(day, IS_GOAL["Purchase"])["visitors"]
    assert row["metrics"] == [rate(conv, metrics(day)["visitors"])]


def test_the_pages_panel_has_revenue_scroll_depth_and_time_on_page(loaded) -> None:
    wanted = ["visitors", "total_revenue", "average_revenue", "scroll_depth", "time_on_page"]
    got = as_map(run({"metrics": wanted, "dimensions": ["event:page"]}), wanted)
    expected = {}
    for path in {h.path for h in loaded}:
        keep = lambda h, s, p=path: h.path == p  # noqa: E731
        extra = engagement_metrics(matched_hits(loaded, keep))
        expected[(path,)] = {"visitors": metrics(loaded, keep)["visitors"]} | {
            m: extra[m] for m in wanted[1:]
        }
    assert got == expected
    assert got[("/pricing",)]["total_revenue"] and got[("/",)]["scroll_depth"] is not None


def test_the_goals_panel_has_revenue(loaded) -> None:
    wanted = ["visitors", "events", "conversion_rate", "total_revenue", "average_revenue"]
    got = as_map(run({"metrics": wanted, "dimensions": ["event:goal"]}), wanted)
    assert got == {(name,): conversions(loaded, keep) for name, keep in IS_GOAL.items()}
    assert got[("Purchase",)]["average_revenue"] is not None


def test_conversion_rates_leave_out_property_filters_as_plausible_does(loaded) -> None:
    """A goal narrowed by a custom property (Signup with plan=pro): the rates are against
    the visitors without the goal and without the property filter."""
    wanted = ["visitors", "conversion_rate", "group_conversion_rate"]
    filters = [["is", "event:goal", ["Signup"]], ["is", "event:props:plan", ["pro"]]]
    body = {"metrics": wanted, "dimensions": ["visit:device"], "filters": filters}
    got = as_map(run(body), wanted)
    total = metrics(loaded)["visitors"]
    expected = {}
    for device in {h.device for h in loaded}:
        conv = metrics(
            loaded,
            lambda h, s, d=device: (
                h.device == d and h.name == "Signup" and h.props == {"plan": "pro"}
            ),
        )["visitors"]
        base = metrics(loaded, lambda h, s, d=device: h.device == d)["visitors"]
        if conv:
            expected[(device,)] = {
                "visitors": conv,
                "conversion_rate": rate(conv, total),
                "group_conversion_rate": rate(conv, base),
            }
    assert got == expected and expected


def test_v1_breakdown_conversion_rate_is_the_group_s_under_a_goal_filter(loaded) -> None:
    """Plausible's v1 answers `conversion_rate` in a breakdown by source (under a goal
    filter) as the source's own rate, under v1's name."""
    r = legacy.V1Request(
        site_id="example.com",
        period="custom",
        start=ALL[0],
        end=ALL[1],
        metrics="visitors,conversion_rate",
        filters="event:goal==Signup",
        property="visit:source",
    )
    q = legacy.translate(r, GOALS["example.com"], "breakdown")
    rows = legacy.v1_rows(service.breakdown(wiring.engine(), q))
    got = {row["source"]: (row["visitors"], row["conversion_rate"]) for row in rows}
    expected = {}
    for source in {visit_source(s) for s in sessions(loaded)}:
        conv = metrics(loaded, lambda h, s, v=source: visit_source(s) == v and h.name == "Signup")
        base = metrics(loaded, lambda h, s, v=source: visit_source(s) == v)["visitors"]
        if conv["visitors"]:
            expected[source] = (conv["visitors"], rate(conv["visitors"], base))
    assert got == expected
    assert all(set(row) == {"source", "visitors", "conversion_rate"} for row in rows)
