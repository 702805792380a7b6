"""v1 is a translation onto v2 (one validator, one date parser, the same numbers), every bad
request gets the same error shape, and the OpenAPI document describes the bodies exactly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from beaconlake import wiring
from beaconlake.handlers.stats import create_app
from beaconlake.ingest.service import collect
from beaconlake.keys import create_key
from beaconlake.model import RequestMeta
from beaconlake.stats.query import FILTER_OPERATORS, RELATIVE_RANGES
from beaconlake.stats.query_parser import MAX_ROWS
from tests.conftest import CHROME_UA, FIREFOX_UA, IPHONE_UA

SITE = "example.com"
NOW = datetime.now(UTC)


@pytest.fixture
def client(local_env: Path) -> Iterator[TestClient]:
    p = wiring.ports()
    visits = [
        (CHROME_UA, "/", "https://www.google.com/", NOW),
        (CHROME_UA, "/pricing", None, NOW),
        (IPHONE_UA, "/", None, NOW),
        (FIREFOX_UA, "/docs", "https://news.ycombinator.com/", NOW),
    ]
    for i, (ua, path, referrer, at) in enumerate(visits):
        data = {"n": "pageview", "u": f"https://{SITE}{path}", "d": SITE}
        if referrer:
            data["r"] = referrer
        meta = RequestMeta(f"192.0.2.{i % 3}", ua)
        p.sink.put(collect(data, meta, p.policy, p.salts.salt_for, at).events)
    p.sink.flush()
    token, _ = create_key(p.keys, (SITE,))
    with TestClient(create_app(), headers={"authorization": f"Bearer {token}"}) as c:
        yield c


def v2(client: TestClient, **body: Any) -> Any:
    res = client.post("/api/v2/query", json={"site_id": SITE, "date_range": "7d", **body})
    assert res.status_code == 200, res.text
    return res.json()["results"]


def v1(client: TestClient, kind: str, **params: Any) -> Any:
    res = client.get(f"/api/v1/stats/{kind}", params={"site_id": SITE, "period": "7d", **params})
    assert res.status_code == 200, res.text
    return res.json()["results"]


# ---- v1 answers what v2 answers ------------------------------------------------------------

METRICS = ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"]


def test_v1_aggregate_and_breakdown_equal_the_v2_query(client: TestClient) -> None:
    total = v1(client, "aggregate", metrics=",".join(METRICS), filters="visit:device==desktop")
    (row,) = v2(client, metrics=METRICS, filters=[["is", "visit:device", ["desktop"]]])
    assert {m: total[m]["value"] for m in METRICS} == dict(zip(METRICS, row["metrics"]))

    rows = v1(client, "breakdown", property="event:page", metrics="visitors,pageviews")
    expected = v2(client, metrics=["visitors", "pageviews"], dimensions=["event:page"])
    assert [(r["page"], r["visitors"], r["pageviews"]) for r in rows] == [
        (e["dimensions"][0], *e["metrics"]) for e in expected
    ]
    assert sum(r["visitors"] for r in rows) >= 3


def test_v1_timeseries_has_every_bucket_past_the_first_hundred(client: TestClient) -> None:
    """Hourly over 7 days is 168 buckets, less today's hours still to come (no bucket after
    now); today's pageviews are in the last ones."""
    first = (NOW - timedelta(days=6)).date().isoformat()
    hour_before = datetime.now(UTC).hour
    series = v1(
        client,
        "timeseries",
        period="custom",
        **{"from": first, "to": NOW.date().isoformat()},
        interval="hour",
        metrics="pageviews",
    )
    hours_today = {hour_before + 1, datetime.now(UTC).hour + 1}  # the hour may turn meanwhile
    assert len(series) - 6 * 24 in hours_today
    assert sum(r["pageviews"] for r in series[100:]) == 4
    by_hour = v2(client, metrics=["pageviews"], dimensions=["time:hour"])
    assert {r["dimensions"][0]: r["metrics"][0] for r in by_hour} == {
        r["date"]: r["pageviews"] for r in series if r["pageviews"]
    }


@pytest.mark.parametrize("dimension", ["event:hostname", "event:name", "event:props:plan"])
def test_session_metrics_by_an_event_dimension_are_refused_by_both(
    client: TestClient, dimension: str
) -> None:
    """Plausible: "Mixing session metrics bounce_rate, views_per_visit and visit_duration with
    event dimensions is not allowed" (event:page aside). v2 allowed event:hostname."""
    res = client.post(
        "/api/v2/query",
        json={"site_id": SITE, "metrics": ["bounce_rate"], "dimensions": [dimension]},
    )
    assert res.status_code == 400 and res.json()["field"] == "metrics", res.text
    res = client.get(
        "/api/v1/stats/breakdown",
        params={"site_id": SITE, "property": dimension, "metrics": "bounce_rate"},
    )
    assert res.status_code == 400 and res.json()["field"] == "metrics", res.text
    assert "session metrics" in res.json()["error"]


def test_v1_errors_name_v1_parameters(client: TestClient) -> None:
    cases = [
        ({"property": "visit:source", "filters": "visit:nope==x"}, "filters"),
        ({"property": "visit:source", "period": "custom", "from": "2026-01-05"}, "period"),
        ({"property": "visit:source", "period": "custom", "from": "2026-01-05", "to": "x"}, "to"),
        ({"property": "time:day"}, "property"),
        ({"property": "visit:source", "limit": 1000, "page": 10_000}, "page"),
    ]
    for params, field in cases:
        res = client.get("/api/v1/stats/breakdown", params={"site_id": SITE, **params})
        assert res.status_code == 400, (params, res.text)
        assert res.json()["field"] == field, (params, res.json())


# ---- one error shape -------------------------------------------------------------------------

BAD = [
    # (method, path, body or params, status, field, rule)
    (
        "POST",
        "/api/v2/query",
        {"metrics": ["visitors"], "colour": "red"},
        422,
        "colour",
        "unknown_field",
    ),
    ("POST", "/api/v2/query", {"date_range": "7d"}, 422, "metrics", "required"),
    ("POST", "/api/v2/query", {"metrics": "visitors"}, 400, "metrics", None),
    ("POST", "/api/v2/query", {"metrics": [{}]}, 400, "metrics[0]", None),
    (
        "POST",
        "/api/v2/query",
        {"metrics": ["visitors"], "pagination": {"limit": MAX_ROWS + 1}},
        422,
        "pagination.limit",
        "max",
    ),
    (
        "POST",
        "/api/v2/query",
        {"metrics": ["visitors"], "include": {"comparisons": {"mode": "x"}}},
        422,
        "include.comparisons.mode",
        "choice",
    ),
    ("POST", "/api/v2/query", {"metrics": ["visitors"], "date": "yesterday"}, 400, "date", "date"),
    (
        "POST",
        "/api/v2/query",
        {"metrics": ["visitors"], "date_range": ["2026-01-01", "1 May"]},
        400,
        "date_range",
        None,
    ),
    (
        "POST",
        "/api/v2/query",
        {"metrics": ["visitors"], "filters": [["is", "event:page", ["/"] * 101]]},
        400,
        "filters[0][2]",
        "max_values",
    ),
    (
        "POST",
        "/api/v2/funnel",
        {"steps": [{"page": "/"}, {"event": "A", "props": {"k": 1}}]},
        400,
        "steps[1].props",
        None,
    ),
    ("POST", "/api/v2/journeys", {"page": "/", "limit": True}, 400, "limit", None),
    (
        "POST",
        "/api/v2/retention",
        {"period": "week", "unit": "visits"},
        422,
        "unit",
        "unknown_field",
    ),
    ("POST", "/api/dashboard/shares", {"password": "short"}, 422, "password", "min_chars"),
    ("GET", "/api/v1/stats/aggregate", {"period": "7d", "date": "1999-12-31"}, 422, "date", "min"),
]


@pytest.mark.parametrize(("method", "path", "given", "status", "field", "rule"), BAD)
def test_every_bad_request_names_the_field_and_the_rule(
    client: TestClient,
    method: str,
    path: str,
    given: dict[str, Any],
    status: int,
    field: str,
    rule: str | None,
) -> None:
    if method == "POST":
        res = client.post(path, json={"site_id": SITE, **given})
    else:
        res = client.get(path, params={"site_id": SITE, **given})
    assert res.status_code == status, res.text
    answer = res.json()
    assert set(answer) <= {"error", "field", "rule"} and answer["error"], answer
    assert answer["field"] == field, answer
    if rule:
        assert answer["rule"] == rule, answer


# ---- the OpenAPI document --------------------------------------------------------------------


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_the_document_describes_every_body_exactly(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    query = _resolve(
        spec,
        spec["paths"]["/api/v2/query"]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ],
    )
    props = query["properties"]
    assert query["additionalProperties"] is False and query["required"] == ["site_id", "metrics"]
    assert "visitors" in props["metrics"]["items"]["enum"]
    tree = _resolve(spec, props["filters"]["items"])
    leaf = tree["anyOf"][0]["prefixItems"]
    assert tuple(leaf[0]["enum"]) == FILTER_OPERATORS and leaf[2]["items"]["type"] == "string"
    assert any(item.get("$ref", "").endswith("/FilterTree") for item in subschemas(tree))
    date_range = _resolve(spec, props["date_range"])
    assert tuple(date_range["anyOf"][0]["enum"]) == RELATIVE_RANGES
    include = _resolve(spec, props["include"])
    mode = _resolve(spec, include["properties"]["comparisons"]["anyOf"][0])["properties"]["mode"]
    assert mode["enum"] == ["previous_period", "year_over_year", "custom"]
    funnel = _resolve(
        spec,
        spec["paths"]["/api/v2/funnel"]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ],
    )
    steps = funnel["properties"]["steps"]
    assert (steps["minItems"], steps["maxItems"]) == (2, 8)
    assert funnel["properties"]["order"]["enum"] == ["ordered", "strict"]
    window = funnel["properties"]["window_minutes"]
    assert (window["minimum"], window["maximum"]) == (1, 43200)
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            for status in ("400", "422"):
                answer = operation["responses"].get(status)
                if answer:
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema["$ref"].endswith("/ErrorBody"), (path, status)
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def subschemas(schema: Any) -> Iterator[dict[str, Any]]:
    """Every sub-schema of `schema` (dicts), depth first."""
    if isinstance(schema, dict):
        yield schema
        for value in schema.values():
            yield from subschemas(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from subschemas(value)
