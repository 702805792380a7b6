"""schemathesis against the stats API's own OpenAPI document, in process (ASGI transport, no
network), with a valid API key: positive and negative cases for every operation.

The properties: no 5xx, and every rejection is a 4xx with a JSON object body. Every
operation of the document is fuzzed, the behaviour endpoints among them (checked below), and
the query endpoints also get hostile filter trees (deep, wide, odd text, costly regexes) and
dates at the calendar's ends, which schemathesis's schema-driven cases seldom reach.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from beaconlake import wiring
from beaconlake.handlers.stats import create_app
from beaconlake.keys import create_key
from beaconlake.ports import ALL_SCOPES
from functions.collect.app import handler as collect
from tests.apigw import Context, http_event
from tests.conftest import CHROME_UA
from tests.fuzz.strategies import mostly, odd_text

schema = schemathesis.openapi.from_asgi("/api/openapi.json", create_app())
EXAMPLES_PER_OPERATION = 120
PROPERTIES = ["visit:source", "event:page", "event:props:plan", "visit:channel", "event:goal"]


@pytest.fixture(scope="module")
def api_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local back end with a few stored events, and a key for example.com."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BEACONLAKE_BACKEND", "local")
        mp.setenv("BEACONLAKE_DATA_DIR", str(tmp_path_factory.mktemp("stats-fuzz")))
        mp.setenv("BEACONLAKE_SITES", "example.com,shop.test")
        mp.setenv("BEACONLAKE_FLUSH_SECONDS", "3600")
        mp.setenv("BEACONLAKE_DASHBOARD_PASSWORD_HASH", "")
        wiring.reset()
        for i in range(30):
            body = {
                "n": "pageview" if i % 3 else "Signup",
                "u": f"https://example.com/p{i % 4}?utm_source=s{i % 2}",
                "d": "example.com",
                "r": "https://www.google.com/",
                "p": {"plan": "pro" if i % 2 else "free"},
            }
            event = http_event(
                "POST",
                "/api/event",
                body=json.dumps(body),
                headers={"content-type": "text/plain", "user-agent": CHROME_UA},
                source_ip=f"198.51.100.{i % 7}",
            )
            assert collect(event, Context())["statusCode"] == 202
        wiring.ports().sink.flush()
        # every scope, so the management routes are fuzzed past their scope check too
        token, _ = create_key(wiring.ports().keys, ("example.com",), scopes=ALL_SCOPES)
        yield token
        wiring.reset()


def rejections_are_json(ctx: Any, response: Any, case: Any) -> bool:
    """A 4xx answer carries a JSON object that says what went wrong."""
    if 400 <= response.status_code < 500:
        assert response.headers.get("content-type", [""])[0].startswith("application/json"), (
            response.headers
        )
        body = json.loads(response.content)
        assert isinstance(body, dict) and ("error" in body or "detail" in body), body
    return True


def _mostly_our_site(case: Any) -> None:
    """Random site ids only ever meet the 403 of the key's scope; four cases in five ask for
    the key's own site so the queries reach the engine (the fifth keeps the random id), and
    most breakdowns ask for a known property."""
    draw = hash(repr(case.query) + repr(case.body))
    if draw % 5 == 0:
        return
    for container in (case.query, case.body):
        if isinstance(container, dict) and "site_id" in container:
            container["site_id"] = "example.com"
    if isinstance(case.query, dict) and "property" in case.query and draw % 3:
        case.query["property"] = PROPERTIES[draw % len(PROPERTIES)]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_stats_api_never_answers_5xx(case: Any, api_token: str) -> None:
    case.headers = {**(case.headers or {}), "authorization": f"Bearer {api_token}"}
    _mostly_our_site(case)
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error, rejections_are_json])


# ---- every query endpoint, hostile filter trees and dates (issue 26) -----------------------

QUERY_ENDPOINTS: dict[str, dict[str, Any]] = {
    "/api/v2/query": {"metrics": ["visitors"]},
    "/api/v2/funnel": {"steps": [{"page": "/p1"}, {"page": "/p2"}]},
    "/api/v2/journeys": {"page": "/p1"},
    "/api/v2/paths": {},
    "/api/v2/sequences": {"steps": [{"page": "/p1"}, {"event": "Signup"}]},
    "/api/v2/retention": {},
}


def test_the_fuzzed_operations_include_every_query_and_behaviour_endpoint() -> None:
    operations = {str(getattr(r.ok(), "path", "")) for r in schema.get_all_operations()}
    expected = {*QUERY_ENDPOINTS, "/api/v2/realtime", "/api/v2/export/events"}
    expected |= {"/api/v1/stats/aggregate", "/api/v1/stats/timeseries", "/api/v1/stats/breakdown"}
    expected |= {"/api/dashboard/props", "/api/dashboard/sites"}
    assert expected <= operations, expected - operations


FILTER_OPS = ["is", "is_not", "contains", "contains_not", "matches", "matches_not"]
DIMENSIONS = ["event:page", "visit:source", "event:props:plan", "event:goal", "visit:country"]
values = st.lists(
    mostly(st.sampled_from(["/p1", "pro", "Google", "(a{1000}){1000}", r"\w*\w*x"]), odd_text),
    min_size=0,
    max_size=120,
)
leaves = st.builds(
    lambda op, dim, vs: [op, dim, vs],
    st.sampled_from(FILTER_OPS),
    mostly(st.sampled_from(DIMENSIONS), odd_text.map("event:props:".__add__)),
    values,
)
trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.builds(
            lambda op, cs: [op, cs],
            st.sampled_from(["and", "or"]),
            st.lists(children, min_size=1, max_size=8),
        ),
        st.builds(
            lambda op, c: [op, c], st.sampled_from(["not", "has_done", "has_not_done"]), children
        ),
    ),
    max_leaves=60,
)
dates = st.sampled_from(
    [None, "0001-01-01", "0001-12-31", "9999-12-31", "2026-02-29", "2024-02-29", "x"]
)
ranges = st.one_of(
    st.sampled_from(["day", "7d", "30d", "month", "6mo", "12mo", "year", "all", "bogus"]),
    st.lists(
        st.sampled_from(["0001-01-01", "9999-12-31", "2026-01-01", "2010-01-01T00:00:00Z"]),
        min_size=2,
        max_size=2,
    ),
)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    path=st.sampled_from(sorted(QUERY_ENDPOINTS)),
    filters=st.lists(trees, max_size=40),
    ref=dates,
    date_range=ranges,
)
def test_hostile_filter_trees_and_dates_never_answer_5xx(
    api_token: str, path: str, filters: list[Any], ref: str | None, date_range: Any
) -> None:
    body: dict[str, Any] = {"site_id": "example.com", **QUERY_ENDPOINTS[path]}
    body["date_range"] = date_range
    if ref is not None:
        body["date"] = ref
    if path != "/api/v2/retention":
        body["filters"] = filters
    client = TestClient(create_app(), headers={"authorization": f"Bearer {api_token}"})
    res = client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})
    assert res.status_code < 500, (res.status_code, res.text, body)
    if res.status_code >= 400:
        answer = res.json()
        assert isinstance(answer, dict) and ("error" in answer or "detail" in answer), answer
