"""Every behaviour statement parses in Athena's dialect, restricts site_id and dt, binds
user text only as parameters, and runs in DuckDB through the transpiler."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlglot

from beaconlake.stats import behaviour_query, behaviour_sql
from beaconlake.stats.query import Goal
from beaconlake.stats.sql import Statement
from beaconlake.wiring import local_engine

GOALS = {"example.com": (Goal("Signup", event="Signup"),)}
SCOPE = {"site_id": "example.com", "date_range": ["2026-01-01", "2026-01-31"]}
FILTERS = [
    [],
    [["is", "visit:device", ["mobile"]]],
    [["has_done", ["is", "event:name", ["Signup"]]], ["contains", "event:page", ["o'clock"]]],
    [["or", [["is", "event:goal", ["Signup"]], ["is", "visit:channel", ["Direct"]]]]],
]
EVIL = "x'); DROP TABLE events; --"
STEPS = [{"page": "/a/*"}, {"event": EVIL, "props": {"plan": EVIL}}, {"page": "/50%_off"}]


def statements():
    for i, filters in enumerate(FILTERS):
        body = {**SCOPE, "filters": filters}
        for order in behaviour_query.ORDERS:
            q = behaviour_query.parse_funnel({**body, "steps": STEPS, "order": order}, GOALS)
            yield f"funnel-{order}-{i}", behaviour_sql.funnel(q)
        for unit in behaviour_query.UNITS:
            q = behaviour_query.parse_sequence({**body, "steps": STEPS[:2], "unit": unit}, GOALS)
            yield f"sequence-{unit}-{i}", behaviour_sql.funnel(q, count_total=True)
        for direction in behaviour_query.DIRECTIONS:
            q = behaviour_query.parse_journey(
                {**body, "page": EVIL.join("//"), "direction": direction}, GOALS
            )
            yield f"journeys-{direction}-{i}", behaviour_sql.journeys(q)
        for start in (None, "/a*"):
            q = behaviour_query.parse_paths({**body, "steps": 10, "start_page": start}, GOALS)
            yield f"paths-{start}-{i}", behaviour_sql.paths(q)
    for period in behaviour_query.PERIODS:
        q = behaviour_query.parse_retention({**SCOPE, "period": period})
        yield f"retention-{period}", behaviour_sql.retention(q)
    yield "realtime", behaviour_sql.realtime("example.com", datetime(2026, 1, 1, 0, 10, tzinfo=UTC))


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return local_engine(tmp_path_factory.mktemp("empty"))


@pytest.mark.parametrize(
    ("name", "st"), list(statements()), ids=lambda x: x if isinstance(x, str) else ""
)
def test_statement_parses_as_athena_and_runs_in_duckdb(name: str, st: Statement, engine) -> None:
    parsed = sqlglot.parse_one(st.sql, read="athena")
    assert parsed.find(sqlglot.exp.Select) is not None
    assert st.sql.count("?") == len(st.params)
    assert "site_id = ? AND dt BETWEEN ? AND ?" in st.sql
    assert EVIL not in st.sql and "o'clock" not in st.sql
    rows = engine.query(st.sql, st.params)
    if name.startswith(("funnel", "sequence")):
        assert rows and all(v == 0 for v in rows[0].values())
    else:
        assert rows == []


def test_window_is_a_parameter_and_strict_means_the_next_event() -> None:
    body = {**SCOPE, "steps": STEPS[:2], "window_minutes": 90}
    ordered = behaviour_sql.funnel(behaviour_query.parse_funnel(body, {}))
    strict = behaviour_sql.funnel(behaviour_query.parse_funnel({**body, "order": "strict"}, {}))
    assert 90 * 60_000 in ordered.params
    assert "e.pos > f.q1" in ordered.sql and "e.pos = f.q1 + 1" in strict.sql
    sequence = {k: v for k, v in body.items() if k != "window_minutes"}  # not a sequence's
    unbounded = behaviour_sql.funnel(behaviour_query.parse_sequence(sequence, {}))
    assert "date_diff" not in unbounded.sql.split("funnel_events AS")[1]


def test_funnel_sql_numbers_only_step_events_unless_strict_and_skips_the_total() -> None:
    body = {**SCOPE, "steps": STEPS[:2]}
    ordered = behaviour_sql.funnel(behaviour_query.parse_funnel(body, {}))
    strict = behaviour_sql.funnel(behaviour_query.parse_funnel({**body, "order": "strict"}, {}))
    sequence = behaviour_sql.funnel(behaviour_query.parse_sequence(body, {}), count_total=True)
    # the window that numbers events reads only those matching a step, unless every event
    # counts (strict: the very next event)
    # (the step conditions are in the WHERE, as Athena takes parameters nowhere else)
    step_events = "((name = 'pageview' AND pathname LIKE ? ESCAPE '\\') OR (name = ? AND "
    assert f"FROM stepped WHERE name <> 'engagement' AND {step_events}" in ordered.sql
    assert "FROM stepped WHERE name <> 'engagement'\n)" in strict.sql
    assert "AS total" not in ordered.sql and "AS total" not in strict.sql
    assert sequence.sql.endswith("AS total")
