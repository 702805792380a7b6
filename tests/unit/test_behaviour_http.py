"""The behaviour routes through the stats Lambda handler: auth, site checks, 400s that name
the field, OpenAPI docs with examples, and the realtime view of still-buffered events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from beaconlake import wiring
from beaconlake.ingest.service import collect
from beaconlake.keys import create_key
from beaconlake.model import RequestMeta
from functions.stats.app import handler as stats
from tests.apigw import Context, http_event
from tests.conftest import CHROME_UA

ROUTES = ["funnel", "journeys", "paths", "sequences", "retention"]
GOOD = {
    "funnel": {"steps": [{"page": "/"}, {"event": "Signup"}]},
    "journeys": {"page": "/"},
    "paths": {"steps": 2},
    "sequences": {"steps": [{"page": "/"}, {"page": "/a"}], "unit": "visits"},
    "retention": {"period": "week"},
}


def _call(method: str, path: str, token: str | None, body: dict | None = None, query=None) -> dict:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    event = http_event(
        method, path, body=json.dumps(body) if body else None, headers=headers, query=query
    )
    res = stats(event, Context())
    res["json"] = json.loads(res["body"])
    return res


def _pageview(path: str, ip: str) -> None:
    p = wiring.ports()
    data = {"n": "pageview", "u": f"https://example.com{path}", "d": "example.com"}
    meta = RequestMeta(ip, CHROME_UA)
    p.sink.put(collect(data, meta, p.policy, p.salts.salt_for, datetime.now(UTC)).events)


@pytest.mark.parametrize("route", ROUTES)
def test_routes_answer_and_check_key_and_site(local_env, route) -> None:
    _pageview("/", "192.0.2.1")
    wiring.ports().sink.flush()
    token, _ = create_key(wiring.ports().keys, ("example.com",))
    body = {"site_id": "example.com", "date_range": "day", **GOOD[route]}
    ok = _call("POST", f"/api/v2/{route}", token, body)
    assert ok["statusCode"] == 200, ok["json"]
    assert _call("POST", f"/api/v2/{route}", None, body)["statusCode"] == 401
    assert _call("POST", f"/api/v2/{route}", "bl_nope", body)["statusCode"] == 401
    other = _call("POST", f"/api/v2/{route}", token, {**body, "site_id": "shop.test"})
    assert other["statusCode"] == 403
    wide, _ = create_key(wiring.ports().keys, ("*",))
    unknown = _call("POST", f"/api/v2/{route}", wide, {**body, "site_id": "nope.test"})
    assert unknown["statusCode"] == 400 and unknown["json"]["field"] == "site_id"


def test_answers_have_the_documented_shape(local_env) -> None:
    for i, path in enumerate(["/", "/a", "/"]):
        _pageview(path, "192.0.2.7" if i < 2 else "192.0.2.8")
    wiring.ports().sink.flush()
    token, _ = create_key(wiring.ports().keys, ("example.com",))
    scope = {"site_id": "example.com", "date_range": "day"}
    funnel = _call("POST", "/api/v2/funnel", token, {**scope, **GOOD["funnel"]})["json"]
    assert funnel["visitors"] == 2 and funnel["conversion_rate"] == 0.0
    assert set(funnel["steps"][0]) == {
        "label",
        "visitors",
        "conversion_rate",
        "step_conversion",
        "dropoff",
    }
    body = {**scope, "page": "/", "direction": "next"}
    journeys = _call("POST", "/api/v2/journeys", token, body)["json"]
    assert journeys["page"] == "/" and journeys["direction"] == "next"
    assert {r["page"]: r["visits"] for r in journeys["results"]} == {"/a": 1, "(exit)": 1}
    paths = _call("POST", "/api/v2/paths", token, {**scope, "steps": 2})["json"]
    assert paths["results"] == [{"path": ["/", "/a"], "visits": 1}]
    seq = _call("POST", "/api/v2/sequences", token, {**scope, **GOOD["sequences"]})["json"]
    assert (seq["count"], seq["total"], seq["unit"]) == (1, 2, "visits")
    retention = _call("POST", "/api/v2/retention", token, scope)["json"]
    assert retention["available"] is False and "user" in retention["reason"]


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("funnel", {"steps": [{"page": "/"}]}, "steps"),
        ("funnel", {"steps": [{"page": "/"}] * 9}, "steps"),
        ("funnel", {"steps": [{"page": "/"}, {"page": "x"}]}, "steps[1].page"),
        ("funnel", {"steps": [{"page": "/"}, {"page": "/", "event": "A"}]}, "steps[1]"),
        ("funnel", {"steps": [{"page": "/"}, {"event": "A", "props": {"a": 1}}]}, "steps[1].props"),
        ("funnel", {"steps": [{"page": "/"}, {"event": "A", "color": 1}]}, "steps[1].color"),
        ("funnel", {**GOOD["funnel"], "window_minutes": 0}, "window_minutes"),
        ("funnel", {**GOOD["funnel"], "window_minutes": 43201}, "window_minutes"),
        ("funnel", {**GOOD["funnel"], "order": "any"}, "order"),
        ("funnel", {**GOOD["funnel"], "date_range": "fortnight"}, "date_range"),
        ("funnel", {**GOOD["funnel"], "filters": [["is", "x:y", ["a"]]]}, "filters[0][1]"),
        ("journeys", {"page": "/", "direction": "sideways"}, "direction"),
        ("journeys", {"page": "/", "limit": 101}, "limit"),
        ("journeys", {"page": "pricing"}, "page"),
        ("paths", {"steps": 11}, "steps"),
        ("paths", {"steps": 1}, "steps"),
        ("paths", {"steps": 3, "start_page": "home"}, "start_page"),
        ("sequences", {**GOOD["sequences"], "unit": "people"}, "unit"),
        ("retention", {"period": "month"}, "period"),
        ("retention", {"period": "day", "date_range": "6mo"}, "date_range"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(local_env, route, body, field) -> None:
    token, _ = create_key(wiring.ports().keys, ("example.com",))
    res = _call("POST", f"/api/v2/{route}", token, {"site_id": "example.com", **body})
    assert res["statusCode"] == 400, res["json"]
    assert res["json"]["field"] == field and res["json"]["error"]


def test_realtime_includes_events_not_yet_written(local_env) -> None:
    _pageview("/live", "192.0.2.9")
    _pageview("/live", "192.0.2.9")
    assert wiring.ports().pending()
    token, _ = create_key(wiring.ports().keys, ("example.com",))
    res = _call("GET", "/api/v2/realtime", token, query={"site_id": "example.com"})
    assert res["statusCode"] == 200
    assert res["json"]["visitors"] == 1
    assert sum(m["pageviews"] for m in res["json"]["series"]) == 2
    assert len(res["json"]["series"]) == 30 and res["json"]["series"][-1]["minute"].endswith("Z")
    assert (
        _call("GET", "/api/v2/realtime", None, query={"site_id": "example.com"})["statusCode"]
        == 401
    )
    denied = _call("GET", "/api/v2/realtime", token, query={"site_id": "shop.test"})
    assert denied["statusCode"] == 403


def test_openapi_documents_every_route_with_an_example(local_env) -> None:
    spec = _call("GET", "/api/openapi.json", None)["json"]
    for route in ROUTES:
        post = spec["paths"][f"/api/v2/{route}"]["post"]
        content = post["requestBody"]["content"]["application/json"]
        assert content.get("examples") and post["description"]
        assert post["responses"]["200"]["content"]["application/json"]["example"]
    realtime = spec["paths"]["/api/v2/realtime"]["get"]
    assert realtime["description"] and realtime["responses"]["200"]["content"]
