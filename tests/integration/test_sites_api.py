"""The management API (Plausible's Sites API, and Beaconlake's funnels, annotations, segments,
installation check and unknown hosts) through the real app over the local back end: the
catalogue, the key store, the logins and the collector's sightings are the wired ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from beaconlake import wiring
from beaconlake.dashboard import passwords
from beaconlake.dashboard.logins import list_shares, share_key, start_login
from beaconlake.handlers.stats import create_app
from beaconlake.keys import create_key
from beaconlake.ports import ALL_SCOPES, SITES_READ, STATS_READ
from beaconlake.web.auth import SHARE_HEADER
from functions.collect.app import handler as collect
from tests.apigw import Context, http_event
from tests.conftest import CHROME_UA

SITES = "/api/v1/sites"
BOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
PASSWORD = "operator-password-1"


@pytest.fixture
def client(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("BEACONLAKE_DASHBOARD_PASSWORD_HASH", passwords.hash_password(PASSWORD))
    wiring.reset()
    with TestClient(create_app()) as c:
        yield c


def bearer(*scopes: str, sites: tuple[str, ...] = ("*",)) -> dict[str, str]:
    token, _ = create_key(wiring.ports().keys, sites, "test", scopes or ALL_SCOPES)
    return {"authorization": f"Bearer {token}"}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: Any, status: int, field: str, rule: str | None = None) -> dict[str, Any]:
    """A 4xx in the project's error shape, naming the field (and the rule)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["field"] == field and body["error"], body
    if rule is not None:
        assert body["rule"] == rule, body
    return body


def beacon(host: str, ua: str = CHROME_UA, ip: str = "198.51.100.7") -> dict[str, Any]:
    body = {"n": "pageview", "u": f"https://{host}/", "d": host}
    event = http_event(
        "POST",
        "/api/event",
        body=json.dumps(body),
        headers={"content-type": "text/plain", "user-agent": ua},
        source_ip=ip,
    )
    return json.loads(collect(event, Context())["body"])  # type: ignore[arg-type]


def query(client: TestClient, headers: dict[str, str], **extra: Any) -> Any:
    body = {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", **extra}
    return client.post("/api/v2/query", json=body, headers=headers)


# ---- sites ---------------------------------------------------------------------------------


def test_sites_are_listed_added_read_changed_and_deleted(client: TestClient) -> None:
    h = bearer()
    listed = ok(client.get(SITES, headers=h))
    assert listed == {
        "sites": [
            {"domain": "example.com", "timezone": "UTC"},
            {"domain": "shop.test", "timezone": "UTC"},
        ],
        "meta": {"after": None, "before": None, "limit": 100},
    }
    made = ok(
        client.post(SITES, json={"domain": "New.Test", "timezone": "Europe/London"}, headers=h)
    )
    assert made == {"domain": "new.test", "timezone": "Europe/London"}
    assert ok(client.post(SITES, json={"domain": "plain.test"}, headers=h))["timezone"] == "UTC"
    assert ok(client.get(f"{SITES}/new.test", headers=h)) == {
        "domain": "new.test",
        "timezone": "Europe/London",
        "custom_properties": [],
    }
    changed = ok(client.put(f"{SITES}/new.test", json={"timezone": "America/New_York"}, headers=h))
    assert changed == {"domain": "new.test", "timezone": "America/New_York"}
    assert wiring.catalogue().site("new.test").timezone == "America/New_York"  # type: ignore[union-attr]
    renamed = ok(client.put(f"{SITES}/new.test", json={"domain": "renamed.test"}, headers=h))
    assert renamed["domain"] == "renamed.test"
    refused(client.get(f"{SITES}/new.test", headers=h), 404, "site_id", "exists")
    assert ok(client.delete(f"{SITES}/renamed.test", headers=h)) == {"deleted": True}
    refused(client.delete(f"{SITES}/renamed.test", headers=h), 404, "site_id", "exists")
    domains = [s["domain"] for s in ok(client.get(SITES, headers=h))["sites"]]
    assert domains == ["example.com", "plain.test", "shop.test"]


def test_site_errors_name_the_field_and_rule(client: TestClient) -> None:
    h = bearer()
    refused(client.post(SITES, json={"domain": "example.com"}, headers=h), 409, "domain", "exists")
    refused(client.post(SITES, json={"domain": "bad domain!"}, headers=h), 400, "domain")
    refused(
        client.post(SITES, json={"domain": "a.test", "timezone": "Mars/Base"}, headers=h),
        400,
        "timezone",
        "iana_zone",
    )
    refused(client.post(SITES, json={"timezone": "UTC"}, headers=h), 422, "domain", "required")
    refused(
        client.post(SITES, json={"domain": "a.test", "team_id": "x"}, headers=h),
        422,
        "team_id",
        "unknown_field",
    )
    refused(client.post(SITES, json={"domain": "a" * 254}, headers=h), 422, "domain", "max_chars")
    refused(
        client.put(f"{SITES}/example.com", json={"timezone": "Nowhere/Town"}, headers=h),
        400,
        "timezone",
    )
    refused(
        client.put(f"{SITES}/example.com", json={"domain": "shop.test"}, headers=h), 409, "domain"
    )
    refused(client.get(f"{SITES}/unknown.test", headers=h), 404, "site_id", "exists")
    assert "a.test" not in [s.domain for s in wiring.catalogue().sites()]


def test_sites_come_in_pages_with_plausibles_cursors(client: TestClient) -> None:
    h = bearer()
    for name in ("c", "d", "e"):
        ok(client.post(SITES, json={"domain": f"{name}.test"}, headers=h))
    # example.com, c.test, d.test, e.test, shop.test
    first = ok(client.get(SITES, params={"limit": 2}, headers=h))
    assert [s["domain"] for s in first["sites"]] == ["c.test", "d.test"]
    assert first["meta"]["before"] is None and first["meta"]["limit"] == 2
    second = ok(client.get(SITES, params={"limit": 2, "after": first["meta"]["after"]}, headers=h))
    assert [s["domain"] for s in second["sites"]] == ["e.test", "example.com"]
    third = ok(client.get(SITES, params={"limit": 2, "after": second["meta"]["after"]}, headers=h))
    assert [s["domain"] for s in third["sites"]] == ["shop.test"]
    assert third["meta"]["after"] is None
    back = ok(client.get(SITES, params={"limit": 2, "before": third["meta"]["before"]}, headers=h))
    assert back["sites"] == second["sites"]
    refused(client.get(SITES, params={"after": "%%%"}, headers=h), 400, "after", "cursor")
    refused(client.get(SITES, params={"limit": 0}, headers=h), 422, "limit")
    refused(client.get(SITES, params={"limit": 101}, headers=h), 422, "limit")


# ---- goals ---------------------------------------------------------------------------------


def test_goals_are_found_or_created_listed_deleted_and_queryable(client: TestClient) -> None:
    h = bearer()
    refused(query(client, h, filters=[["is", "event:goal", ["Signup"]]]), 400, "filters")
    body = {"site_id": "example.com", "goal_type": "event", "event_name": "Signup"}
    goal = ok(client.put(f"{SITES}/goals", json=body, headers=h))
    assert goal["display_name"] == "Signup" and goal["goal_type"] == "event"
    assert goal["domain"] == "example.com" and goal["page_path"] is None and goal["id"]
    again = ok(client.put(f"{SITES}/goals", json=body, headers=h))
    assert again["id"] == goal["id"]  # find or create
    page = {"site_id": "example.com", "goal_type": "page", "page_path": "/docs*"}
    page_goal = ok(client.put(f"{SITES}/goals", json=page, headers=h))
    assert page_goal["display_name"] == "Visit /docs*" and page_goal["event_name"] is None
    revenue = {**body, "event_name": "Purchase", "display_name": "Sales", "currency": "EUR"}
    assert ok(client.put(f"{SITES}/goals", json=revenue, headers=h))["currency"] == "EUR"
    listed = ok(client.get(f"{SITES}/goals", params={"site_id": "example.com"}, headers=h))
    assert sorted(g["display_name"] for g in listed["goals"]) == ["Sales", "Signup", "Visit /docs*"]
    assert listed["meta"] == {"after": None, "before": None, "limit": 100}
    # the goal reaches the query API at once: the catalogue is the one store
    ok(query(client, h, filters=[["is", "event:goal", ["Signup"]]]))
    deleted = client.request(
        "DELETE", f"{SITES}/goals/{goal['id']}", json={"site_id": "example.com"}, headers=h
    )
    assert ok(deleted) == {"deleted": True}
    refused(query(client, h, filters=[["is", "event:goal", ["Signup"]]]), 400, "filters")


def test_goal_errors(client: TestClient) -> None:
    h = bearer()
    put = f"{SITES}/goals"
    base = {"site_id": "example.com", "goal_type": "event"}
    refused(client.put(put, json=base, headers=h), 400, "event_name", "required")
    refused(
        client.put(put, json={**base, "goal_type": "page"}, headers=h), 400, "page_path", "required"
    )
    refused(
        client.put(
            put, json={**base, "goal_type": "page", "page_path": "/x", "currency": "EUR"}, headers=h
        ),
        400,
        "currency",
    )
    refused(
        client.put(put, json={**base, "goal_type": "visit"}, headers=h), 422, "goal_type", "choice"
    )
    refused(
        client.put(put, json={**base, "event_name": "A", "currency": "euro"}, headers=h),
        422,
        "currency",
    )
    refused(
        client.put(put, json={**base, "event_name": "A", "site_id": "nope.test"}, headers=h),
        404,
        "site_id",
        "exists",
    )
    ok(client.put(put, json={**base, "event_name": "A", "display_name": "Same"}, headers=h))
    refused(
        client.put(put, json={**base, "event_name": "B", "display_name": "Same"}, headers=h),
        409,
        "display_name",
    )
    gone = client.request(
        "DELETE", f"{SITES}/goals/nope", json={"site_id": "example.com"}, headers=h
    )
    refused(gone, 404, "goal_id", "exists")
    refused(client.delete(f"{SITES}/goals/nope", headers=h), 400, "site_id", "required")


# ---- what Plausible's own clients send -----------------------------------------------------


def test_plausible_client_requests_work_unchanged(client: TestClient) -> None:
    """The requests of Plausible's Sites API docs: `curl -F` (multipart) and form-encoded
    bodies, JSON bodies, DELETE with a JSON body or with site_id in the query string."""
    h = bearer()
    made = client.post(
        SITES,
        files={"domain": (None, "form.test"), "timezone": (None, "Europe/Tallinn")},
        headers=h,
    )
    assert ok(made) == {"domain": "form.test", "timezone": "Europe/Tallinn"}
    blank = {"domain": "urlencoded.test", "timezone": ""}  # Plausible: UTC "when left blank"
    assert ok(client.post(SITES, data=blank, headers=h))["timezone"] == "UTC"
    goal = ok(
        client.put(
            f"{SITES}/goals",
            files={
                "site_id": (None, "form.test"),
                "goal_type": (None, "page"),
                "page_path": (None, "/register"),
            },
            headers=h,
        )
    )
    assert goal["display_name"] == "Visit /register"
    link = ok(
        client.put(
            f"{SITES}/shared-links", data={"site_id": "form.test", "name": "WordPress"}, headers=h
        )
    )
    assert link["name"] == "WordPress" and link["url"].startswith("http://testserver/api/share/")
    assert ok(
        client.delete(f"{SITES}/goals/{goal['id']}", params={"site_id": "form.test"}, headers=h)
    )
    refused(client.post(SITES, data={"domain": "x.test", "bogus": "1"}, headers=h), 422, "bogus")
    assert ok(client.delete(f"{SITES}/form.test", headers=h)) == {"deleted": True}


def test_shared_links_are_found_or_created_by_name(client: TestClient) -> None:
    h = bearer()
    body = {"site_id": "example.com", "name": "WordPress"}
    first = ok(client.put(f"{SITES}/shared-links", json=body, headers=h))
    again = ok(client.put(f"{SITES}/shared-links", json=body, headers=h))
    assert again == first
    other = ok(client.put(f"{SITES}/shared-links", json={**body, "name": "Blog"}, headers=h))
    assert other["url"] != first["url"]
    page = client.get(first["url"].removeprefix("http://testserver"))
    assert page.status_code == 200 and "<body" in page.text
    shares = list_shares(wiring.login_store(), share_key("x", "example.com"))
    assert sorted(s.label for s in shares) == ["Blog", "WordPress"]
    refused(
        client.put(f"{SITES}/shared-links", json={"site_id": "example.com"}, headers=h), 422, "name"
    )
    refused(
        client.put(f"{SITES}/shared-links", json={**body, "site_id": "nope.test"}, headers=h),
        404,
        "site_id",
    )


# ---- funnels, annotations, segments --------------------------------------------------------


def test_saved_funnels(client: TestClient) -> None:
    h = bearer()
    steps = [{"page": "/"}, {"event": "Signup", "props": {"plan": "pro"}}]
    body = {"site_id": "example.com", "name": "Sign-up", "steps": steps}
    funnel = ok(client.put(f"{SITES}/funnels", json=body, headers=h))
    assert funnel["name"] == "Sign-up" and funnel["steps"] == steps
    listed = ok(client.get(f"{SITES}/funnels", params={"site_id": "example.com"}, headers=h))
    assert listed == {"funnels": [funnel]}
    refused(
        client.put(f"{SITES}/funnels", json={**body, "steps": [{"page": "/"}]}, headers=h),
        400,
        "steps",
    )
    refused(
        client.put(
            f"{SITES}/funnels", json={**body, "steps": [{"page": "x"}, {"page": "/"}]}, headers=h
        ),
        400,
        "steps[0].page",
    )
    refused(client.put(f"{SITES}/funnels", json={**body, "name": ""}, headers=h), 422, "name")
    path = f"{SITES}/funnels/{funnel['id']}"
    assert ok(client.request("DELETE", path, json={"site_id": "example.com"}, headers=h))["deleted"]
    refused(
        client.request("DELETE", path, json={"site_id": "example.com"}, headers=h), 404, "funnel_id"
    )


def test_annotations(client: TestClient) -> None:
    h = bearer()
    put = f"{SITES}/annotations"
    later = ok(
        client.put(
            put, json={"site_id": "example.com", "date": "2026-03-02", "text": "B"}, headers=h
        )
    )
    earlier = ok(
        client.put(
            put, json={"site_id": "example.com", "date": "2026-03-01", "text": "A"}, headers=h
        )
    )
    assert later["date"] == "2026-03-02" and later["text"] == "B"
    listed = ok(client.get(put, params={"site_id": "example.com"}, headers=h))
    assert listed == {"annotations": [earlier, later]}
    refused(
        client.put(put, json={"site_id": "example.com", "date": "March", "text": "x"}, headers=h),
        422,
        "date",
    )
    refused(
        client.put(
            put, json={"site_id": "example.com", "date": "2026-03-01", "text": "x" * 201}, headers=h
        ),
        422,
        "text",
        "max_chars",
    )
    path = f"{put}/{earlier['id']}"
    assert ok(client.request("DELETE", path, json={"site_id": "example.com"}, headers=h))["deleted"]
    refused(
        client.request("DELETE", path, json={"site_id": "example.com"}, headers=h),
        404,
        "annotation_id",
    )


def test_segments_are_checked_by_the_v2_filter_rules(client: TestClient) -> None:
    h = bearer()
    put = f"{SITES}/segments"
    filters = [["is", "visit:source", ["Google"]], ["contains", "event:page", ["/blog"]]]
    segment = ok(
        client.put(
            put, json={"site_id": "example.com", "name": "Blog", "filters": filters}, headers=h
        )
    )
    assert segment["filters"] == filters
    ok(query(client, h, filters=segment["filters"]))  # a saved segment is a valid query filter
    listed = ok(client.get(put, params={"site_id": "example.com"}, headers=h))
    assert listed == {"segments": [segment]}
    bad = {"site_id": "example.com", "name": "X"}
    refused(
        client.put(put, json={**bad, "filters": [["nope", "visit:source", ["a"]]]}, headers=h),
        400,
        "filters[0]",
    )
    refused(
        client.put(put, json={**bad, "filters": [["is", "visit:nothing", ["a"]]]}, headers=h),
        400,
        "filters[0][1]",
    )
    refused(
        client.put(put, json={**bad, "filters": [["is", "event:goal", ["Nope"]]]}, headers=h),
        400,
        "filters",
        "goal",
    )
    path = f"{put}/{segment['id']}"
    assert ok(client.delete(path, params={"site_id": "example.com"}, headers=h))["deleted"]
    refused(client.delete(path, params={"site_id": "example.com"}, headers=h), 404, "segment_id")


# ---- who may do what -----------------------------------------------------------------------


def test_scopes(client: TestClient) -> None:
    stats_only = bearer(STATS_READ)
    reader = bearer(SITES_READ)
    refused(client.get(SITES, headers=stats_only), 403, "authorization", "scope")
    ok(query(client, stats_only))
    assert ok(client.get(SITES, headers=reader))["sites"]
    refused(
        client.post(SITES, json={"domain": "x.test"}, headers=reader), 403, "authorization", "scope"
    )
    refused(
        client.put(
            f"{SITES}/goals",
            json={"site_id": "example.com", "goal_type": "event", "event_name": "A"},
            headers=reader,
        ),
        403,
        "authorization",
        "scope",
    )
    refused(query(client, reader), 403, "authorization", "scope")  # a sites-only key reads no stats
    props = {"site_id": "example.com"}
    refused(client.get("/api/dashboard/props", params=props, headers=reader), 403, "authorization")
    ok(client.get("/api/dashboard/props", params=props, headers=stats_only))
    refused(
        client.get("/api/v1/stats/aggregate", params={"site_id": "example.com"}, headers=reader),
        403,
        "authorization",
    )
    refused(client.get(SITES), 401, "authorization", "required")
    refused(
        client.get(SITES, headers={"authorization": "Bearer bl_000000000000_" + "x" * 40}),
        401,
        "authorization",
    )


def test_a_key_manages_only_its_sites(client: TestClient) -> None:
    h = bearer(*ALL_SCOPES, sites=("example.com",))
    assert [s["domain"] for s in ok(client.get(SITES, headers=h))["sites"]] == ["example.com"]
    refused(client.get(f"{SITES}/shop.test", headers=h), 403, "site_id", "scope")
    refused(client.post(SITES, json={"domain": "new.test"}, headers=h), 403, "site_id", "scope")
    refused(client.delete(f"{SITES}/shop.test", headers=h), 403, "site_id", "scope")
    goal = {"site_id": "shop.test", "goal_type": "event", "event_name": "A"}
    refused(client.put(f"{SITES}/goals", json=goal, headers=h), 403, "site_id", "scope")
    refused(
        client.put(f"{SITES}/example.com", json={"domain": "shop2.test"}, headers=h), 403, "site_id"
    )
    assert ok(client.get(f"{SITES}/unknown-hosts", headers=h)) == {"hosts": []}


def test_a_shared_link_reads_its_annotations_and_changes_nothing(client: TestClient) -> None:
    owner = bearer()
    ok(
        client.put(
            f"{SITES}/annotations",
            json={"site_id": "example.com", "date": "2026-03-01", "text": "A"},
            headers=owner,
        )
    )
    ok(
        client.put(
            f"{SITES}/shared-links",
            json={"site_id": "example.com", "name": "Public"},
            headers=owner,
        )
    )
    [share] = list_shares(wiring.login_store(), share_key("x", "example.com"))
    token, _ = start_login(wiring.login_store(), share_key(share.share_id, "example.com"), "share")
    shared = {SHARE_HEADER: token}
    notes = ok(
        client.get(f"{SITES}/annotations", params={"site_id": "example.com"}, headers=shared)
    )
    assert [n["text"] for n in notes["annotations"]] == ["A"]
    refused(
        client.get(f"{SITES}/annotations", params={"site_id": "shop.test"}, headers=shared),
        403,
        "site_id",
    )
    write = {"site_id": "example.com", "date": "2026-03-02", "text": "B"}
    assert client.put(f"{SITES}/annotations", json=write, headers=shared).status_code == 403
    assert client.get(SITES, headers=shared).status_code == 403
    assert (
        client.get(f"{SITES}/goals", params={"site_id": "example.com"}, headers=shared).status_code
        == 403
    )
    assert len(wiring.catalogue().annotations("example.com")) == 1


def test_dashboard_logins_carry_their_scopes(client: TestClient) -> None:
    ok(client.post("/api/dashboard/login", json={"password": PASSWORD}))
    assert (
        ok(client.post(SITES, json={"domain": "by-password.test"}))["domain"] == "by-password.test"
    )
    token, _ = create_key(wiring.ports().keys, ("*",), "stats only")
    ok(client.post("/api/dashboard/login", json={"key": token}))
    refused(client.post(SITES, json={"domain": "by-key.test"}), 403, "authorization", "scope")
    ok(query(client, {}))


# ---- what the collector saw ----------------------------------------------------------------


def test_installation_check_and_unknown_hosts(client: TestClient) -> None:
    h = bearer()
    ok(client.post(SITES, json={"domain": "fresh.test"}, headers=h))
    waiting = ok(client.get(f"{SITES}/fresh.test/installation", headers=h))
    assert waiting == {"status": "waiting", "last_event_at": None, "drops": []}
    assert beacon("fresh.test", ua=BOT_UA)["reason"] == "bot"
    dropped = ok(client.get(f"{SITES}/fresh.test/installation", headers=h))
    assert dropped["status"] == "dropped" and dropped["last_event_at"] is None
    assert [d["reason"] for d in dropped["drops"]] == ["bot"]
    assert "bot" in dropped["drops"][0]["explanation"]
    assert beacon("fresh.test")["status"] != "dropped"
    receiving = ok(client.get(f"{SITES}/fresh.test/installation", headers=h))
    assert receiving["status"] == "receiving" and receiving["last_event_at"].endswith("Z")

    assert beacon("elsewhere.test")["reason"] == "unknown_site"
    hosts = ok(client.get(f"{SITES}/unknown-hosts", headers=h))["hosts"]
    assert [x["host"] for x in hosts] == ["elsewhere.test"]
    ok(client.post(SITES, json={"domain": "elsewhere.test"}, headers=h))
    assert ok(client.get(f"{SITES}/unknown-hosts", headers=h)) == {"hosts": []}
    refused(client.get(f"{SITES}/nope.test/installation", headers=h), 404, "site_id")


# ---- the document --------------------------------------------------------------------------


def test_the_openapi_document_lists_every_route_exactly(client: TestClient) -> None:
    doc = ok(client.get("/api/openapi.json"))
    paths = doc["paths"]
    expected = {
        SITES: {"get", "post"},
        f"{SITES}/{{site_id}}": {"get", "put", "delete"},
        f"{SITES}/shared-links": {"put"},
        f"{SITES}/goals": {"get", "put"},
        f"{SITES}/goals/{{goal_id}}": {"delete"},
        f"{SITES}/funnels": {"get", "put"},
        f"{SITES}/funnels/{{funnel_id}}": {"delete"},
        f"{SITES}/annotations": {"get", "put"},
        f"{SITES}/annotations/{{annotation_id}}": {"delete"},
        f"{SITES}/segments": {"get", "put"},
        f"{SITES}/segments/{{segment_id}}": {"delete"},
        f"{SITES}/{{site_id}}/installation": {"get"},
        f"{SITES}/unknown-hosts": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    schemas = doc["components"]["schemas"]
    for name in ("SiteCreate", "GoalBody", "SavedFunnelBody", "AnnotationBody", "SegmentBody"):
        assert schemas[name]["additionalProperties"] is False, name
    goal = schemas["GoalBody"]["properties"]
    assert goal["goal_type"]["enum"] == ["event", "page"]
    assert schemas["SharedLinkBody"]["properties"]["name"]["maxLength"] == 100
