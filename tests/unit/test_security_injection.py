"""No injection: user text reaches the query engine only as parameters, never in the SQL text,
and `matches` regexes are checked for cost before any engine sees them."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from beaconlake import wiring
from beaconlake.adapters.duckdb_engine import DuckDBEngine
from beaconlake.handlers.stats import create_app
from beaconlake.keys import create_key
from beaconlake.stats.query import DIMENSIONS, FILTER_OPERATORS, DateRange, Filter, StatsQuery
from beaconlake.stats.sql import build
from beaconlake.wiring import local_engine

MARK = "zq9x"
# SQL metacharacters around a marker no SQL text contains; valid as a regex too
PAYLOAD = f"{MARK}' OR '1'='1' -- /* \" % _ \\ ) UNION SELECT 1"
V1_PAYLOAD = f"{MARK}' OR '1'='1' -- /* \" % _ \\ )"  # v1 syntax splits on ; and |
DAYS = DateRange(date(2026, 1, 1), date(2026, 1, 31))
USER_DIMENSIONS = [*DIMENSIONS, f"event:props:{PAYLOAD}"]


def _assert_parameterised(sql: str, params: Any) -> None:
    assert MARK not in sql
    assert any(MARK in str(p) for p in params), "the value never reached the engine"


@pytest.fixture(scope="module")
def empty_engine(tmp_path_factory: pytest.TempPathFactory) -> DuckDBEngine:
    return local_engine(tmp_path_factory.mktemp("empty"))


@pytest.mark.parametrize("operator", FILTER_OPERATORS)
@pytest.mark.parametrize("dimension", USER_DIMENSIONS)
def test_every_filter_value_and_props_key_is_a_parameter(
    dimension: str, operator: str, empty_engine: DuckDBEngine
) -> None:
    value = PAYLOAD if not operator.startswith("matches") else f"^{MARK}[';]"
    q = StatsQuery(
        "example.com",
        DAYS,
        ("visitors", "pageviews"),
        filters=(Filter(dimension, operator, (value,)),),
        dimensions=(dimension,),
    )
    st = build(q)
    _assert_parameterised(st.sql, st.params)
    assert st.sql.count("?") == len(st.params)
    empty_engine.query(st.sql, st.params)  # and DuckDB runs it


@pytest.fixture
def api(local_env, monkeypatch: pytest.MonkeyPatch):
    """The stats app with a valid key; every statement the engine receives is recorded."""
    statements: list[tuple[str, Any]] = []
    real_query, real_many, real_stream = (
        DuckDBEngine.query,
        DuckDBEngine.query_many,
        DuckDBEngine.stream,
    )

    def query(self, sql, params):
        statements.append((sql, params))
        return real_query(self, sql, params)

    def query_many(self, items):
        statements.extend(items)
        return real_many(self, items)

    def stream(self, sql, params, batch_rows=10_000):
        statements.append((sql, params))
        return real_stream(self, sql, params, batch_rows)

    monkeypatch.setattr(DuckDBEngine, "query", query)
    monkeypatch.setattr(DuckDBEngine, "query_many", query_many)
    monkeypatch.setattr(DuckDBEngine, "stream", stream)
    token, _ = create_key(wiring.ports().keys, ("example.com",))
    client = TestClient(create_app(), headers={"authorization": f"Bearer {token}"})
    return client, statements


def _sent(res, statements: list[tuple[str, Any]]) -> None:
    assert res.status_code == 200, res.text
    assert statements, "no statement was run"
    hits = [params for sql, params in statements if any(MARK in str(p) for p in params)]
    assert hits, "the value never reached the engine"
    for sql, _ in statements:
        assert MARK not in sql
    statements.clear()


V1_FILTERS = [
    f"event:page=={V1_PAYLOAD}",
    f"visit:source!={V1_PAYLOAD}",
    f"event:props:{V1_PAYLOAD}~x",
    f"event:props:plan!~{V1_PAYLOAD}",
]


@pytest.mark.parametrize("path", ["aggregate", "timeseries", "breakdown"])
def test_v1_filters_and_properties_reach_sql_as_parameters_only(api, path: str) -> None:
    client, statements = api
    for filters in V1_FILTERS:
        params = {"site_id": "example.com", "filters": filters, "property": "visit:source"}
        _sent(client.get(f"/api/v1/stats/{path}", params=params), statements)
    if path == "breakdown":
        prop = {"site_id": "example.com", "property": f"event:props:{V1_PAYLOAD}"}
        _sent(client.get("/api/v1/stats/breakdown", params=prop), statements)


def test_v2_filters_dimensions_and_funnel_steps_reach_sql_as_parameters_only(api) -> None:
    client, statements = api
    base = {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d"}
    bodies = [
        {**base, "filters": [["is", "event:page", [PAYLOAD]]]},
        {**base, "filters": [["contains_not", f"event:props:{PAYLOAD}", ["x"]]]},
        {**base, "filters": [["matches", "visit:source", [f"^{MARK}[';]"]]]},
        {**base, "filters": [["has_done", ["is", "event:name", [PAYLOAD]]]]},
        {**base, "dimensions": [f"event:props:{PAYLOAD}"]},
    ]
    for body in bodies:
        _sent(client.post("/api/v2/query", json=body), statements)
    funnel = {
        "site_id": "example.com",
        "date_range": "7d",
        "steps": [{"page": f"/{PAYLOAD}*"}, {"event": PAYLOAD, "props": {PAYLOAD: PAYLOAD}}],
    }
    _sent(client.post("/api/v2/funnel", json=funnel), statements)


@pytest.mark.parametrize(
    "pattern",
    ["(a+)+$", "(a*)*b", "(x|x)*y" * 2, "(a)\\1", "(?=a)b", "a{1,100000}", "[", "a" * 300],
)
def test_costly_or_invalid_regexes_are_refused_before_any_engine_runs(api, pattern: str) -> None:
    client, statements = api
    body = {
        "site_id": "example.com",
        "metrics": ["visitors"],
        "filters": [["matches", "event:page", [pattern]]],
    }
    res = client.post("/api/v2/query", json=body)
    assert res.status_code == 400, res.text
    assert res.json()["field"].startswith("filters")
    assert statements == []
