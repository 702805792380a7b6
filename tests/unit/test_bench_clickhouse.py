"""The ClickHouse side by side's own arithmetic (bench/clickhouse*.py): the Athena text turned
into ClickHouse's with its parameters bound and the hand-tunings applied, the medians and
totals of the timings, the comparison of results and the table's cut-off marks. chDB itself
is in the bench extra only, so nothing here runs it."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from bench import clickhouse, clickhouse_figures, clickhouse_report, queries
from bench.clickhouse import athena_to_clickhouse, bind, literal

FIRST, LAST = date(2026, 1, 1), date(2026, 1, 30)


def test_parameters_are_bound_in_order_as_clickhouse_literals() -> None:
    sql = "SELECT count(*) AS n FROM events WHERE site_id = ? AND dt BETWEEN ? AND ? AND x = ?"
    bound = bind(sql, ["a'b\\c", "2026-01-01", date(2026, 1, 30), 7])
    assert "site_id = 'a\\'b\\\\c'" in bound
    assert "BETWEEN '2026-01-01' AND '2026-01-30'" in bound
    assert bound.endswith("x = 7")
    assert "?" not in bound
    with pytest.raises(ValueError, match="3 placeholders, 2 parameters"):
        bind("SELECT ? + ? + ?", [1, 2])


def test_literals() -> None:
    assert literal(None) == "NULL"
    assert literal(True) == "true"
    assert literal(86_400_000) == "86400000"
    assert literal(0.5) == "0.5"
    assert literal("it's") == "'it\\'s'"


def test_min_by_keeps_a_null_first_value_and_its_filter() -> None:
    sql = (
        "SELECT min_by(referrer, ts) AS r, "
        "max_by(pathname, ts) FILTER (WHERE name = 'pageview') AS p FROM events"
    )
    (text,) = athena_to_clickhouse(sql)
    assert "(argMin(tuple(referrer), ts)).1 AS r" in text
    assert "(argMax(tuple(pathname), ts) FILTER(WHERE name = 'pageview')).1 AS p" in text


def test_a_cte_read_twice_is_materialised_and_an_unread_one_dropped() -> None:
    sql = (
        "WITH a AS (SELECT 1 AS x), b AS (SELECT x FROM a), unused AS (SELECT x FROM b) "
        "SELECT * FROM a JOIN b ON a.x = b.x"
    )
    (text,) = athena_to_clickhouse(sql)
    assert "a AS MATERIALIZED (" in text
    assert "b AS (" in text and "b AS MATERIALIZED" not in text
    assert "unused" not in text


def test_every_dashboard_and_funnel_statement_transpiles_with_all_parameters_bound() -> None:
    qs = [*queries.dashboard("s.example", FIRST, LAST), queries.funnel("s.example", FIRST, LAST)]
    for q in qs:
        sql, params = q.statement()
        bound = bind(sql, params)
        assert "__bench_param_" not in bound, q.label
        assert "'s.example'" in bound, q.label
        assert " min_by(" not in bound and " max_by(" not in bound, q.label


def _timing(
    label: str, seconds: list[float], result: object = 1, cut: bool = False
) -> queries.Timing:
    return queries.Timing(label, seconds, result, cut)


def test_summary_totals_the_dashboard_per_run_and_takes_medians() -> None:
    timings = [
        _timing("aggregate", [1.0, 3.0, 2.0]),
        _timing("breakdown visit:source", [0.5, 0.5, 0.8]),
        _timing("funnel (4 steps)", [4.0, 6.0, 5.0]),
    ]
    s = clickhouse_figures.summary(timings)
    assert s["runs"] == 3
    assert s["dashboard_s"] == pytest.approx(2.8)  # totals 1.5, 3.5, 2.8
    assert s["funnel_s"] == 5.0
    assert s["per_query_s"]["aggregate"] == 2.0
    assert s["timed_out"] == []


def test_a_statement_cut_off_counts_its_time_in_every_run() -> None:
    timings = [_timing("aggregate", [1.0, 1.0, 1.0]), _timing("breakdown x", [30.0], None, True)]
    s = clickhouse_figures.summary(timings)
    assert s["dashboard_s"] == 31.0
    assert s["timed_out"] == ["breakdown x"]


def test_differ_names_the_answers_that_disagree_and_skips_cut_off_ones() -> None:
    reference = [
        _timing("a", [1.0], {"v": 1}),
        _timing("b", [1.0], [2]),
        _timing("c", [1.0], 3),
        _timing("d", [30.0], None, True),  # the reference cut off: nothing to compare
    ]
    other = [
        _timing("a", [1.0], {"v": 1}),
        _timing("b", [1.0], [9]),
        _timing("c", [1.0], None, True),
        _timing("d", [1.0], 4),
    ]
    assert clickhouse_figures.differ(reference, other) == ["b"]


def test_timed_set_runs_a_statement_cut_off_in_the_warm_up_no_more() -> None:
    calls = []

    def ok(_: object) -> str:
        calls.append("ok")
        return "answer"

    def slow(_: object) -> str:
        calls.append("slow")
        raise TimeoutError

    class Call:
        def __init__(self, label: str, fn: object) -> None:
            self.label, self.run = label, fn

    set_: list[Any] = [Call("fast", ok), Call("slow", slow)]  # duck-typed queries.Query
    out = clickhouse_figures.timed_set(object(), set_, 2, 30.0)
    assert calls == ["ok", "slow", "ok", "ok"]
    assert [(t.label, t.seconds, t.timed_out) for t in out][1] == ("slow", [30.0], True)
    assert out[0].result == "answer" and len(out[0].seconds) == 2


def test_the_table_marks_cut_off_figures_and_lists_every_hand_tuning() -> None:
    def mode(dashboard: float, funnel: float, cut: list[str]) -> dict[str, object]:
        return {"dashboard_s": dashboard, "funnel_s": funnel, "timed_out": cut}

    scale = {
        "runs": 3,
        "raw_runs": 1,
        "version": "26.9.2.1",
        "load": {"seconds": 9.0, "bytes_on_disk": 5e7},
        "duckdb": {
            "without rollups": mode(2.0, 30.0, ["funnel (4 steps)"]),
            "with rollups": mode(0.5, 0.5, []),
        },
        "chdb": {
            "without rollups": mode(4.0, 30.0, ["funnel (4 steps)"]),
            "with rollups": mode(0.25, 30.0, ["funnel (4 steps)"]),
        },
        "results_differ": {"chdb without rollups": [], "chdb with rollups": ["aggregate"]},
        "chdb_profile": {"label": "aggregate", "lead_s": -0.1, "pipeline": ["A"], "duckdb": []},
    }
    text = clickhouse_report.markdown({10_000_000: scale})
    assert "| 10 M | dashboard set | 2,000 ms | 4,000 ms | 2.00 x | 500 ms | 250 ms | 0.50 x |" in (
        text
    )
    # a cut-off chDB figure: its ratio a lower bound; a cut-off DuckDB one: no ratio
    assert "| 10 M | funnel (4 steps) | > 30.0 s (cut off) | > 30.0 s (cut off) | — |" in text
    assert "| 500 ms | > 30.0 s (cut off) | ≥ 60.00 x |" in text
    assert "**differ**: chdb with rollups: aggregate" in text
    assert "100 ms behind" in text
    for statements, _, _ in clickhouse.HAND_TUNINGS:
        assert statements in text


def test_the_events_table_is_ordered_as_plausibles_and_skips_days_by_dt() -> None:
    ddl = clickhouse.events_ddl()
    assert ddl.endswith("ORDER BY (site_id, toDate(ts), visitor_id, ts)")
    assert "INDEX dt_minmax dt TYPE minmax GRANULARITY 1" in ddl
    # NULLs stay NULL (the SQL's coalesce and counts see them), key columns are never NULL
    assert "referrer Nullable(String)" in ddl
    assert "country LowCardinality(Nullable(String))" in ddl
    assert "ts DateTime64(3, 'UTC')," in ddl and "visitor_id Int64," in ddl
