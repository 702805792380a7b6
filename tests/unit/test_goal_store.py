"""Goals have one store (the GoalStore port): the dashboard offers exactly the goals the query
API and the behaviour views accept, and a change to the configuration reaches them all at
once. (Before: the query API kept the goals it read first for the life of the process, while
the dashboard read them again on each request, so it offered goals the queries rejected.)"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from beaconlake import wiring
from beaconlake.handlers.stats import create_app
from beaconlake.ingest.service import collect
from beaconlake.keys import create_key
from beaconlake.model import RequestMeta
from beaconlake.site_ports import Goal
from beaconlake.stats.goals import ConfiguredGoals, GoalConfigError
from tests.conftest import CHROME_UA

SITE = "example.com"


def write_goals(data_dir: Path, goals: list[dict[str, str]]) -> None:
    """goals.json for SITE, with a modification time the store cannot mistake for the last."""
    path = data_dir / "goals.json"
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(json.dumps({SITE: goals}))
    os.utime(path, ns=(before + 10**9, before + 10**9))


@pytest.fixture
def client(local_env: Path) -> Iterator[TestClient]:
    p = wiring.ports()
    now = datetime.now(UTC)
    for i, (name, path) in enumerate([("pageview", "/pricing"), ("Signup", "/"), ("Buy", "/")]):
        data = {"n": name, "u": f"https://{SITE}{path}", "d": SITE}
        meta = RequestMeta(f"192.0.2.{i}", CHROME_UA)
        p.sink.put(collect(data, meta, p.policy, p.salts.salt_for, now).events)
    p.sink.flush()
    token, _ = create_key(p.keys, (SITE,))
    with TestClient(create_app(), headers={"authorization": f"Bearer {token}"}) as c:
        yield c


def offered(client: TestClient) -> list[str]:
    res = client.get("/api/dashboard/sites")
    assert res.status_code == 200, res.text
    return [g["name"] for g in res.json()["goals"][SITE]]


def goal_visitors(client: TestClient, goal: str) -> tuple[int, dict]:
    body = {
        "site_id": SITE,
        "metrics": ["visitors"],
        "date_range": "day",
        "filters": [["is", "event:goal", [goal]]],
    }
    res = client.post("/api/v2/query", json=body)
    return res.status_code, res.json()


def funnel_status(client: TestClient, goal: str) -> int:
    body = {
        "site_id": SITE,
        "date_range": "day",
        "steps": [{"page": "/*"}, {"event": "Buy"}],
        "filters": [["is", "event:goal", [goal]]],
    }
    return client.post("/api/v2/funnel", json=body).status_code


def test_every_goal_the_dashboard_offers_is_one_the_queries_accept(
    client: TestClient, local_env: Path
) -> None:
    write_goals(local_env, [{"name": "Signup", "event": "Signup"}])
    assert offered(client) == ["Signup"]
    status, answer = goal_visitors(client, "Signup")
    assert status == 200 and answer["results"][0]["metrics"] == [1], answer

    # the operator edits the goals while the process runs
    write_goals(
        local_env,
        [{"name": "Purchase", "event": "Buy"}, {"name": "Pricing", "page": "/pric*"}],
    )
    assert offered(client) == ["Purchase", "Pricing"]
    for name in offered(client):
        status, answer = goal_visitors(client, name)
        assert status == 200, answer
        assert answer["results"][0]["metrics"] == [1]
        assert funnel_status(client, name) == 200
    status, answer = goal_visitors(client, "Signup")  # gone from both
    assert status == 400 and answer["field"] == "filters" and "Signup" in answer["error"]
    assert funnel_status(client, "Signup") == 400


def test_the_variable_comes_before_the_file_and_changes_are_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ConfiguredGoals(tmp_path)
    assert store.goals(SITE) == ()
    write_goals(tmp_path, [{"name": "Signup", "event": "Signup"}])
    assert store.goals(SITE) == (Goal("Signup", event="Signup"),)
    assert store.goals(" Example.COM ") == store.goals(SITE)
    monkeypatch.setenv("BEACONLAKE_GOALS", json.dumps({SITE: [{"name": "Docs", "page": "/d*"}]}))
    assert store.goals(SITE) == (Goal("Docs", page="/d*"),)
    monkeypatch.delenv("BEACONLAKE_GOALS")
    assert store.goals(SITE) == (Goal("Signup", event="Signup"),)


def test_a_broken_configuration_is_an_operator_error_not_a_crash(
    client: TestClient, local_env: Path
) -> None:
    (local_env / "goals.json").write_text("{not json")
    with pytest.raises(GoalConfigError):
        ConfiguredGoals(local_env).goals(SITE)
    res = client.get("/api/dashboard/sites")
    assert res.status_code == 503 and res.json()["field"] == "goals"
