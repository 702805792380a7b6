"""The `privacy` deploy setting: it reaches the collector's and the stats function's
environment as BEACONLAKE_PRIVACY, and a bad value stops synth with one sentence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra_cdk.settings import ConfigError, DeploySettings
from tests.infra.conftest import ROOT, cdk_context


def test_privacy_defaults_to_standard_and_takes_minimal() -> None:
    get = cdk_context(sites="example.com").get
    assert DeploySettings.from_context(get).privacy == "standard"
    get = cdk_context(sites="example.com", privacy="minimal").get
    assert DeploySettings.from_context(get).privacy == "minimal"


def test_a_bad_privacy_value_is_one_sentence() -> None:
    with pytest.raises(ConfigError) as error:
        DeploySettings.from_context(cdk_context(sites="example.com", privacy="strict").get)
    message = str(error.value)
    assert message == "setting 'privacy' must be one of standard, minimal, not 'strict'."


@pytest.mark.slow
def test_app_refuses_a_bad_privacy_value_without_a_stack_trace() -> None:
    context = cdk_context(sites="example.com", privacy="gdpr")
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": "/nonexistent"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "infra_cdk" / "app.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "beaconlake: setting 'privacy' must be one of standard, minimal" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_minimal_reaches_the_collector_and_the_stats_function(
    placeholder_layer: Path, tmp_path: Path
) -> None:
    import aws_cdk as cdk

    from infra_cdk.app import build

    context = cdk_context(
        sites="example.com", privacy="minimal", dependency_layer_dir=str(placeholder_layer)
    )
    app = cdk.App(outdir=str(tmp_path), context=context)
    stack = build(app)
    app.synth()
    template = json.loads((tmp_path / f"{stack.stack_name}.template.json").read_text())
    env = {
        r["Properties"]["Description"].removeprefix("Beaconlake "): r["Properties"]["Environment"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and "Environment" in r["Properties"]
        and r["Properties"].get("Description", "").startswith("Beaconlake ")
    }
    for name in ("collect", "stats"):
        assert env[name]["Variables"]["BEACONLAKE_PRIVACY"] == "minimal", name
