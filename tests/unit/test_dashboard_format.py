"""The dashboard's pure helpers (static/format.mjs), run in Node: number and duration formats,
date ranges, and the view's state round-tripping through the URL."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from beaconlake.stats import registry

FORMAT = (
    Path(__file__).resolve().parents[2] / "layers/beaconlake/dashboard/static/format.mjs"
).as_uri()

SCRIPT = """
import * as f from %s;
const out = {
  num: [0, 7, 2.5, 950, 999, 1000, 1234, 9960, 56789, 999600, 1500000, -2300, null].map(f.num),
  duration: [0, 45, 200, 3725].map(f.duration),
  metric: [["bounce_rate", 41], ["conversion_rate", 5.25], ["views_per_visit", 2.6],
           ["visit_duration", 95], ["pageviews", 12345]].map(([m, v]) => f.metric(m, v)),
  change: [["visitors", 12, 100], ["visitors", -3, 100], ["bounce_rate", 4, 40],
           ["bounce_rate", -2.5, 40], ["visitors", null, 100], ["visitors", 100, 0],
           ["bounce_rate", 41, null]].map(([m, c, p]) => f.change(m, c, p)),
  ranges: [["7d", "2026-03-02"], ["30d", "2026-03-02"], ["month", "2026-03-02"],
           ["day", "2026-03-02"]].map(([period, today]) => f.rangeDays({ period }, today)),
  custom: f.rangeDays({ period: "custom", from: "2026-01-01", to: "2026-01-31" }, "2026-03-02"),
  previous: f.comparisonDays(["2026-03-01", "2026-03-07"], "previous_period"),
  yoy: f.comparisonDays(["2024-02-01", "2024-02-29"], "year_over_year"),
  intervals: [[{}, ["2026-03-01", "2026-03-01"]], [{}, ["2026-01-01", "2026-03-01"]],
              [{}, ["2025-01-01", "2026-03-01"]], [{ interval: "hour" }, ["2026-01-01", "2026-03-01"]],
              [{ interval: "week" }, ["2026-03-01", "2026-03-07"]]]
             .map(([s, r]) => f.intervalFor(s, r)),
  seconds: ["2026-01-02", "2026-01-02 13:00:00"].map(f.labelSeconds),
};
const state = f.readState("?site=a.example&period=custom&from=2026-01-01&to=2026-01-31"
  + "&f=visit:source==Google&f=event:page!=/a==b&s=page:/&s=event:Sign up&view=funnel");
out.state = state;
out.url = f.writeState(state);
out.again = f.readState(out.url);
out.api = f.apiFilters(state.filters);
out.defaults = f.writeState(f.readState(""));
console.log(JSON.stringify(out));
"""


def _run() -> dict:
    done = subprocess.run(
        ["node", "--input-type=module", "-e", SCRIPT % json.dumps(FORMAT)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return dict(json.loads(done.stdout))


def test_format_helpers() -> None:
    out = _run()
    assert out["num"] == [
        "0", "7", "2.5", "950", "999", "1k", "1.2k", "10k", "57k", "1M", "1.5M", "-2.3k", "–",
    ]  # fmt: skip
    assert out["duration"] == ["0s", "45s", "3m 20s", "1h 2m"]
    assert out["metric"] == ["41%", "5.3%", "2.60", "1m 35s", "12k"]
    # against nothing (no previous figure, or none of a count) there is no change: "—"
    assert [(c["text"], c["good"], c["bad"]) for c in out["change"]] == [
        ("+12%", True, False),
        ("−3%", False, True),
        ("+4 pt", False, True),
        ("−2.5 pt", True, False),
        ("—", False, False),
        ("—", False, False),
        ("—", False, False),
    ]
    assert out["ranges"] == [
        ["2026-02-24", "2026-03-02"],
        ["2026-02-01", "2026-03-02"],
        ["2026-03-01", "2026-03-02"],
        ["2026-03-02", "2026-03-02"],
    ]
    assert out["custom"] == ["2026-01-01", "2026-01-31"]
    assert out["previous"] == ["2026-02-22", "2026-02-28"]
    assert out["yoy"] == ["2023-02-01", "2023-02-28"]
    # by default hour for one day, day to 92 days, week to 400, then month; hour asked: ≤ 31 days
    assert out["intervals"] == ["hour", "day", "month", "day", "week"]
    assert out["seconds"] == [1767312000, 1767358800]


def test_url_state_round_trips() -> None:
    out = _run()
    state = out["state"]
    assert state["filters"] == [
        {"dim": "visit:source", "op": "is", "value": "Google"},
        {"dim": "event:page", "op": "is_not", "value": "/a==b"},
    ]
    assert state["steps"] == [
        {"kind": "page", "value": "/"},
        {"kind": "event", "value": "Sign up"},
    ]
    assert (state["site"], state["period"], state["view"]) == ("a.example", "custom", "funnel")
    assert out["again"] == state
    assert out["api"] == [["is", "visit:source", ["Google"]], ["is_not", "event:page", ["/a==b"]]]
    assert out["defaults"] == ""


LEARN = """
import * as f from %s;
const before = f.metric("group_conversion_rate", 9.7);
f.learnRates(%s);
console.log(JSON.stringify([before, f.metric("group_conversion_rate", 9.7),
  f.change("group_conversion_rate", 2, 5).text, f.metric("scroll_depth", 57.6)]));
"""


def test_rates_come_from_the_metric_registry() -> None:
    """Which metrics read in percent and change in points is the registry's list, sent to the
    dashboard at log-in (names.points): a new rate needs no edit of the page."""
    points = registry.dashboard_names()["points"]
    assert "group_conversion_rate" in points and "bounce_rate" in points
    script = LEARN % (json.dumps(FORMAT), json.dumps(points))
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(done.stdout) == ["9.7", "9.7%", "+2 pt", "58%"]
