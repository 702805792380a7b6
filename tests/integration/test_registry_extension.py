"""A metric and a dimension added in one place, the registry, work end to end: they are
validated, in the SQL, in the API's answers (equal to numbers computed here from the sent
beacons, each of the four rollup states), in the OpenAPI enums and the dashboard's names.

Both are throw-away records registered for one test: the metric counts custom events
(neither pageviews nor engagement), over events or summed over visit and page rows; the
dimension is an existing event column, the revenue's currency."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import pytest

from beaconlake import wiring
from beaconlake.keys import create_key
from beaconlake.ports import Rollup
from beaconlake.stats import registry
from beaconlake.stats.query import DateRange, StatsQuery
from beaconlake.stats.registry import Aggregate, Dimension, Metric, Scope, Source
from beaconlake.stats.sql import build
from functions.stats.app import app, handler
from tests.apigw import Context, http_event
from tests.reference import Hit, group, matched_hits, visit_source

CUSTOM = Aggregate(
    "custom_events",
    events="count(*) FILTER (WHERE name NOT IN ('pageview', 'engagement'))",
    visits="sum(events) - sum(pageviews)",
    pages="sum(events) - sum(pageviews)",
)
CUSTOM_EVENTS = Metric(
    "custom_events",
    "events that are neither pageviews nor engagement",
    ("custom_events",),
    lambda row: int(row.get("custom_events") or 0),
    "custom_events",
    "Custom events",
)
CURRENCY = Dimension(
    "event:currency",
    "revenue_currency",
    "currency",
    Source.EVENT,
    Scope.EVENT,
    "the currency of the event's revenue",
    "Currency",
)
ALL = ["2026-03-09", "2026-03-20"]
DAYS = DateRange(date(2026, 3, 9), date(2026, 3, 20))


@pytest.fixture
def registered() -> Iterator[None]:
    with registry.registered(CUSTOM, CUSTOM_EVENTS, CURRENCY):
        yield


def _custom(hits: list[Hit]) -> int:
    return sum(h.name not in ("pageview", "engagement") for h in hits)


def _currency(h: Hit) -> str | None:
    return "EUR" if h.revenue is not None else None  # every scenario purchase is in EUR


def _post(body: dict, token: str) -> dict:
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    request = {"site_id": "example.com", "date_range": ALL, **body}
    res = handler(
        http_event("POST", "/api/v2/query", body=json.dumps(request), headers=headers), Context()
    )
    assert res["statusCode"] == 200, res
    return json.loads(res["body"])


def _answer(body: dict, token: str) -> dict[tuple, list]:
    return {tuple(r["dimensions"]): r["metrics"] for r in _post(body, token)["results"]}


def _expected(loaded: list[Hit], key, extra=lambda h, s: True) -> dict[tuple, list]:
    out = {}
    for value, keep in group(loaded, key).items():
        hits = matched_hits(loaded, lambda h, s, keep=keep: keep(h, s) and extra(h, s))
        if hits:
            out[(value,)] = [len({h.visitor for h in hits}), _custom(hits)]
    return out


def test_a_registered_metric_and_dimension_answer_through_the_api(
    loaded, registered, engine_mode
) -> None:
    token, _ = create_key(wiring.ports().keys, ("example.com",))
    metrics = ["visitors", "custom_events"]
    # by the new dimension: answered from events
    got = _answer({"metrics": metrics, "dimensions": ["event:currency"]}, token)
    assert got == _expected(loaded, lambda h, s: _currency(h))
    assert ("EUR",) in got
    # by a visit attribute: from visit rows (the sessions rollup for past days)
    got = _answer({"metrics": metrics, "dimensions": ["visit:source"]}, token)
    assert got == _expected(loaded, lambda h, s: visit_source(s))
    # the pages panel, filtered by what is fixed per visitor: from page rows
    desktop = [["is", "visit:device", ["desktop"]]]
    got = _answer({"metrics": metrics, "dimensions": ["event:page"], "filters": desktop}, token)
    assert got == _expected(loaded, lambda h, s: h.path, lambda h, s: h.device == "desktop")
    # filtered by the new dimension, ordered by the new metric
    body = {
        "metrics": ["custom_events"],
        "dimensions": ["event:name"],
        "filters": [["is", "event:currency", ["EUR"]]],
        "order_by": [["custom_events", "desc"]],
    }
    purchases = [h for h in loaded if _currency(h) == "EUR"]
    assert list(_answer(body, token).items()) == [(("Purchase",), [len(purchases)])]


def test_the_plan_and_the_sql_use_the_registered_records(registered) -> None:
    rollup = Rollup(DAYS.first, DAYS.last)
    by_source = StatsQuery("example.com", DAYS, ("custom_events",), dimensions=("visit:source",))
    sql = build(by_source, rollup=rollup).sql
    assert "session_rollup" in sql and "sum(events) - sum(pageviews) AS custom_events" in sql
    by_currency = StatsQuery(
        "example.com", DAYS, ("custom_events",), dimensions=("event:currency",)
    )
    sql = build(by_currency, rollup=rollup).sql
    assert "session_rollup" not in sql and "CAST(revenue_currency AS varchar)" in sql
    assert "count(*) FILTER (WHERE name NOT IN ('pageview', 'engagement')) AS custom_events" in sql


def test_they_are_validated_and_in_the_openapi_enums_only_while_registered(local_env) -> None:
    token, _ = create_key(wiring.ports().keys, ("example.com",))
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    body = {
        "site_id": "example.com",
        "metrics": ["custom_events"],
        "dimensions": ["event:currency"],
    }

    def post() -> dict:
        event = http_event("POST", "/api/v2/query", body=json.dumps(body), headers=headers)
        return handler(event, Context())

    def enums() -> tuple[list[str], list[str]]:
        app.openapi_schema = None  # FastAPI keeps the first document it made
        doc = json.loads(handler(http_event("GET", "/api/openapi.json"), Context())["body"])
        query = doc["components"]["schemas"]["QueryBody"]["properties"]
        named = query["dimensions"]["items"]["anyOf"][0]["enum"]
        return query["metrics"]["items"]["enum"], named

    refused = post()
    assert refused["statusCode"] == 400 and "custom_events" in refused["body"]
    assert "custom_events" not in enums()[0] and "event:currency" not in enums()[1]
    with registry.registered(CUSTOM, CUSTOM_EVENTS, CURRENCY):
        assert post()["statusCode"] == 200
        metric_enum, dimension_enum = enums()
        assert "custom_events" in metric_enum and "event:currency" in dimension_enum
        sites = handler(http_event("GET", "/api/dashboard/sites", headers=headers), Context())
        names = json.loads(sites["body"])["names"]
        assert names["metrics"]["custom_events"] == "Custom events"
        assert names["dimensions"]["event:currency"] == "Currency"
    assert post()["statusCode"] == 400
