"""Goals on AWS: the `goals` deploy setting reaches the stats function as BEACONLAKE_GOALS,
which it reads as it does locally."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from beaconlake.config import GOALS_VARIABLE
from beaconlake.stats.goals import load_goals
from beaconlake.stats.query import Goal
from infra_cdk.settings import DeploySettings
from infra_cdk.stack import BeaconlakeStack
from tests.infra.conftest import Synth, cdk_context

GOALS = {
    "www.Example.com": [
        {"name": "Signup", "event": "Signup"},
        {"name": "Visit /pricing", "page": "/pricing*"},
    ]
}


@pytest.mark.slow
def test_goals_reach_only_the_stats_function_and_read_as_locally(
    placeholder_layer: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = cdk_context(
        sites="example.com,blog.example.com",
        goals=json.dumps(GOALS),  # as `-c goals='{...}'` passes it
        dependency_layer_dir=str(placeholder_layer),
    )
    settings = DeploySettings.from_context(context.get)
    app = cdk.App(outdir=str(tmp_path), context=context)
    stack = BeaconlakeStack(app, "Goals", settings=settings)
    functions = Template.from_stack(stack).find_resources("AWS::Lambda::Function")
    env = {
        props["Properties"]["Description"]: props["Properties"]["Environment"]["Variables"]
        for props in functions.values()
        if props["Properties"].get("Handler") == "app.handler"
    }
    assert GOALS_VARIABLE not in env["Beaconlake collect"]
    assert GOALS_VARIABLE not in env["Beaconlake rotate_salt"]
    monkeypatch.setenv(GOALS_VARIABLE, env["Beaconlake stats"][GOALS_VARIABLE])
    assert load_goals(tmp_path) == {
        "example.com": (
            Goal(name="Signup", event="Signup", page=None),
            Goal(name="Visit /pricing", event=None, page="/pricing*"),
        )
    }


@pytest.mark.slow
def test_without_goals_the_variable_is_not_set(synth: Synth) -> None:
    for function in synth.resources("AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        assert GOALS_VARIABLE not in variables


def test_goals_from_cdk_json_as_an_object() -> None:
    settings = DeploySettings.from_context(
        cdk_context(sites="example.com", goals={"example.com": [GOALS["www.Example.com"][0]]}).get
    )
    assert json.loads(settings.goals) == {"example.com": [{"event": "Signup", "name": "Signup"}]}
    assert DeploySettings.from_context(cdk_context(sites="example.com").get).goals == ""
