"""AthenaEngine's failure modes, with a stand-in pyathena connection: a failed query, the
bytes-scanned cutoff and a query that never finishes each end in a clear error, never a hang."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pyathena.error import OperationalError

from beaconlake import wiring
from beaconlake.adapters.aws import AthenaEngine, athena_literal
from beaconlake.keys import create_key
from beaconlake.ports import QueryFailed, QueryTooLarge


class FakeCursor:
    def __init__(self, behaviour: str, release: threading.Event) -> None:
        self.behaviour = behaviour
        self.release = release
        self.query_id: str | None = None
        self.cancelled = False
        self.description = [("n",)]
        self.sent: tuple[str, Any] | None = None
        self.options: dict[str, Any] = {}

    def execute(self, sql: str, params: Any, paramstyle: str, **options: Any) -> FakeCursor:
        self.sent = (sql, params)
        self.options = options
        self.query_id = "q-1"
        if self.behaviour == "fail":
            raise OperationalError("SYNTAX_ERROR: line 1:8: Column 'x' cannot be resolved")
        if self.behaviour == "cutoff":
            raise OperationalError("Query cancelled! : Bytes scanned limit was exceeded")
        if self.behaviour == "hang":
            self.release.wait(10)
        return self

    def cancel(self) -> None:
        self.cancelled = True
        self.release.set()

    def fetchall(self) -> list[tuple[int]]:
        return [(3,)]


class FakeConnection:
    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.release = threading.Event()
        self.cursors: list[FakeCursor] = []

    def cursor(self) -> FakeCursor:
        self.cursors.append(FakeCursor(self.behaviour, self.release))
        return self.cursors[-1]


def engine(behaviour: str, timeout: float = 5.0) -> tuple[AthenaEngine, FakeConnection]:
    connection = FakeConnection(behaviour)
    return AthenaEngine("wg", "db", lambda **_: connection, timeout_seconds=timeout), connection


def test_answers_and_sends_every_value_as_an_execution_parameter() -> None:
    athena, connection = engine("ok")
    assert athena.query("SELECT count(*) AS n FROM events WHERE site_id = ?", ["o'hara.com"]) == [
        {"n": 3}
    ]
    assert connection.cursors[0].sent == (
        "SELECT count(*) AS n FROM events WHERE site_id = ?",
        ["'o''hara.com'"],
    )


def test_results_are_reused_only_when_asked() -> None:
    athena, connection = engine("ok")
    athena.query("SELECT 1 AS n", [])
    assert connection.cursors[0].options["result_reuse_enable"] is False
    reusing = AthenaEngine("wg", "db", lambda **_: connection, result_reuse_minutes=2)
    reusing.query("SELECT 1 AS n", [])
    assert connection.cursors[1].options == {"result_reuse_enable": True, "result_reuse_minutes": 2}


def test_the_stats_function_reuses_results_as_old_as_firehoses_buffer(
    monkeypatch: pytest.MonkeyPatch, fake_aws_credentials: None
) -> None:
    monkeypatch.setenv("BEACONLAKE_BACKEND", "aws")
    monkeypatch.setenv("BEACONLAKE_FIREHOSE_BUFFER_SECONDS", "150")
    monkeypatch.setenv("BEACONLAKE_ATHENA_WORKGROUP", "beaconlake")
    wiring.reset()
    try:
        engine = wiring.engine()
        assert isinstance(engine, AthenaEngine)
        assert engine.result_reuse_minutes == 3  # 150 s, rounded up to whole minutes
    finally:
        wiring.reset()


def test_a_failed_query_is_a_query_failed() -> None:
    athena, _ = engine("fail")
    with pytest.raises(QueryFailed) as info:
        athena.query("SELECT x", [])
    assert not isinstance(info.value, QueryTooLarge)


def test_the_bytes_scanned_cutoff_is_query_too_large() -> None:
    athena, _ = engine("cutoff")
    with pytest.raises(QueryTooLarge, match="more data than this workgroup allows"):
        athena.query("SELECT 1", [])


def test_a_query_past_its_time_budget_is_cancelled_not_awaited() -> None:
    athena, connection = engine("hang", timeout=0.2)
    with pytest.raises(QueryFailed, match="cancelled"):
        athena.query("SELECT 1", [])
    assert connection.cursors[0].cancelled


@pytest.mark.parametrize(
    ("value", "literal"),
    [(None, "NULL"), (True, "true"), (7, "7"), ("a'b", "'a''b'"), ("2026-01-01", "'2026-01-01'")],
)
def test_literals(value: Any, literal: str) -> None:
    assert athena_literal(value) == literal


@pytest.mark.parametrize(("behaviour", "status"), [("cutoff", 400), ("fail", 503)])
def test_the_stats_api_answers_400_for_the_cutoff_and_503_for_failures(
    local_env: Any, monkeypatch: pytest.MonkeyPatch, behaviour: str, status: int
) -> None:
    from beaconlake.handlers.stats import WiredPorts
    from beaconlake.web.app import create_app

    athena, _ = engine(behaviour)

    class OnAthena(WiredPorts):
        def engine(self) -> AthenaEngine:
            return athena

    token, _ = create_key(wiring.ports().keys, ("example.com",), "t")
    reply = TestClient(create_app(OnAthena())).get(
        "/api/v1/stats/aggregate",
        params={"site_id": "example.com", "period": "7d", "metrics": "visitors"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert reply.status_code == status
    body = reply.json()
    assert body["error"]
    if status == 400:
        assert body["field"] == "date_range"
