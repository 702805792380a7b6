"""Minimal mode through the real local server: the stored rows are coarsened, and the stats
API answers what hourly timestamps make unknowable as unavailable, never as a number."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import IPHONE_UA
from tests.server import NO_LIMITS, parquet_rows, start_server

pytestmark = pytest.mark.slow

TIMED = ["bounce_rate", "visit_duration", "views_per_visit"]


def send(base: str, path: str, ip: str) -> None:
    body = {
        "n": "pageview",
        "u": f"https://example.com{path}",
        "d": "example.com",
        "r": "https://news.example.org/item?id=1",
    }
    headers = {"user-agent": IPHONE_UA, "x-forwarded-for": ip}
    assert httpx.post(f"{base}/api/event", json=body, headers=headers).status_code == 202


def rows_when_flushed(srv, count: int) -> list[dict]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = parquet_rows(srv.data_dir)
        if len(rows) >= count:
            return rows
        time.sleep(0.2)
    raise AssertionError(f"{count} rows were not flushed in 20 s")


def query(srv, metrics: list[str]) -> dict:
    body = {"site_id": "example.com", "metrics": metrics, "date_range": "day"}
    res = httpx.post(
        f"{srv.base}/api/v2/query",
        json=body,
        headers={"authorization": f"Bearer {srv.key}"},
        timeout=30,
    )
    assert res.status_code == 200, res.text
    return dict(res.json())


def test_minimal_mode_coarsens_rows_and_answers_timed_metrics_as_unavailable(tmp_path) -> None:
    srv = start_server(
        tmp_path / "data",
        tmp_path / "logs",
        BEACONLAKE_PRIVACY="minimal",
        BEACONLAKE_PRIVACY_NO_VISITOR_ID="true",
        **NO_LIMITS,
    )
    try:
        # two people behind one /24, three pageviews
        send(srv.base, "/a", "198.51.100.7")
        send(srv.base, "/b", "198.51.100.7")
        send(srv.base, "/a", "198.51.100.99")
        rows = rows_when_flushed(srv, 3)
        for row in rows:
            assert (row["ts"].minute, row["ts"].second, row["ts"].microsecond) == (0, 0, 0)
            assert (row["browser_version"], row["os_version"], row["device"]) == (None,) * 3
            assert row["referrer"] == "news.example.org"
        # no visitor id: every event is its own visitor and visit
        assert len({row["visitor_id"] for row in rows}) == 3

        answer = query(srv, ["visitors", "visits", "pageviews", *TIMED])
        (result,) = answer["results"]
        assert result["metrics"][:3] == [3, 3, 3]
        assert result["metrics"][3:] == [None, None, None]
        assert sorted(answer["meta"]["unavailable"]) == sorted(TIMED)
        # no visitor id: visits are not split by the hour, they are single events
        assert "approximate" not in answer["meta"]
        assert "hour" in answer["meta"]["unavailable"]["visit_duration"]
        assert answer["meta"]["visitors_are_visits"] is True

        v1 = srv.stats(
            "/api/v1/stats/aggregate",
            site_id="example.com",
            period="day",
            metrics="visitors,bounce_rate,visit_duration",
        ).json()
        assert v1["results"]["visitors"]["value"] == 3
        assert v1["results"]["bounce_rate"]["value"] is None
        assert set(v1["meta"]["unavailable"]) == {"bounce_rate", "visit_duration"}

        realtime = srv.stats("/api/v2/realtime", site_id="example.com").json()
        assert realtime["visitors"] is None
        assert all(p["visitors"] is None for p in realtime["series"])
        assert "realtime_per_minute" in realtime["meta"]["unavailable"]
        bare = srv.stats("/api/v1/stats/realtime/visitors", site_id="example.com")
        assert (bare.status_code, bare.json()) == (200, None)

        # what follows a visitor from step to step is refused, not answered as 0 past step 1
        steps = [{"page": "/a"}, {"page": "/b"}]
        for path, body in [
            ("/api/v2/funnel", {"steps": steps}),
            ("/api/v2/sequences", {"steps": steps}),
            ("/api/v2/journeys", {"page": "/a"}),
            ("/api/v2/paths", {}),
        ]:
            res = httpx.post(
                f"{srv.base}{path}",
                json={"site_id": "example.com", "date_range": "day", **body},
                headers={"authorization": f"Bearer {srv.key}"},
                timeout=30,
            )
            assert res.status_code == 400, (path, res.text)
            assert res.json()["rule"] == "no_visitor_id", (path, res.text)
    finally:
        srv.stop()


def test_standard_mode_answers_the_same_metrics(tmp_path) -> None:
    srv = start_server(tmp_path / "data", tmp_path / "logs", **NO_LIMITS)
    try:
        send(srv.base, "/a", "198.51.100.7")
        send(srv.base, "/b", "198.51.100.7")
        rows_when_flushed(srv, 2)
        answer = query(srv, ["visitors", *TIMED])
        (result,) = answer["results"]
        assert result["metrics"][0] == 1
        assert None not in result["metrics"]
        assert "unavailable" not in answer["meta"]
    finally:
        srv.stop()
