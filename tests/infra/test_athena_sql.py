"""Every statement the stats Lambda sends to its query engine parses as Athena SQL.

tests/unit/test_sql_statements.py and test_behaviour_sql.py cover the SQL builders; this walks
the HTTP surface instead (every operation in the OpenAPI document, with its documented
examples), so SQL written inline in a route (the raw export, the dashboard's property keys)
is covered too. The engine is the local one, wrapped to record what it is asked."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlglot

from beaconlake import wiring
from beaconlake.adapters.duckdb_engine import DuckDBEngine
from beaconlake.keys import create_key
from beaconlake.web.auth import Reader
from functions.stats.app import handler as stats
from tests.apigw import Context, http_event
from tests.support.athena_rules import athena_violations

REQUIRED = {"site_id": "example.com", "property": "visit:source"}
# operations that never query events (sessions, shared links, the list of sites)
NO_QUERY = {"/api/dashboard/login", "/api/dashboard/share-login", "/api/dashboard/logout"}


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    seen: list[tuple[str, tuple[Any, ...]]] = []
    query, stream = DuckDBEngine.query, DuckDBEngine.stream

    def recording_query(self: DuckDBEngine, sql: str, params: Any) -> Any:
        seen.append((sql, tuple(params)))
        return query(self, sql, params)

    def recording_stream(self: DuckDBEngine, sql: str, params: Any, *args: Any) -> Any:
        seen.append((sql, tuple(params)))
        return stream(self, sql, params, *args)

    monkeypatch.setattr(DuckDBEngine, "query", recording_query)
    monkeypatch.setattr(DuckDBEngine, "stream", recording_stream)
    return seen


def requests(spec: dict[str, Any]) -> list[tuple[str, str, dict | None, dict]]:
    out = []
    for path, operations in spec["paths"].items():
        if path in NO_QUERY or "{" in path:
            continue
        for method, op in operations.items():
            query = {
                p["name"]: REQUIRED[p["name"]]
                for p in op.get("parameters", [])
                if p.get("required") and p["in"] == "query"
            }
            content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            bodies = [e["value"] for e in content.get("examples", {}).values()]
            if "example" in content:
                bodies.append(content["example"])
            if method == "post" and not bodies:
                continue
            for body in bodies or [None]:
                out.append((method.upper(), path, body, query))
    return out


def test_every_statement_the_stats_api_sends_parses_as_athena(local_env, recorded) -> None:
    token, _ = create_key(wiring.ports().keys, ("*",), "sql walk")
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    spec = json.loads(stats(http_event("GET", "/api/openapi.json"), Context())["body"])
    calls = requests(spec)
    assert len(calls) >= 12
    for method, path, body, query in calls:
        event = http_event(
            method, path, body=json.dumps(body) if body else None, headers=headers, query=query
        )
        reply = stats(event, Context())
        assert reply["statusCode"] < 500, (path, reply["body"][:200])

    statements = {sql: params for sql, params in recorded}
    assert len(statements) >= 12
    for sql, params in statements.items():
        tree = sqlglot.parse_one(sql, read="athena")
        assert tree.find(sqlglot.exp.Select) is not None
        assert sql.count("?") == len(params), sql
        assert "site_id = ?" in sql, sql
    assert any("UNNEST(map_keys(props))" in sql for sql in statements)  # dashboard props
    assert any(sql.startswith("SELECT ts, name") for sql in statements)  # raw export


def test_statements_for_a_site_in_another_time_zone_pass_athenas_rules(
    local_env, recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same walk for a site in Los Angeles (its wall-clock buckets and visit starts):
    every statement passes the Trino grammar check and Athena's parameter rules."""
    monkeypatch.setattr(Reader, "timezone", lambda self, site: "America/Los_Angeles")
    token, _ = create_key(wiring.ports().keys, ("*",), "sql walk")
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    spec = json.loads(stats(http_event("GET", "/api/openapi.json"), Context())["body"])
    for method, path, body, query in requests(spec):
        event = http_event(
            method, path, body=json.dumps(body) if body else None, headers=headers, query=query
        )
        assert stats(event, Context())["statusCode"] < 500, path
    across_dst = {  # Los Angeles moves its clocks on 2026-03-08
        "site_id": "example.com",
        "date_range": ["2026-03-01", "2026-03-20"],
        "metrics": ["visitors", "pageviews", "bounce_rate", "events"],
        "dimensions": ["time:day"],
        "filters": [["is", "event:page", ["/"]]],
    }
    event = http_event("POST", "/api/v2/query", body=json.dumps(across_dst), headers=headers)
    assert stats(event, Context())["statusCode"] == 200
    statements = list({sql: params for sql, params in recorded})
    assert any("date_add('minute', CASE WHEN" in sql for sql in statements)
    assert any("started >= CAST(? AS timestamp)" in sql for sql in statements)
    assert athena_violations(statements) == []
