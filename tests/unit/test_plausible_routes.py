"""The Plausible routes its clients call besides the stats queries, through the stats Lambda
handler as those clients call them: `GET /api/v1/stats/realtime/visitors?site_id=` (a bare
number: the visitors of the last 5 minutes) and `GET /api/health` (no key)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from beaconlake import wiring
from beaconlake.ingest.service import collect
from beaconlake.keys import create_key
from beaconlake.model import RequestMeta
from functions.stats.app import handler as stats
from tests.apigw import Context, http_event
from tests.conftest import CHROME_UA, FIREFOX_UA, IPHONE_UA

REALTIME = "/api/v1/stats/realtime/visitors"


def _send(ip: str, ua: str, at: datetime, site: str = "example.com") -> None:
    p = wiring.ports()
    data = {"n": "pageview", "u": f"https://{site}/", "d": site}
    p.sink.put(collect(data, RequestMeta(ip, ua), p.policy, p.salts.salt_for, at).events)


def _get(path: str, token: str | None = None, **query: str) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return stats(http_event("GET", path, headers=headers, query=query), Context())


def test_realtime_visitors_is_a_bare_number_of_the_last_five_minutes(local_env) -> None:
    now = datetime.now(UTC)
    _send("192.0.2.1", CHROME_UA, now - timedelta(minutes=1))
    _send("192.0.2.1", CHROME_UA, now - timedelta(seconds=20))  # the same visitor again
    _send("192.0.2.2", IPHONE_UA, now - timedelta(minutes=2))
    _send("192.0.2.3", FIREFOX_UA, now - timedelta(minutes=12))  # too long ago
    _send("192.0.2.4", FIREFOX_UA, now, site="shop.test")  # another site
    wiring.ports().sink.flush()
    _send("192.0.2.5", IPHONE_UA, now)  # accepted, still in the write buffer
    token, _ = create_key(wiring.ports().keys, ("example.com",))
    reply = _get(REALTIME, token, site_id="example.com")
    assert reply["statusCode"] == 200, reply["body"]
    assert reply["headers"]["content-type"].startswith("application/json")
    assert json.loads(reply["body"]) == 3
    assert reply["body"].strip() == "3"


def test_realtime_visitors_needs_a_key_for_the_site(local_env) -> None:
    token, _ = create_key(wiring.ports().keys, ("example.com",))
    no_key = _get(REALTIME, None, site_id="example.com")
    assert no_key["statusCode"] == 401
    other = _get(REALTIME, token, site_id="shop.test")
    assert other["statusCode"] in (403, 404)
    assert "error" in json.loads(other["body"])
    missing = _get(REALTIME, token)
    assert missing["statusCode"] == 422
    assert json.loads(missing["body"])["field"] == "site_id"


def test_api_health_is_plausible_s_path_for_the_health_check(local_env) -> None:
    reply = _get("/api/health")
    assert reply["statusCode"] == 200, reply["body"]
    body = json.loads(reply["body"])
    assert body["status"] == "ok" and body["backend"] == "local"
    assert body == json.loads(_get("/health")["body"])


def test_v1_goal_breakdown_with_conversion_rate_as_a_plausible_client_asks(
    local_env, monkeypatch
) -> None:
    goals = {"example.com": [{"name": "Signup", "event": "Signup"}]}
    monkeypatch.setenv("BEACONLAKE_GOALS", json.dumps(goals))
    wiring.reset()
    p = wiring.ports()
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    now = max(datetime.now(UTC) - timedelta(minutes=1), today)  # today's, for period=day
    for i, ua in enumerate((CHROME_UA, IPHONE_UA, FIREFOX_UA, CHROME_UA)):
        meta = RequestMeta(f"192.0.2.{i}", ua)
        view = {"n": "pageview", "u": "https://example.com/", "d": "example.com"}
        p.sink.put(collect(view, meta, p.policy, p.salts.salt_for, now).events)
        if i % 2:
            signup = {"n": "Signup", "u": "https://example.com/", "d": "example.com"}
            p.sink.put(collect(signup, meta, p.policy, p.salts.salt_for, now).events)
    p.sink.flush()
    token, _ = create_key(wiring.ports().keys, ("example.com",))
    query = {"site_id": "example.com", "period": "day", "metrics": "visitors,conversion_rate"}
    reply = _get("/api/v1/stats/breakdown", token, property="event:goal", **query)
    assert reply["statusCode"] == 200, reply["body"]
    assert json.loads(reply["body"])["results"] == [
        {"goal": "Signup", "visitors": 2, "conversion_rate": 50.0}
    ]
    reply = _get("/api/v1/stats/aggregate", token, filters="event:goal==Signup", **query)
    assert reply["statusCode"] == 200, reply["body"]
    assert json.loads(reply["body"])["results"] == {
        "visitors": {"value": 2},
        "conversion_rate": {"value": 50.0},
    }
    query["metrics"] = "visitors,bounce_rate"
    reply = _get("/api/v1/stats/aggregate", token, filters="event:goal==Signup", **query)
    assert reply["statusCode"] == 400
    assert json.loads(reply["body"])["rule"] == "goal_filter"
