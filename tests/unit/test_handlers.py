"""The Lambda handlers, fed API Gateway HTTP API v2 events, on the local back end."""

from __future__ import annotations

import base64
import json

from beaconlake import wiring
from beaconlake.keys import create_key
from functions.collect.app import handler as collect
from functions.stats.app import handler as stats
from tests.apigw import Context, http_event
from tests.conftest import CHROME_UA

UA = {"user-agent": CHROME_UA}
PV = json.dumps({"n": "pageview", "u": "https://example.com/", "d": "example.com"})


def post(body, headers=None, **kw):
    hdrs = {"content-type": "text/plain", **UA, **(headers or {})}
    return collect(http_event("POST", "/api/event", body=body, headers=hdrs, **kw), Context())


def test_valid_beacon_is_accepted_and_buffered(local_env) -> None:
    res = post(PV)
    assert res["statusCode"] == 202
    assert json.loads(res["body"]) == {"status": "accepted"}
    assert len(wiring.ports().sink.pending()) == 1  # type: ignore[attr-defined]


def test_base64_body_is_decoded(local_env) -> None:
    assert post(PV, base64_body=True)["statusCode"] == 202


def test_invalid_beacon_gets_400_naming_field_and_rule(local_env) -> None:
    res = post(json.dumps({"n": "pageview", "d": "example.com"}))
    assert res["statusCode"] == 400
    assert json.loads(res["body"]) == {
        "error": "url is required",
        "field": "url",
        "rule": "required",
    }


def test_oversized_body_gets_413(local_env) -> None:
    res = post("x" * (64 * 1024 + 1))
    assert res["statusCode"] == 413 and json.loads(res["body"])["field"] == "body"


def test_wrong_content_type_gets_415(local_env) -> None:
    assert post(PV, {"content-type": "application/xml"})["statusCode"] == 415


def test_dropped_beacon_gets_202_with_reason_header(local_env) -> None:
    res = post(PV, {"dnt": "1"})
    assert res["statusCode"] == 202 and res["headers"]["x-beaconlake-dropped"] == "dnt"
    res = post(PV, {"sec-gpc": "1"})
    assert res["headers"]["x-beaconlake-dropped"] == "gpc"
    res = post(PV.replace("example.com", "unknown.org"))
    assert res["headers"]["x-beaconlake-dropped"] == "unknown_site"
    assert wiring.ports().sink.pending() == []  # type: ignore[attr-defined]


def test_a_request_the_collector_does_not_serve_gets_a_404_json_body(local_env) -> None:
    for method, path in (("GET", "/api/event"), ("POST", "/e.gif"), ("GET", "/")):
        res = collect(http_event(method, path, headers=UA), Context())
        assert res["statusCode"] == 404, (method, path)
        assert "POST /api/event" in json.loads(res["body"])["error"]
    assert wiring.ports().sink.pending() == []  # type: ignore[attr-defined]


def test_pixel_returns_the_gif_and_stores_the_event(local_env) -> None:
    query = {"d": "example.com", "u": "https://example.com/newsletter", "n": "pageview"}
    res = collect(http_event("GET", "/e.gif", headers=UA, query=query), Context())
    assert res["statusCode"] == 200
    assert res["headers"]["Content-Type"] == "image/gif"
    assert res["headers"]["cache-control"].startswith("no-store")
    gif = base64.b64decode(res["body"])
    assert len(gif) == 43 and gif.startswith(b"GIF89a")
    (event,) = wiring.ports().sink.pending()  # type: ignore[attr-defined]
    assert event.pathname == "/newsletter"


def test_pixel_with_bad_parameters_still_returns_the_gif(local_env) -> None:
    res = collect(http_event("GET", "/e.gif", headers=UA, query={"d": "example.com"}), Context())
    assert res["statusCode"] == 200 and len(base64.b64decode(res["body"])) == 43
    assert res["headers"]["x-beaconlake-dropped"] == "invalid"
    assert wiring.ports().sink.pending() == []  # type: ignore[attr-defined]


def _stats(path: str, query: dict[str, str], token: str | None) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return stats(http_event("GET", path, headers=headers, query=query), Context())


def test_stats_needs_a_valid_key_scoped_to_the_site(local_env) -> None:
    q = {"site_id": "example.com", "period": "7d"}
    assert _stats("/api/v1/stats/aggregate", q, None)["statusCode"] == 401
    assert _stats("/api/v1/stats/aggregate", q, "bl_000000000000_" + "a" * 43)["statusCode"] == 401
    shop_only, _ = create_key(wiring.ports().keys, ("shop.test",))
    res = _stats("/api/v1/stats/aggregate", q, shop_only)
    assert res["statusCode"] == 403 and "example.com" in json.loads(res["body"])["error"]
    token, _ = create_key(wiring.ports().keys, ("example.com",))
    res = _stats("/api/v1/stats/aggregate", q, token)
    assert res["statusCode"] == 200
    assert json.loads(res["body"]) == {"results": {"visitors": {"value": 0}}}


def test_stats_bad_parameters_get_4xx_with_the_field(local_env) -> None:
    token, _ = create_key(wiring.ports().keys, ("*",))
    cases = [
        ({"site_id": "example.com", "period": "fortnight"}, 400, "period"),
        ({"site_id": "example.com", "metrics": "visitors,money"}, 400, "metrics"),
        ({"site_id": "example.com", "period": "custom", "from": "2026-01-05"}, 400, "period"),
        (
            {"site_id": "example.com", "period": "custom", "from": "x", "to": "2026-01-01"},
            400,
            "from",
        ),
        ({"site_id": "nope.org"}, 400, "site_id"),
        ({"site_id": "example.com", "filters": "event:page=/x"}, 400, "filters"),
        ({"period": "7d"}, 422, "site_id"),
    ]
    for query, status, field in cases:
        res = _stats("/api/v1/stats/aggregate", query, token)
        assert res["statusCode"] == status, (query, res)
        assert json.loads(res["body"])["field"] == field
    res = _stats(
        "/api/v1/stats/breakdown", {"site_id": "example.com", "property": "visit:x"}, token
    )
    assert res["statusCode"] == 400 and json.loads(res["body"])["field"] == "property"
    res = _stats(
        "/api/v1/stats/breakdown",
        {"site_id": "example.com", "property": "event:name", "metrics": "bounce_rate"},
        token,
    )
    assert res["statusCode"] == 400 and "session metrics" in json.loads(res["body"])["error"]
