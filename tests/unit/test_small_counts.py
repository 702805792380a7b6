"""Small-count protection (web.small_counts), property-based over random answers: in a shared
session no count below k survives, nor any rate, share or average taken over a hidden count;
nothing else changes; an owner's answers are untouched."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from beaconlake.stats import registry
from beaconlake.stats.query_parser import QueryBody
from beaconlake.web import small_counts

COUNTS = sorted(small_counts.count_metrics())
DERIVED = sorted(set(registry.METRICS) - set(COUNTS))
K = st.integers(min_value=1, max_value=100)
NUMBER = st.one_of(st.none(), st.integers(0, 300), st.floats(0, 300, allow_nan=False))


def test_the_registry_says_which_metrics_are_counts() -> None:
    assert {"visitors", "visits", "pageviews", "events"} <= set(COUNTS)
    assert not {"bounce_rate", "percentage", "conversion_rate", "average_revenue"} & set(COUNTS)
    assert small_counts.bases("bounce_rate") == ("visitors", "visits")
    assert small_counts.bases("time_on_page") == ("visitors",)
    assert small_counts.guard_metrics(["bounce_rate", "visits"]) == ("visitors",)
    assert small_counts.guard_metrics(["visitors"]) == ()


def test_a_shared_query_also_computes_its_guards() -> None:
    body = QueryBody.model_validate(
        {"site_id": "example.com", "metrics": ["bounce_rate"], "date_range": "7d"}
    )
    assert small_counts.widened(body, None) == (body, ("bounce_rate",))
    wide, asked = small_counts.widened(body, 5)
    assert asked == ("bounce_rate",) and wide.metrics == ("bounce_rate", "visitors", "visits")


@st.composite
def answers(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    """A v2 answer as run for a shared session: the asked metrics, then their guards."""
    asked = draw(st.lists(st.sampled_from(sorted(registry.METRICS)), min_size=1, unique=True))
    ran = [*asked, *small_counts.guard_metrics(asked)]
    compare = draw(st.booleans())
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        row: dict[str, Any] = {
            "dimensions": [draw(st.text(max_size=5))],
            "metrics": [draw(NUMBER) for _ in ran],
        }
        if compare:
            row["comparison"] = {
                "dimensions": row["dimensions"],
                "metrics": [draw(NUMBER) for _ in ran],
                "change": [draw(NUMBER) for _ in ran],
            }
        rows.append(row)
    answer = {"results": rows, "meta": {"total_rows": len(rows)}, "query": {"metrics": ran}}
    return answer, asked


def _visible(values: dict[str, Any], k: int) -> None:
    """Every count is null or at least k."""
    for name, value in values.items():
        if name in COUNTS:
            assert value is None or value >= k, (name, value, k)


def _check(before: dict[str, Any], after: dict[str, Any], asked: list[str], k: int) -> None:
    ran = before["query"]["metrics"]
    assert after["query"]["metrics"] == asked
    assert after["meta"]["small_counts"]["k"] == k
    nulled = 0
    for old, new in zip(before["results"], after["results"], strict=True):
        assert new["dimensions"] == old["dimensions"]  # the same rows
        parts = [("metrics", old, new)]
        if "comparison" in old:
            parts.append(("metrics", old["comparison"], new["comparison"]))
        for key, o, n in parts:
            raw = dict(zip(ran, o[key], strict=True))
            shown = dict(zip(asked, n[key], strict=True))
            _visible(shown, k)
            small = {m for m in ran if m in COUNTS and (raw[m] is None or raw[m] < k)}
            for m in asked:
                if any(b in small for b in small_counts.bases(m)):
                    assert shown[m] is None, (m, raw, k)
                else:
                    assert shown[m] == raw[m]  # nothing else changes
                nulled += raw[m] is not None and shown[m] is None
        if "comparison" in old:
            change = new["comparison"]["change"]
            for i, m in enumerate(asked):
                if new["metrics"][i] is None or new["comparison"]["metrics"][i] is None:
                    assert change[i] is None
                    nulled += old["comparison"]["change"][ran.index(m)] is not None
    assert after["meta"]["small_counts"]["hidden"] == nulled


@settings(max_examples=300, deadline=None)
@given(answers(), K)
def test_no_count_below_k_survives_a_shared_answer(
    drawn: tuple[dict[str, Any], list[str]], k: int
) -> None:
    answer, asked = drawn
    before = copy.deepcopy(answer)
    after = small_counts.query_answer(answer, k, asked)
    _check(before, after, asked, k)


@given(answers())
def test_an_owner_answer_is_untouched(drawn: tuple[dict[str, Any], list[str]]) -> None:
    answer, asked = drawn
    before = copy.deepcopy(answer)
    assert small_counts.query_answer(answer, None, asked) == before


COUNT = st.integers(0, 50)


@settings(max_examples=200, deadline=None)
@given(st.lists(COUNT, min_size=1, max_size=5), K)
def test_funnels_hide_small_steps_and_their_rates(counts: list[int], k: int) -> None:
    counts = sorted(counts, reverse=True)
    steps = [
        {
            "label": f"s{i}",
            "visitors": n,
            "conversion_rate": 50.0,
            "step_conversion": 50.0,
            "dropoff": (counts[i - 1] if i else n) - n,
        }
        for i, n in enumerate(counts)
    ]
    answer = {"steps": steps, "visitors": counts[0], "conversion_rate": 12.5}
    out = small_counts.funnel_answer(answer, k)
    for i, step in enumerate(out["steps"]):
        assert step["visitors"] == (counts[i] if counts[i] >= k else None)
        assert step["dropoff"] is None or step["dropoff"] >= k
        if counts[i] < k or counts[0] < k:
            assert step["conversion_rate"] is None
        previous = counts[i - 1] if i else counts[0]
        if counts[i] < k or previous < k:
            assert step["step_conversion"] is None
    if counts[-1] < k or counts[0] < k:
        assert out["conversion_rate"] is None
    assert out["meta"]["small_counts"]["k"] == k


@settings(max_examples=200, deadline=None)
@given(COUNT, st.lists(COUNT, max_size=6), K)
def test_journeys_and_retention_hide_small_counts(total: int, rows: list[int], k: int) -> None:
    journeys = {
        "visits": total,
        "results": [{"page": "/", "visits": n, "percentage": 1.0} for n in rows],
    }
    out = small_counts.journeys_answer(journeys, k)
    assert out["visits"] is None or out["visits"] >= k
    for n, row in zip(rows, out["results"], strict=True):
        assert row["visits"] == (n if n >= k else None)
        assert row["percentage"] is None or (n >= k and total >= k)
    retention = {
        "available": True,
        "cohorts": [{"cohort": "d", "users": total, "retained": rows, "percentages": rows}],
    }
    cohort = small_counts.retention_answer(retention, k)["cohorts"][0]
    assert cohort["users"] is None or cohort["users"] >= k
    assert all(n is None or n >= k for n in cohort["retained"])
    for n, p in zip(rows, cohort["percentages"], strict=False):
        assert p is None or (n >= k and total >= k)


@given(COUNT, st.lists(st.tuples(COUNT, COUNT), max_size=30), K)
def test_realtime_hides_every_small_count(now: int, minutes: list[tuple[int, int]], k: int) -> None:
    series = [{"minute": "m", "visitors": v, "pageviews": p} for v, p in minutes]
    out = small_counts.realtime_answer({"visitors": now, "series": series}, k)
    values = [out["visitors"]] + [x for s in out["series"] for x in (s["visitors"], s["pageviews"])]
    assert all(v is None or v >= k for v in values)
    shown = sum(v is not None for v in values)
    assert shown + out["meta"]["small_counts"]["hidden"] == 1 + 2 * len(minutes)
