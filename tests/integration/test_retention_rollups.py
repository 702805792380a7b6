"""Downsampled retention (issue 29 item 3), locally: retention deletes the raw events of
old days and keeps their daily rollups; queries over those days are answered from the
rollups with exactly the numbers they had before, say so in `meta`, and what needs raw
events (funnels, journeys, custom properties, event-level dimensions) is refused with a 400
naming the range and the rule; erasing a date range removes the kept rollups too."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from beaconlake import erasure, wiring
from beaconlake.adapters.duckdb_engine import DuckDBEngine
from beaconlake.adapters.parquet_sink import ParquetEventStore, rollup_dir
from beaconlake.cli import main
from beaconlake.handlers.stats import create_app
from beaconlake.keys import create_key
from beaconlake.ports import ALL_SCOPES
from beaconlake.stats import behaviour, behaviour_query
from beaconlake.stats.query import QueryError
from beaconlake.stats.query_parser import parse_query
from beaconlake.stats.query_runner import parse_include, run_query
from beaconlake.stats.rollup_job import RollupJob
from beaconlake.wiring import local_engine

SITE = "example.com"
DAYS = 40  # of demo traffic, ending now
KEPT = 15  # days of raw events retention keeps
TODAY = datetime.now(UTC).date()
FIRST = TODAY - timedelta(days=DAYS - 1)
LAST_EXPIRED = TODAY - timedelta(days=KEPT)
RANGE = [FIRST.isoformat(), (TODAY - timedelta(days=1)).isoformat()]
TOTALS = ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration", "views_per_visit"]
EXACT_BODIES: list[dict[str, Any]] = [
    {"metrics": TOTALS},
    {"metrics": ["visitors", "visits", "pageviews"], "dimensions": ["time:day"]},
    {"metrics": ["visitors", "pageviews", "bounce_rate"], "dimensions": ["time:month"]},
    {"metrics": ["visitors", "visits"], "dimensions": ["visit:source"]},
    {"metrics": ["visitors", "visits"], "dimensions": ["visit:country", "visit:browser"]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]},
    {"metrics": ["visitors"], "filters": [["is", "visit:device", ["Desktop"]]]},
    {"metrics": ["visitors", "pageviews"], "filters": [["contains", "event:page", ["/docs"]]]},
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Any:
    root = tmp_path_factory.mktemp("retention")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BEACONLAKE_BACKEND", "local")
        mp.setenv("BEACONLAKE_DATA_DIR", str(root))
        mp.setenv("BEACONLAKE_SITES", SITE)
        mp.delenv("BEACONLAKE_GOALS", raising=False)
        wiring.reset()
        assert main(["demo", "--days", str(DAYS), "--visitors", "40", "--quiet"]) == 0
        wiring.reset()
    return root


def engine(root: Any) -> DuckDBEngine:
    return local_engine(root, cached_answers=0)


def events_only(root: Any) -> DuckDBEngine:
    """An engine with no daily job: every past day answered from its raw events."""
    eng = local_engine(root, cached_answers=0)
    eng.refresh_days = None
    return eng


def run(eng: DuckDBEngine, body: dict[str, Any]) -> dict[str, Any]:
    q = parse_query({"site_id": SITE, "date_range": RANGE, **body}, {}, TODAY)
    return run_query(eng, q, parse_include(body.get("include")), TODAY)


def expire(root: Any) -> None:
    eng = engine(root)
    job = RollupJob(eng, compact=False)
    report = erasure.apply_retention(ParquetEventStore(root), TODAY, KEPT, job.refresh)
    assert report.partitions == DAYS - KEPT and report.rows_deleted > 1000


def ensure_expired(root: Any) -> None:
    """Each test can run alone: retention has run once on the module's data."""
    if not (root / "rollup" / f"site_id={SITE}" / f"dt={LAST_EXPIRED}" / "RAW_EXPIRED").exists():
        expire(root)


def test_queries_over_expired_days_equal_the_answers_before(data_dir) -> None:
    before = [run(events_only(data_dir), body) for body in EXACT_BODIES]
    funnel_body = {"site_id": SITE, "date_range": RANGE, "steps": [{"page": "/"}, {"page": "/*"}]}
    funnel_before = behaviour.run_funnel(
        engine(data_dir), behaviour_query.parse_funnel(funnel_body, {}, TODAY)
    )
    assert funnel_before["steps"][0]["visitors"] > 0
    assert all("answered_from" not in b["meta"] for b in before)

    expire(data_dir)
    events = data_dir / "events" / f"site_id={SITE}"
    assert sorted(d.name for d in events.glob("dt=*"))[0] == f"dt={LAST_EXPIRED + timedelta(1)}"

    eng = engine(data_dir)  # a new process: nothing remembered of the deleted files
    for body, old in zip(EXACT_BODIES, before, strict=True):
        new = run(eng, body)
        assert new["results"] == old["results"], body
        assert new["meta"]["answered_from"] == "daily_rollups"
        assert new["meta"]["rollup_days"] == [FIRST.isoformat(), LAST_EXPIRED.isoformat()]
    totals = before[0]["results"][0]["metrics"]
    assert totals[0] > 500 and totals[2] > totals[1]

    # a range with raw events only says nothing of rollups
    recent = run(eng, {"metrics": ["visitors"], "date_range": "7d"})
    assert "answered_from" not in recent["meta"]


def test_what_rollups_cannot_answer_is_a_400_naming_range_and_rule(data_dir) -> None:
    ensure_expired(data_dir)
    eng = engine(data_dir)
    refused: list[dict[str, Any]] = [
        {"metrics": ["visitors"], "dimensions": ["event:props:plan"]},
        {"metrics": ["events"], "dimensions": ["event:name"]},
        {"metrics": ["visitors"], "dimensions": ["event:hostname"]},
        {"metrics": ["visitors"], "dimensions": ["event:goal"]},
    ]
    for body in refused:
        with pytest.raises(QueryError) as err:
            run(eng, body)
        assert err.value.rule == "raw_data_expired" and err.value.field == "date_range"
        assert f"from {FIRST} to {LAST_EXPIRED}" in err.value.message
    funnel = {"site_id": SITE, "date_range": RANGE, "steps": [{"page": "/"}, {"page": "/*"}]}
    with pytest.raises(QueryError) as err:
        behaviour.run_funnel(eng, behaviour_query.parse_funnel(funnel, {}, TODAY))
    assert err.value.as_body()["rule"] == "raw_data_expired"
    assert "funnels need the raw events" in err.value.message
    journey = {"site_id": SITE, "date_range": RANGE, "page": "/"}
    with pytest.raises(QueryError, match="journeys need the raw events"):
        behaviour.run_journeys(eng, behaviour_query.parse_journey(journey, {}, TODAY))
    # the same over the days that still have raw events is answered
    recent = {**funnel, "date_range": [str(LAST_EXPIRED + timedelta(1)), str(TODAY)]}
    assert behaviour.run_funnel(eng, behaviour_query.parse_funnel(recent, {}, TODAY))["steps"]
    # a comparison range that reaches back past the raw data says so too
    cmp = run(
        eng,
        {
            "metrics": ["visitors"],
            "date_range": "7d",
            "include": {
                "comparisons": {
                    "mode": "custom",
                    "date_range": [str(FIRST), str(FIRST + timedelta(6))],
                }
            },
        },
    )
    assert cmp["meta"]["comparison_answered_from"] == "daily_rollups"


def test_the_daily_job_keeps_expired_rollups_and_erasure_removes_them(data_dir) -> None:
    ensure_expired(data_dir)
    eng = engine(data_dir)
    report = RollupJob(eng, compact=False).run(TODAY)
    assert report.days_dropped == 0
    assert (rollup_dir(data_dir, SITE, FIRST.isoformat()) / "session_rollup.parquet").exists()
    erased = erasure.erase(
        ParquetEventStore(data_dir), erasure.Erasure(SITE, FIRST, FIRST + timedelta(days=1))
    )
    assert erased.partitions == 2
    assert not rollup_dir(data_dir, SITE, FIRST.isoformat()).exists()
    assert rollup_dir(data_dir, SITE, (FIRST + timedelta(days=2)).isoformat()).exists()
    rows = eng.query(
        "SELECT count(*) AS n FROM session_rollup WHERE site_id = ? AND dt <= ?",
        [SITE, (FIRST + timedelta(days=1)).isoformat()],
    )
    assert rows == [{"n": 0}]
    answer = run(engine(data_dir), {"metrics": ["visitors"], "dimensions": ["time:day"]})
    by_day = {r["dimensions"][0]: r["metrics"][0] for r in answer["results"]}
    assert str(FIRST) not in by_day and by_day[str(FIRST + timedelta(days=2))] > 0
    assert answer["meta"]["rollup_days"] == [str(FIRST + timedelta(days=2)), str(LAST_EXPIRED)]


def test_retention_setting_and_cli(data_dir, monkeypatch, capsys) -> None:
    monkeypatch.setenv("BEACONLAKE_BACKEND", "local")
    monkeypatch.setenv("BEACONLAKE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("BEACONLAKE_SITES", SITE)
    monkeypatch.setenv("BEACONLAKE_RETENTION_DAYS", str(KEPT - 5))
    wiring.reset()
    assert main(["retention"]) == 0
    out = capsys.readouterr().out
    assert f"before {TODAY - timedelta(days=KEPT - 6)}, their daily rollups kept" in out
    day = TODAY - timedelta(days=KEPT - 1)
    assert (rollup_dir(data_dir, SITE, day.isoformat()) / "RAW_EXPIRED").exists()
    assert not (data_dir / "events" / f"site_id={SITE}" / f"dt={day}").exists()
    wiring.reset()


def test_over_http_a_refusal_is_a_400_and_an_answer_says_its_source(data_dir, monkeypatch) -> None:
    ensure_expired(data_dir)
    monkeypatch.setenv("BEACONLAKE_BACKEND", "local")
    monkeypatch.setenv("BEACONLAKE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("BEACONLAKE_SITES", SITE)
    wiring.reset()
    try:
        with TestClient(create_app()) as client:
            token, _ = create_key(wiring.ports().keys, ("*",), "owner", ALL_SCOPES)
            auth = {"authorization": f"Bearer {token}"}
            body = {"site_id": SITE, "date_range": RANGE, "metrics": ["visitors"]}
            ok = client.post("/api/v2/query", json=body, headers=auth)
            assert ok.status_code == 200, ok.text
            assert ok.json()["meta"]["answered_from"] == "daily_rollups"
            props = {**body, "dimensions": ["event:props:plan"]}
            refused = client.post("/api/v2/query", json=props, headers=auth)
            assert refused.status_code == 400
            assert refused.json()["rule"] == "raw_data_expired"
            assert refused.json()["field"] == "date_range"
            funnel = {
                "site_id": SITE,
                "date_range": RANGE,
                "steps": [{"page": "/"}, {"page": "/*"}],
            }
            refused = client.post("/api/v2/funnel", json=funnel, headers=auth)
            assert refused.status_code == 400
            assert refused.json()["rule"] == "raw_data_expired"
            assert re.search(r"from \d{4}-\d\d-\d\d to \d{4}-", refused.json()["error"])
    finally:
        wiring.reset()


def test_first_day_kept_is_the_retention_boundary() -> None:
    assert erasure.first_day_kept(date(2026, 12, 31), 395) == date(2025, 12, 2)
