"""Small-count protection through the app: a shared link's session gets the owner's rows with
every count below the link's k (and what derives from it) null, in every answer it can read:
v2 query (breakdown, aggregate, timeseries, comparisons, CSV), funnel, journeys, retention,
realtime. The owner's answers are exact and untouched."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from beaconlake import wiring
from beaconlake.handlers.stats import create_app
from beaconlake.ingest.service import collect
from beaconlake.keys import create_key
from beaconlake.model import RequestMeta
from tests.conftest import CHROME_UA

SITE = "example.com"
BIG, SMALL = 7, 2  # visitors of /big and of /small
BREAKDOWN: dict[str, Any] = {
    "site_id": SITE,
    "metrics": ["visitors", "pageviews", "bounce_rate", "percentage"],
    "date_range": "day",
    "dimensions": ["event:page"],
    "order_by": [["visitors", "desc"]],
}


@pytest.fixture
def owner(local_env: Path) -> Iterator[TestClient]:
    p = wiring.ports()
    now = datetime.now(UTC)
    for v in range(BIG + SMALL):
        page = "/big" if v < BIG else "/small"
        meta = RequestMeta(f"198.51.100.{v + 1}", CHROME_UA)
        for _ in range(1 + v % 2):
            beacon = {"n": "pageview", "u": f"https://{SITE}{page}", "d": SITE}
            p.sink.put(collect(beacon, meta, p.policy, p.salts.salt_for, now).events)
    p.sink.flush()
    token, _ = create_key(p.keys, ("*",), "owner")
    with TestClient(create_app(), headers={"authorization": f"Bearer {token}"}) as c:
        yield c


def _viewer(owner: TestClient, k: int | None = None) -> TestClient:
    """A browser that opened a new shared link to SITE (threshold k, or the default)."""
    body: dict[str, Any] = {"site_id": SITE} | ({"min_count": k} if k is not None else {})
    made = owner.post("/api/dashboard/shares", json=body)
    assert made.status_code == 201, made.text
    viewer = TestClient(create_app())
    page = viewer.get(made.json()["path"])
    login = page.text.split('data-login="', 1)[1].split('"', 1)[0]
    viewer.headers["x-beaconlake-share"] = login
    return viewer


def _rows(answer: dict[str, Any]) -> dict[str, list[Any]]:
    return {r["dimensions"][0]: r["metrics"] for r in answer["results"]}


def test_a_shared_breakdown_has_the_owners_rows_with_small_counts_null(
    owner: TestClient,
) -> None:
    mine = owner.post("/api/v2/query", json=BREAKDOWN).json()
    assert "small_counts" not in mine["meta"]
    big, small = _rows(mine)["/big"], _rows(mine)["/small"]
    assert big[0] == BIG and small[0] == SMALL  # the owner's answer is exact
    shared = _viewer(owner).post("/api/v2/query", json=BREAKDOWN).json()
    assert [r["dimensions"] for r in shared["results"]] == [
        r["dimensions"] for r in mine["results"]
    ]
    assert _rows(shared) == {"/big": big, "/small": [None, None, None, None]}
    assert shared["meta"]["small_counts"] == {"k": 5, "hidden": 4}
    assert shared["query"]["metrics"] == BREAKDOWN["metrics"]
    # the same link's owner picks k: with k = 2 /small is shown
    loose = _viewer(owner, 2).post("/api/v2/query", json=BREAKDOWN).json()
    assert _rows(loose) == _rows(mine) and loose["meta"]["small_counts"]["hidden"] == 0


def test_rates_alone_are_hidden_over_small_rows(owner: TestClient) -> None:
    """A bounce rate of a row of 2 visitors is hidden even when no count was asked for."""
    body = {**BREAKDOWN, "metrics": ["bounce_rate"], "order_by": [["bounce_rate", "desc"]]}
    shared = _viewer(owner).post("/api/v2/query", json=body).json()
    rows = _rows(shared)
    assert rows["/small"] == [None] and rows["/big"][0] is not None
    assert shared["query"]["metrics"] == ["bounce_rate"]


def test_aggregates_timeseries_and_comparisons(owner: TestClient) -> None:
    viewer = _viewer(owner, 10)  # 9 visitors in all: below k
    total = {"site_id": SITE, "metrics": ["visitors", "visits"], "date_range": "day"}
    assert viewer.post("/api/v2/query", json=total).json()["results"][0]["metrics"] == [None] * 2
    series = {**total, "dimensions": ["time:hour"]}
    for row in viewer.post("/api/v2/query", json=series).json()["results"]:
        assert row["metrics"] == [None, None]
    compared = {**BREAKDOWN, "include": {"comparisons": {"mode": "previous_period"}}}
    answer = _viewer(owner).post("/api/v2/query", json=compared).json()
    for row in answer["results"]:  # the previous day had no visitors: no change to show
        assert row["comparison"]["metrics"][0] is None
        assert row["comparison"]["change"] == [None] * 4


def test_the_csv_of_a_shared_session_hides_small_counts(owner: TestClient) -> None:
    res = _viewer(owner).post("/api/v2/query", params={"format": "csv"}, json=BREAKDOWN)
    rows = list(csv.reader(io.StringIO(res.text)))
    assert rows[0] == ["event:page", "visitors", "pageviews", "bounce_rate", "percentage"]
    by_page = {r[0]: r[1:] for r in rows[1:]}
    assert by_page["/small"] == ["", "", "", ""] and by_page["/big"][0] == str(BIG)
    export = {"site_id": SITE, "date_range": "day"}
    assert _viewer(owner).get("/api/v2/export/events", params=export).status_code == 403


def test_behaviour_answers_hide_small_counts(owner: TestClient) -> None:
    viewer = _viewer(owner)
    funnel = {"site_id": SITE, "date_range": "day", "steps": [{"page": "/*"}, {"page": "/small"}]}
    mine = owner.post("/api/v2/funnel", json=funnel).json()
    theirs = viewer.post("/api/v2/funnel", json=funnel).json()
    assert mine["steps"][0]["visitors"] == BIG + SMALL and 0 < mine["steps"][1]["visitors"] < 5
    assert [s["visitors"] for s in theirs["steps"]] == [BIG + SMALL, None]
    assert theirs["steps"][1]["conversion_rate"] is None and theirs["conversion_rate"] is None
    assert theirs["steps"][1]["dropoff"] is None  # it would give away step 2 too
    # step 2: visitors, both rates, drop-off; the total rate; step 1 drop-off (0 < k)
    assert theirs["meta"]["small_counts"] == {"k": 5, "hidden": 6}
    journeys = {"site_id": SITE, "date_range": "day", "page": "/small"}
    answer = viewer.post("/api/v2/journeys", json=journeys).json()
    assert answer["visits"] is None and all(r["visits"] is None for r in answer["results"])
    now = viewer.get("/api/v2/realtime", params={"site_id": SITE}).json()
    assert now["visitors"] == BIG + SMALL  # 9 in the last 5 minutes: shown
    counts = [v for m in now["series"] for v in (m["visitors"], m["pageviews"])]
    assert all(v is None or v >= 5 for v in counts)
    retention = viewer.post("/api/v2/retention", json={"site_id": SITE}).json()
    assert retention["meta"]["small_counts"]["k"] == 5
