"""What leaves the stats API (issue 26): CSV cells a spreadsheet would run as formulas are
neutralised in every CSV; a shared dashboard link reads what the dashboard shows and no more
(aggregates of its one site: no raw export, no v1 API), for a limited time if asked, within
a budget of requests."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from beaconlake import wiring
from beaconlake.dashboard.logins import SHARE_KEY_PREFIX
from beaconlake.handlers.stats import create_app
from beaconlake.ingest.service import collect
from beaconlake.keys import create_key
from beaconlake.model import RequestMeta
from beaconlake.stats.exports import csv_cell
from beaconlake.stats.limits import LIMITS, share_budget
from tests.conftest import CHROME_UA

SITE = "example.com"
QUERY: dict[str, Any] = {"site_id": SITE, "metrics": ["visitors"], "date_range": "7d"}
FORMULAS = ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx=1", "\rx=1"]


@pytest.fixture
def client(local_env: Path) -> Iterator[TestClient]:
    with TestClient(create_app()) as c:
        yield c


def _load_hostile_events() -> None:
    p = wiring.ports()
    now = datetime.now(UTC)
    for i, text in enumerate(FORMULAS):
        quoted = text.replace("+", "%2B").replace("\t", "%09").replace("\r", "%0D")
        data = {
            "n": text,
            "u": f"https://{SITE}/p?utm_source={quoted}&utm_campaign={quoted}",
            "d": SITE,
            "p": {text: text},
        }
        meta = RequestMeta(f"192.0.2.{i}", CHROME_UA)
        p.sink.put(collect(data, meta, p.policy, p.salts.salt_for, now).events)
    p.sink.flush()


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _no_formula(cells: list[str]) -> None:
    """No text cell starts like a formula (numbers, e.g. a negative visitor_id, are data)."""
    for cell in cells:
        if re.fullmatch(r"-?\d+(\.\d+)?", cell):
            continue
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), repr(cell)


def test_csv_cell_prefixes_formula_starts_only() -> None:
    assert [csv_cell(v) for v in FORMULAS] == ["'" + v for v in FORMULAS]
    assert [csv_cell(v) for v in ["/blog", "a=1", "", None, -3, 2.5]] == [
        "/blog",
        "a=1",
        "",
        None,
        -3,
        2.5,
    ]


def test_csv_exports_neutralise_formulas(client: TestClient) -> None:
    """Before: `=1+1` and the others came out as sent, in both CSVs."""
    _load_hostile_events()
    token, _ = create_key(wiring.ports().keys, (SITE,))
    auth = {"authorization": f"Bearer {token}"}
    res = client.get(
        "/api/v2/export/events",
        params={"site_id": SITE, "date_range": "day", "format": "csv"},
        headers=auth,
    )
    assert res.status_code == 200
    cells = _cells(res.text)
    _no_formula(cells)
    assert "'=1+1" in cells and "'@SUM(A1)" in cells
    dims = ["event:name", "visit:utm_source", "visit:utm_campaign"]
    dims += [f"event:props:{f}" for f in FORMULAS[:2]]
    for dim in dims:
        body = {**QUERY, "metrics": ["visitors"], "date_range": "day", "dimensions": [dim]}
        res = client.post("/api/v2/query", params={"format": "csv"}, json=body, headers=auth)
        assert res.status_code == 200, res.text
        cells = _cells(res.text)
        _no_formula(cells)
        assert "'=1+1" in cells or "'+cmd|' /C calc'!A0" in cells, (dim, cells)


def _share(client: TestClient, **extra: Any) -> tuple[str, str]:
    """A new shared link to example.com (made with a key): (its path, its id)."""
    token, _ = create_key(wiring.ports().keys, ("*",))
    res = client.post(
        "/api/dashboard/shares",
        json={"site_id": SITE, **extra},
        headers={"authorization": f"Bearer {token}"},
    )
    assert res.status_code == 201, res.text
    return res.json()["path"], res.json()["id"]


def _visitor(path: str) -> TestClient:
    visitor = TestClient(create_app())
    page = visitor.get(path)
    assert page.status_code == 200
    # the link's login is in the page; its script sends it as a header
    visitor.headers["x-beaconlake-share"] = page.text.split('data-login="')[1].split('"')[0]
    return visitor


def test_a_shared_link_reads_only_what_the_dashboard_shows(client: TestClient) -> None:
    """Before: a share cookie exported ten years of raw rows (visitor_id, user_id) and could
    call every query endpoint."""
    path, _ = _share(client)
    visitor = _visitor(path)
    refused = [
        ("GET", "/api/v2/export/events", {"site_id": SITE, "date_range": "all"}, None),
        ("GET", "/api/v1/stats/aggregate", {"site_id": SITE}, None),
        ("GET", "/api/v1/stats/breakdown", {"site_id": SITE, "property": "event:page"}, None),
        ("POST", "/api/v2/paths", None, {"site_id": SITE}),
        ("POST", "/api/v2/sequences", None, {"site_id": SITE, "steps": [{"page": "/"}] * 2}),
        ("GET", "/api/dashboard/shares", None, None),
    ]
    for method, url, params, body in refused:
        res = visitor.request(method, url, params=params, json=body)
        assert res.status_code == 403, (url, res.text)
        assert res.json() == {
            "error": "a shared dashboard link cannot use this endpoint",
            "field": "session",
            "rule": "share_scope",
        }
    funnel = {"site_id": SITE, "steps": [{"page": "/"}, {"page": "/a"}]}
    allowed = [
        ("POST", "/api/v2/query", None, QUERY),
        ("POST", "/api/v2/funnel", None, funnel),
        ("POST", "/api/v2/journeys", None, {"site_id": SITE, "page": "/"}),
        ("POST", "/api/v2/retention", None, {"site_id": SITE}),
        ("GET", "/api/v2/realtime", {"site_id": SITE}, None),
        ("GET", "/api/dashboard/props", {"site_id": SITE}, None),
        ("GET", "/api/dashboard/sites", None, None),
    ]
    for method, url, params, body in allowed:
        res = visitor.request(method, url, params=params, json=body)
        assert res.status_code == 200, (url, res.text)
    csv_res = visitor.post("/api/v2/query", params={"format": "csv"}, json=QUERY)
    assert csv_res.status_code == 200  # the dashboard's CSV buttons
    other = visitor.post("/api/v2/query", json={**QUERY, "site_id": "shop.test"})
    assert other.status_code == 403


def test_a_shared_link_can_expire(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    path, share_id = _share(client, expires_days=1)
    listed = client.get(
        "/api/dashboard/shares",
        headers={"authorization": f"Bearer {create_key(wiring.ports().keys, ('*',))[0]}"},
    ).json()["shares"]
    assert [s["expires_at"] for s in listed if s["id"] == share_id][0] > time.time()
    visitor = _visitor(path)
    cookie = visitor.get(path).headers["set-cookie"]
    assert "Max-Age=" in cookie and int(cookie.split("Max-Age=")[1].split(";")[0]) <= 86_400
    assert visitor.post("/api/v2/query", json=QUERY).status_code == 200
    later = time.time() + 2 * 86_400
    monkeypatch.setattr(time, "time", lambda: later)
    assert visitor.post("/api/v2/query", json=QUERY).status_code == 401
    assert visitor.get(path).status_code == 404
    bad = client.post("/api/dashboard/shares", json={"site_id": SITE, "expires_days": 0})
    assert bad.status_code in (401, 422)


def test_a_shared_link_has_a_request_budget(client: TestClient) -> None:
    """Before: a public link could run queries without end."""
    path, share_id = _share(client)
    visitor = _visitor(path)
    assert visitor.post("/api/v2/query", json=QUERY).status_code == 200
    bucket = share_budget()
    assert bucket.allow(SHARE_KEY_PREFIX + share_id, cost=LIMITS.share_burst - 1)
    res = visitor.post("/api/v2/query", json=QUERY)
    assert res.status_code == 429 and int(res.headers["retry-after"]) >= 1
    assert res.json()["rule"] == "share_budget" and res.json()["field"] == "session"
    other_path, _ = _share(client)
    assert _visitor(other_path).post("/api/v2/query", json=QUERY).status_code == 200
