"""Per-month rollups (issue 29 item 3), locally: three years of generated traffic, raw events
kept N days, daily rollups M more, per-month rollups after that. Totals, breakdowns by the
kept dimensions and a monthly time series equal the answers computed from the raw events
before anything was deleted; visitors of a month are the sum of its days' visitors; `meta`
says where answers come from; what the monthly rows cannot answer is a 400 naming the field,
the rule and the months; erasing a day erases its month's rows; the job is idempotent."""

from __future__ import annotations

import calendar
import shutil
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from beaconlake import erasure, wiring
from beaconlake.adapters.duckdb_engine import DuckDBEngine
from beaconlake.adapters.parquet_sink import ParquetEventStore
from beaconlake.cli import main
from beaconlake.config import Settings
from beaconlake.handlers.stats import create_app
from beaconlake.keys import create_key
from beaconlake.local.demo import generate, ingest
from beaconlake.ports import ALL_SCOPES
from beaconlake.stats import behaviour, behaviour_query, monthly_job
from beaconlake.stats.query import QueryError
from beaconlake.stats.query_parser import parse_query
from beaconlake.stats.query_runner import parse_include, run_query
from beaconlake.wiring import local_engine

SITE = "example.com"
NOW = datetime.now(UTC)
TODAY = NOW.date()
DAYS = 3 * 365  # of generated traffic, ending now
KEPT = 20  # N: days of raw events
DAILY = 40  # M: days of daily rollups after them
DATA_DAYS = (3, 17)  # days of the month with traffic (keeps the test's daily work small)
CUT = TODAY - timedelta(days=KEPT + DAILY - 1)  # the first day whose daily rollups are kept
FIRST = TODAY - timedelta(days=DAYS - 1)
FIRST_MONTH = FIRST.replace(day=1)
LAST_MONTH = (CUT.replace(day=1) - timedelta(days=1)).replace(day=1)  # the last condensed


def month_end(d: date) -> date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


MONTHLY_RANGE = [FIRST_MONTH.isoformat(), month_end(LAST_MONTH).isoformat()]
WHOLE_RANGE = [FIRST_MONTH.isoformat(), (TODAY - timedelta(days=1)).isoformat()]
TOTALS = ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration", "views_per_visit"]
EXACT_BODIES: list[dict[str, Any]] = [
    {"metrics": TOTALS},
    {"metrics": ["visitors", "visits", "pageviews", "bounce_rate"], "dimensions": ["time:month"]},
    {"metrics": ["visitors", "visits"], "dimensions": ["visit:source"]},
    {"metrics": ["visitors", "visit_duration"], "dimensions": ["visit:country"]},
    {"metrics": ["visitors", "visits"], "dimensions": ["visit:browser"]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]},
    {"metrics": ["visits", "bounce_rate"], "dimensions": ["visit:entry_page"]},
    {"metrics": ["visitors", "pageviews"], "filters": [["is", "visit:device", ["Desktop"]]]},
    {"metrics": ["pageviews"], "filters": [["contains", "event:page", ["/docs"]]]},
    {"metrics": ["visitors", "pageviews"], "filters": [["is", "event:page", ["/"]]]},
    {"metrics": ["visitors", "visits"], "filters": [["is", "visit:source", ["Google"]]]},
    {"metrics": ["visits", "pageviews"], "filters": [["is_not", "visit:source", ["Google"]]]},
    {"metrics": ["visitors"], "dimensions": ["visit:os", "visit:os_version"]},
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Any:
    """Three years of demo traffic on two days of each month, then retention (N, M)."""
    root = tmp_path_factory.mktemp("monthly")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BEACONLAKE_BACKEND", "local")
        mp.setenv("BEACONLAKE_DATA_DIR", str(root))
        mp.setenv("BEACONLAKE_SITES", SITE)
        mp.delenv("BEACONLAKE_GOALS", raising=False)
        wiring.reset()
        p = wiring.ports()
        beacons = (b for b in generate(SITE, DAYS, 12, 7, NOW) if b.at.day in DATA_DAYS)
        events = [e for e in ingest(beacons, p.policy, p.country_lookup) if not isinstance(e, str)]
        p.sink.put(events)
        wiring.reset()
    return root


def events_only(root: Any) -> DuckDBEngine:
    eng = local_engine(root, cached_answers=0)
    eng.refresh_days = None
    return eng


def run(eng: DuckDBEngine, body: dict[str, Any], date_range: list[str]) -> dict[str, Any]:
    q = parse_query({"site_id": SITE, "date_range": date_range, **body}, {}, TODAY)
    return run_query(eng, q, parse_include(body.get("include")), TODAY)


@pytest.fixture(scope="module")
def before(data_dir) -> dict[str, Any]:
    """The answers from raw events, before retention; then retention runs (the CLI)."""
    eng = events_only(data_dir)
    answers = {
        "monthly": [run(eng, b, MONTHLY_RANGE) for b in EXACT_BODIES],
        "whole": [run(eng, b, WHOLE_RANGE) for b in EXACT_BODIES],
        "daily_visitors": run(
            eng, {"metrics": ["visitors"], "dimensions": ["time:day"]}, MONTHLY_RANGE
        ),
    }
    eng.close()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BEACONLAKE_BACKEND", "local")
        mp.setenv("BEACONLAKE_SITES", SITE)
        mp.setenv("BEACONLAKE_DAILY_ROLLUP_DAYS", str(DAILY))
        wiring.reset()
        args = ["retention", "--days", str(KEPT), "--data-dir", str(data_dir)]
        assert main(args) == 0
        wiring.reset()
    return answers


def months_dir(root: Any) -> Any:
    return root / "monthly" / f"site_id={SITE}"


def test_the_setting_has_a_default_and_is_read_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("BEACONLAKE_DAILY_ROLLUP_DAYS", raising=False)
    assert Settings.from_env().daily_rollup_days == 365
    monkeypatch.setenv("BEACONLAKE_DAILY_ROLLUP_DAYS", "31")
    assert Settings.from_env().daily_rollup_days == 31


def test_retention_condenses_old_months_and_deletes_their_daily_rollups(data_dir, before) -> None:
    months = sorted(d.name for d in months_dir(data_dir).glob("dt=*"))
    assert months[0] == f"dt={FIRST_MONTH}" and months[-1] == f"dt={LAST_MONTH}"
    assert len(months) >= 34
    daily = sorted(d.name for d in (data_dir / "rollup" / f"site_id={SITE}").glob("dt=*"))
    assert daily and daily[0] >= f"dt={month_end(LAST_MONTH) + timedelta(days=1)}"
    assert all(
        name.removeprefix("dt=") < (TODAY - timedelta(KEPT - 1)).isoformat() for name in daily
    )
    events = sorted(d.name for d in (data_dir / "events" / f"site_id={SITE}").glob("dt=*"))
    assert events[0] >= f"dt={TODAY - timedelta(KEPT - 1)}"


def test_answers_over_monthly_months_equal_the_answers_before(data_dir, before) -> None:
    eng = local_engine(data_dir, cached_answers=0)
    for body, old in zip(EXACT_BODIES, before["monthly"], strict=True):
        new = run(eng, body, MONTHLY_RANGE)
        assert new["results"] == old["results"], body
        assert new["meta"]["answered_from"] == "monthly_rollups"
        assert new["meta"]["rollup_months"] == [f"{FIRST_MONTH:%Y-%m}", f"{LAST_MONTH:%Y-%m}"]
    totals = before["monthly"][0]["results"][0]["metrics"]
    assert totals[0] > 500 and totals[2] > totals[1]
    series = before["monthly"][1]["results"]
    assert len(series) >= 34


def test_a_range_over_monthly_daily_and_raw_data_equals_the_answer_before(data_dir, before) -> None:
    eng = local_engine(data_dir, cached_answers=0)
    for body, old in zip(EXACT_BODIES, before["whole"], strict=True):
        new = run(eng, body, WHOLE_RANGE)
        assert new["results"] == old["results"], body
        assert new["meta"]["answered_from"] == "monthly_rollups"
        assert new["meta"]["rollup_months"][-1] == f"{LAST_MONTH:%Y-%m}"
        assert new["meta"]["rollup_days"][0] > month_end(LAST_MONTH).isoformat()


def test_a_months_visitors_are_the_sum_of_its_days_visitors(data_dir, before) -> None:
    by_month: dict[str, int] = {}
    for row in before["daily_visitors"]["results"]:
        month = row["dimensions"][0][:7]
        by_month[month] = by_month.get(month, 0) + row["metrics"][0]
    eng = local_engine(data_dir, cached_answers=0)
    new = run(eng, {"metrics": ["visitors"], "dimensions": ["time:month"]}, MONTHLY_RANGE)
    got = {r["dimensions"][0][:7]: r["metrics"][0] for r in new["results"]}
    assert got == {m: v for m, v in by_month.items() if v}
    assert sum(got.values()) > 500


REFUSED: list[tuple[dict[str, Any], list[str], str]] = [
    ({"metrics": ["visitors"], "dimensions": ["time:day"]}, MONTHLY_RANGE, "time:month"),
    ({"metrics": ["visitors"], "dimensions": ["time:week"]}, WHOLE_RANGE, "time:month"),
    (
        {"metrics": ["visitors"]},
        [(FIRST_MONTH + timedelta(days=40)).isoformat(), MONTHLY_RANGE[1]],
        "start on",
    ),
    ({"metrics": ["visitors"]}, [MONTHLY_RANGE[0], f"{LAST_MONTH:%Y-%m}-10"], "end on"),
    (
        {"metrics": ["visitors"], "dimensions": ["visit:source", "visit:country"]},
        MONTHLY_RANGE,
        "no table with visit:country, visit:source",
    ),
    ({"metrics": ["visitors"], "dimensions": ["event:props:plan"]}, MONTHLY_RANGE, "no table"),
    (
        {"metrics": ["visitors"], "filters": [["contains", "event:page", ["/docs"]]]},
        MONTHLY_RANGE,
        "visitors of several event:page values",
    ),
    ({"metrics": ["percentage"], "dimensions": ["visit:source"]}, MONTHLY_RANGE, "percentage"),
]


@pytest.mark.parametrize(("body", "date_range", "says"), REFUSED)
def test_what_monthly_rows_cannot_answer_is_a_400(data_dir, before, body, date_range, says) -> None:
    eng = local_engine(data_dir, cached_answers=0)
    with pytest.raises(QueryError) as err:
        run(eng, body, date_range)
    assert err.value.field == "date_range" and err.value.rule == "raw_data_expired"
    message = str(err.value)
    assert says in message
    assert f" to {LAST_MONTH:%Y-%m} were condensed" in message


def test_funnels_over_monthly_months_are_refused(data_dir, before) -> None:
    eng = local_engine(data_dir, cached_answers=0)
    body = {"site_id": SITE, "date_range": WHOLE_RANGE, "steps": [{"page": "/"}, {"page": "/*"}]}
    with pytest.raises(QueryError) as err:
        behaviour.run_funnel(eng, behaviour_query.parse_funnel(body, {}, TODAY))
    assert err.value.rule == "raw_data_expired"
    assert str(month_end(LAST_MONTH) + timedelta(days=1)) in str(err.value)


def test_the_job_is_idempotent_and_ignores_a_half_written_month(data_dir, before) -> None:
    partial = months_dir(data_dir) / f".partial-dt={LAST_MONTH}"
    shutil.copytree(months_dir(data_dir) / f"dt={LAST_MONTH}", partial)
    eng = local_engine(data_dir, cached_answers=0)
    store = ParquetEventStore(data_dir)
    again = monthly_job.condense(eng, eng, store, TODAY, KEPT, DAILY)
    assert again.months_written == 0 and again.days_deleted == 0
    new = run(eng, EXACT_BODIES[0], MONTHLY_RANGE)  # the partial copy is not read
    assert new["results"] == before["monthly"][0]["results"]
    shutil.rmtree(partial)


def test_over_http_monthly_answers_and_refusals(data_dir, before, monkeypatch) -> None:
    monkeypatch.setenv("BEACONLAKE_BACKEND", "local")
    monkeypatch.setenv("BEACONLAKE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("BEACONLAKE_SITES", SITE)
    wiring.reset()
    try:
        with TestClient(create_app()) as client:
            token, _ = create_key(wiring.ports().keys, ("*",), "owner", ALL_SCOPES)
            auth = {"authorization": f"Bearer {token}"}
            body = {"site_id": SITE, "date_range": WHOLE_RANGE, "metrics": TOTALS}
            ok = client.post("/api/v2/query", json=body, headers=auth)
            assert ok.status_code == 200, ok.text
            assert ok.json()["results"] == before["whole"][0]["results"], ok.json()["meta"]
            assert ok.json()["meta"]["answered_from"] == "monthly_rollups"
            daily = {**body, "dimensions": ["time:day"]}
            refused = client.post("/api/v2/query", json=daily, headers=auth)
            assert refused.status_code == 400
            assert refused.json()["rule"] == "raw_data_expired"
            assert refused.json()["field"] == "date_range"
            assert "time:month" in refused.json()["error"]
            v1 = client.get(
                "/api/v1/stats/aggregate",
                params={
                    "site_id": SITE,
                    "period": "custom",
                    "from": WHOLE_RANGE[0],
                    "to": WHOLE_RANGE[1],
                    "metrics": "visitors",
                },
                headers=auth,
            )
            assert v1.status_code == 400 and "Stats API v1" in v1.text, v1.text
    finally:
        wiring.reset()


def test_erasing_a_day_erases_its_months_rows(data_dir, before) -> None:
    month = FIRST_MONTH + timedelta(days=62)
    month = month.replace(day=1)
    day = month.replace(day=DATA_DAYS[1])
    body = {"metrics": ["visitors"]}
    month_range = [month.isoformat(), month_end(month).isoformat()]
    eng = local_engine(data_dir, cached_answers=0)
    assert run(eng, body, month_range)["results"][0]["metrics"][0] > 0
    report = erasure.erase(ParquetEventStore(data_dir), erasure.Erasure(SITE, day, day))
    assert report.rows_deleted == 0  # its events and daily rollups were gone already
    assert not (months_dir(data_dir) / f"dt={month}").exists()
    eng = local_engine(data_dir, cached_answers=0)
    after = run(eng, body, month_range)
    assert after["results"][0]["metrics"][0] == 0
    assert "answered_from" not in after["meta"]
    # the other months are untouched
    whole = run(eng, {"metrics": ["visitors"]}, MONTHLY_RANGE)["results"][0]["metrics"][0]
    erased = sum(
        r["metrics"][0]
        for r in before["daily_visitors"]["results"]
        if r["dimensions"][0].startswith(f"{month:%Y-%m}")
    )
    assert whole == before["monthly"][0]["results"][0]["metrics"][0] - erased


def test_imported_rows_are_merged_with_monthly_rows(data_dir, before) -> None:
    from beaconlake.imports.local import store
    from beaconlake.imports.plausible import TableRows
    from beaconlake.stats.sql.imported import TABLE

    day = (FIRST_MONTH + timedelta(days=200)).replace(day=5)
    month_range = [day.replace(day=1).isoformat(), month_end(day).isoformat()]
    body = {"metrics": ["visitors", "visits", "pageviews"]}
    series = {"metrics": ["visitors", "visits"], "dimensions": ["time:month"]}
    old = run(local_engine(data_dir, cached_answers=0), body, month_range)
    old_series = run(local_engine(data_dir, cached_answers=0), series, MONTHLY_RANGE)
    counts = {"visitors": 100, "visits": 120, "pageviews": 300, "bounces": 10}
    rows = [{"dt": day.isoformat(), **counts, "visit_duration": 500}]
    store(data_dir, SITE, [TableRows(TABLE["imported_visitors"], rows)])
    eng = local_engine(data_dir, cached_answers=0)
    new = run(eng, body, month_range)
    assert new["meta"]["answered_from"] == "monthly_rollups"
    assert new["meta"]["imported"] == {"included": True}
    was, now = old["results"][0]["metrics"], new["results"][0]["metrics"]
    assert [b - a for a, b in zip(was, now, strict=True)] == [100, 120, 300]
    new_series = run(eng, series, MONTHLY_RANGE)
    changed = [
        (o["dimensions"], [b - a for a, b in zip(o["metrics"], n["metrics"], strict=True)])
        for o, n in zip(old_series["results"], new_series["results"], strict=True)
        if o != n
    ]
    (label,) = [
        o["dimensions"] for o in old_series["results"] if o["dimensions"][0][:7] == f"{day:%Y-%m}"
    ]
    assert changed == [(label, [100, 120])]
