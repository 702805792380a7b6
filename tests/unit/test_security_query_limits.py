"""The cost of one stats query is capped (issue 26): filter count, values, nesting depth,
text, regex shape and date span are 400s naming the limit at every entry point; DuckDB stops
a statement past its time budget; one client cannot hold every engine slot. And hostile
dates, lone surrogates and costly regexes are 400s, never a 500 or 503."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from beaconlake import wiring
from beaconlake.adapters import duckdb_engine
from beaconlake.adapters.duckdb_engine import DuckDBEngine
from beaconlake.handlers.stats import create_app
from beaconlake.ingest.service import collect
from beaconlake.keys import create_key
from beaconlake.model import RequestMeta
from beaconlake.ports import QueryTooLarge
from beaconlake.stats.limits import LIMITS, Busy, QueryLimits, QuerySlots
from beaconlake.web import auth
from beaconlake.wiring import local_engine
from tests.conftest import CHROME_UA

SITE = "example.com"
QUERY: dict[str, Any] = {"site_id": SITE, "metrics": ["visitors"], "date_range": "7d"}
FUNNEL: dict[str, Any] = {
    "site_id": SITE,
    "date_range": "7d",
    "steps": [{"page": "/a"}, {"page": "/b"}],
}
JOURNEY: dict[str, Any] = {"site_id": SITE, "date_range": "7d", "page": "/a"}
PATHS: dict[str, Any] = {"site_id": SITE, "date_range": "7d"}
SEQUENCE: dict[str, Any] = {**FUNNEL}
# every POST entry point that takes a filter tree, with a minimal valid body
FILTERED = [
    ("/api/v2/query", QUERY),
    ("/api/v2/funnel", FUNNEL),
    ("/api/v2/journeys", JOURNEY),
    ("/api/v2/paths", PATHS),
    ("/api/v2/sequences", SEQUENCE),
]


@pytest.fixture
def client(local_env: Path) -> Iterator[TestClient]:
    p = wiring.ports()
    now = datetime.now(UTC)
    for i, path in enumerate(["/a", "/b", "/a", "/c"]):
        data = {"n": "pageview", "u": f"https://{SITE}{path}", "d": SITE}
        p.sink.put(
            collect(
                data, RequestMeta(f"192.0.2.{i}", CHROME_UA), p.policy, p.salts.salt_for, now
            ).events
        )
    p.sink.flush()
    token, _ = create_key(p.keys, (SITE,))
    with TestClient(create_app(), headers={"authorization": f"Bearer {token}"}) as c:
        yield c


def _post(client: TestClient, path: str, body: dict[str, Any]) -> Any:
    """POST as raw JSON text (ensure_ascii), so lone surrogates travel as `\\ud800`."""
    return client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})


def _refused(res: Any, rule: str, field: str = "filters") -> None:
    assert res.status_code == 400, res.text
    body = res.json()
    assert body["rule"] == rule and body["field"].startswith(field) and body["error"], body


def nested(op: str, depth: int) -> list[Any]:
    leaf: list[Any] = ["is", "event:page", ["/a"]]
    for _ in range(depth):
        leaf = [op, [leaf]] if op in ("and", "or") else [op, leaf]
    return leaf


# ---- size and shape ------------------------------------------------------------------------


def test_a_thousand_v1_filters_are_a_400_at_once(client: TestClient) -> None:
    """1,000 `event:page~/pN` are a 400 naming the limit (how fast: bench/resource_checks.py)."""
    filters = ";".join(f"event:page~/p{i}" for i in range(1000))
    for path in ["/api/v1/stats/aggregate", "/api/v1/stats/timeseries"]:
        res = client.get(path, params={"site_id": SITE, "filters": filters})
        _refused(res, "max_chars")
    short = ";".join(f"event:page~/{i}" for i in range(LIMITS.filters + 1))
    res = client.get("/api/v1/stats/aggregate", params={"site_id": SITE, "filters": short})
    _refused(res, "max_filters")
    many = "event:page==" + "|".join(f"/{i}" for i in range(LIMITS.values_per_filter + 1))
    res = client.get(
        "/api/v1/stats/breakdown",
        params={"site_id": SITE, "property": "event:page", "filters": many},
    )
    _refused(res, "max_values")


@pytest.mark.parametrize(("path", "body"), FILTERED)
def test_filter_limits_at_every_entry_point(client: TestClient, path: str, body: dict) -> None:
    """Before: 50 filters x 500 values took 30 s and answered 200; 60-deep and/or and
    100-deep not were 500s (RecursionError); has_done 50 deep was a 503."""
    cases: list[tuple[list[Any], str]] = [
        (
            [["contains", "event:page", [f"/{i}-{j}" for j in range(500)]] for i in range(50)],
            "max_filters",
        ),
        ([["contains", "event:page", [f"/{j}" for j in range(101)]]], "max_values"),
        ([["is", "event:page", [f"/{i}"]] for i in range(LIMITS.filters + 1)], "max_filters"),
        (
            [["or", [["is", "event:page", [f"/{i}"]] for i in range(LIMITS.filters + 1)]]],
            "max_filters",
        ),
        ([["is", "event:page", [f"/{j}-{i}" for j in range(60)]] for i in range(6)], "max_values"),
        ([nested("and", 60)], "max_depth"),
        ([nested("or", 60)], "max_depth"),
        ([nested("not", 100)], "max_depth"),
        ([nested("has_done", 50)], "has_done_nested"),
        ([["is", "event:page", ["/" + "a" * 2001]]], "max_chars"),
    ]
    for filters, rule in cases:
        _refused(_post(client, path, {**body, "filters": filters}), rule)
    # deeper than JSON encoders go: never a 5xx
    text = json.dumps({**body, "filters": []})[:-2] + '["not",' * 10_000 + "[]" + "]" * 10_001
    res = client.post(path, content=text, headers={"content-type": "application/json"})
    assert res.status_code in (400, 422), res.text
    # has_done inside has_done: the SQL builder has no statement for it
    inner = [["has_done", ["not", ["has_not_done", ["is", "event:page", ["/a"]]]]]]
    res = _post(client, path, {**body, "filters": inner})
    _refused(res, "has_done_nested", "filters[0]")


@pytest.mark.parametrize(("path", "body"), FILTERED)
def test_queries_at_the_limits_are_answered(client: TestClient, path: str, body: dict) -> None:
    """The limits leave room for real queries: the deepest and widest allowed trees run (how
    fast: bench/resource_checks.py)."""
    deepest = [nested(op, LIMITS.depth - 1) for op in ("and", "or", "not")]
    deepest.append(["has_done", ["and", [["not", ["or", [nested("not", LIMITS.depth - 5)]]]]]])
    values = LIMITS.values // LIMITS.filters
    widest = [
        ["contains", "event:page", [f"/{i}-{j}" for j in range(values)]]
        for i in range(LIMITS.filters)
    ]
    for filters in [deepest, widest]:
        res = _post(client, path, {**body, "filters": filters})
        assert res.status_code == 200, res.text


def test_date_spans_are_limited(client: TestClient) -> None:
    res = _post(client, "/api/v2/query", {**QUERY, "date_range": ["2000-01-01", "2020-01-01"]})
    _refused(res, "max_span", "date_range")
    res = client.get(
        "/api/v1/stats/aggregate",
        params={"site_id": SITE, "period": "custom", "from": "2000-01-01", "to": "2020-01-01"},
    )
    _refused(res, "max_span", "to")


# ---- hostile input that was a 500 or a 503 -------------------------------------------------


@pytest.mark.parametrize("date_range", ["all", "12mo", "6mo", "year", "7d"])
@pytest.mark.parametrize(("path", "body"), [*FILTERED, ("/api/v2/retention", PATHS)])
def test_a_reference_date_at_the_calendars_start_is_a_400(
    client: TestClient, path: str, body: dict, date_range: str
) -> None:
    """Before: "all" and "12mo" with date 0001-01-01 were 500s (ValueError)."""
    full = {**body, "date": "0001-01-01", "date_range": date_range}
    if path == "/api/v2/query":
        full["include"] = {"comparisons": {"mode": "year_over_year"}}
    res = _post(client, path, full)
    assert res.status_code in (200, 400), res.text
    if res.status_code == 400:
        assert res.json()["field"] == "date_range"


SURROGATE = "\ud800"


def test_lone_surrogates_are_400s_not_503s(client: TestClient) -> None:
    """Before: each of these reached DuckDB, which could not encode it: 503."""
    bad_filters = [
        ["is", "event:page", [SURROGATE]],
        ["matches", "event:page", [SURROGATE]],
        ["contains", "event:props:plan", ["a" + SURROGATE]],
        ["is", f"event:props:{SURROGATE}", ["x"]],
    ]
    for f in bad_filters:
        for path, body in FILTERED:
            res = _post(client, path, {**body, "filters": [f]})
            assert res.status_code == 400, (path, f, res.text)
            assert res.json()["rule"] == "unicode"
    res = _post(client, "/api/v2/query", {**QUERY, "dimensions": [f"event:props:{SURROGATE}"]})
    assert res.status_code == 400 and res.json()["rule"] == "unicode"
    steps = [
        [{"page": "/" + SURROGATE}, {"page": "/b"}],
        [{"page": "/a"}, {"event": SURROGATE}],
        [{"page": "/a"}, {"event": "Signup", "props": {"plan": SURROGATE}}],
        [{"page": "/a"}, {"event": "Signup", "props": {SURROGATE: "x"}}],
    ]
    for s in steps:
        res = _post(client, "/api/v2/funnel", {**FUNNEL, "steps": s})
        assert res.status_code == 400 and res.json()["rule"] == "unicode", res.text
    res = _post(client, "/api/v2/journeys", {**JOURNEY, "page": "/" + SURROGATE})
    assert res.status_code == 400 and res.json()["rule"] == "unicode"


def test_a_regex_re2_cannot_compile_is_a_400(client: TestClient) -> None:
    """Before: `(a{1000}){1000}` passed the guard and DuckDB's RE2 refused it: 503."""
    res = _post(
        client,
        "/api/v2/query",
        {**QUERY, "filters": [["matches", "event:page", ["(a{1000}){1000}"]]]},
    )
    _refused(res, "regex_repeat")


# ---- time budget and fair share -------------------------------------------------------------


SLOW_SQL = "SELECT count(*) AS n FROM range(100000000000) AS t(x) WHERE x % 7 = 3"


def test_duckdb_stops_a_statement_past_its_time_budget(tmp_path: Path) -> None:
    """SLOW_SQL would run for minutes; the engine interrupts it at its budget (how soon:
    bench/resource_checks.py)."""
    engine = local_engine(tmp_path)
    engine.query_seconds = 0.3
    with pytest.raises(QueryTooLarge, match="time budget"):
        engine.query(SLOW_SQL, [])
    with pytest.raises(QueryTooLarge, match="time budget"):
        list(engine.stream(SLOW_SQL, []))
    assert engine.query("SELECT 1 AS one", []) == [{"one": 1}]  # the engine still works


def test_a_query_past_its_budget_is_a_400_and_logged(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    engine = wiring.engine()
    assert isinstance(engine, DuckDBEngine)
    monkeypatch.setattr(engine, "query_seconds", 0.3)

    def slow(sql: str) -> str:  # the same parameters, a statement that runs for minutes
        return SLOW_SQL + " AND CAST(? AS VARCHAR) IS NOT NULL" * sql.count("?")

    monkeypatch.setattr(duckdb_engine, "athena_to_duckdb", slow)
    engine.cache.entries = 0
    with caplog.at_level(logging.INFO):
        res = _post(client, "/api/v2/query", {**QUERY, "date_range": ["2020-01-01", "2020-01-02"]})
    assert res.status_code == 400, res.text
    assert res.json()["rule"] == "cost" and "time budget" in res.json()["error"]
    assert "query refused over its cost budget" in caplog.text


def test_one_client_cannot_take_every_slot() -> None:
    """Before: no cap; two clients' heavy queries ran side by side with everyone else's."""
    slots = QuerySlots(QueryLimits(per_client=2, total=3, wait_seconds=0.2, waiting_per_client=1))
    slots.acquire("heavy")
    slots.acquire("heavy")
    with pytest.raises(Busy) as info:
        slots.acquire("heavy")  # its own cap: 429
    assert info.value.status == 429 and info.value.as_body()["rule"] == "concurrency"
    slots.acquire("other")  # a slot stays free for others
    with pytest.raises(Busy) as info:
        slots.acquire("third")  # the process's cap: 503
    assert info.value.status == 503
    # a waiting statement gets the slot as soon as one is released
    got: list[str] = []

    def wait_for_a_slot() -> None:
        slots.acquire("third")
        got.append("third")

    waiter = threading.Thread(target=wait_for_a_slot)
    waiter.start()
    slots.release("heavy")
    waiter.join(1)
    assert got == ["third"]


def test_a_client_over_its_slots_gets_429_json(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    slots = QuerySlots(QueryLimits(per_client=1, total=4, wait_seconds=0.1))
    monkeypatch.setattr(auth, "SLOTS", slots)
    token = client.headers["authorization"].split()[1]
    key_id = token.split("_")[1]
    slots.acquire(key_id)
    try:
        res = _post(client, "/api/v2/query", QUERY)
        assert res.status_code == 429 and res.headers["retry-after"]
        assert res.json() == {
            "error": "too many queries at once from this client",
            "field": "client",
            "rule": "concurrency",
        }
        other, _ = create_key(wiring.ports().keys, (SITE,))
        res = client.post("/api/v2/query", json=QUERY, headers={"authorization": f"Bearer {other}"})
        assert res.status_code == 200  # another client is not held up
    finally:
        slots.release(key_id)
    assert _post(client, "/api/v2/query", QUERY).status_code == 200
