"""The metrics each dashboard panel may ask for come from the registry (`names.panels` of
GET /api/dashboard/sites), and every one of them is a query the API answers: without a goal
filter, and under one (conversions). The conversion statements are Athena SQL."""

from __future__ import annotations

import pytest

from beaconlake.stats import registry
from beaconlake.stats.query import Goal, QueryError
from beaconlake.stats.query_parser import parse_query
from beaconlake.stats.registry_types import Panel
from beaconlake.stats.sql import build
from tests.support.athena_rules import athena_violations

GOALS = {"example.com": (Goal("Signup", event="Signup"), Goal("Docs", page="/docs*"))}
GOAL_FILTER = [["is", "event:goal", ["Signup"]]]
# a dimension each panel shows
DIMENSIONS = {
    Panel.TOTALS: [],
    Panel.PAGES: ["event:page"],
    Panel.GOALS: ["event:goal"],
    Panel.VISITS: ["visit:source"],
    Panel.EVENTS: ["event:props:plan"],
}


def _body(metrics: list[str], dims: list[str], filters: list) -> dict:
    return {"site_id": "example.com", "metrics": metrics, "dimensions": dims, "filters": filters}


def test_the_panels_are_in_the_dashboard_names() -> None:
    names = registry.dashboard_names()
    assert names["panels"] == registry.dashboard_panels()
    assert set(names["panels"]) == {p.value for p in Panel}
    pages = names["panels"]["pages"]
    for metric in ("total_revenue", "average_revenue", "scroll_depth", "time_on_page"):
        assert metric in pages["metrics"]
    goals = names["panels"]["goals"]
    assert {"visitors", "events", "conversion_rate", "total_revenue"} <= set(goals["metrics"])
    assert "group_conversion_rate" in names["panels"]["visit_breakdowns"]["with_goal_filter"]
    assert "pageviews" not in names["panels"]["totals"]["with_goal_filter"]
    assert "group_conversion_rate" in names["metrics"]


def test_every_metric_a_panel_may_ask_for_is_answered() -> None:
    statements = {}
    for panel in Panel:
        lists = registry.dashboard_panels()[panel.value]
        for filters, key in (([], "metrics"), (GOAL_FILTER, "with_goal_filter")):
            for metric in lists[key]:
                q = parse_query(_body([metric], DIMENSIONS[panel], filters), GOALS)
                statements[build(q).sql] = (panel, metric, key)
    assert len(statements) > 20
    violations = athena_violations(list(statements))  # one Node process for all
    assert [statements[sql] for sql, _ in violations] == []


def test_metrics_not_counting_conversions_are_refused_under_a_goal_filter() -> None:
    allowed = set(registry.goal_filter_metrics())
    for name in registry.METRICS:
        if name in allowed:
            continue
        with pytest.raises(QueryError) as err:
            parse_query(_body(["visitors", name], [], GOAL_FILTER), GOALS)
        assert err.value.rule == "goal_filter" and name in err.value.message
    assert {"visitors", "events", "conversion_rate", "group_conversion_rate"} <= allowed
    assert not {"visits", "bounce_rate", "visit_duration", "views_per_visit"} & allowed
