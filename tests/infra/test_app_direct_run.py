"""`python infra_cdk/app.py`, as tools and tests run it without the CDK CLI: cdk.json's
context is read, the CLI's context (CDK_CONTEXT_JSON) wins over it, and without `sites` the
stack is synthesized for a stated placeholder site, with a warning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra_cdk.app import PLACEHOLDER_SITE, PLACEHOLDER_SITE_WARNING, context_arguments
from tests.infra.conftest import ROOT

pytestmark = pytest.mark.slow


def test_run_directly_it_reads_cdk_json_and_synthesizes_a_placeholder_site(
    placeholder_layer: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_")}
    env["CDK_OUTDIR"] = str(tmp_path)
    env["CDK_CONTEXT_JSON"] = json.dumps({"throttle_rate": 7})  # as `npx aws-cdk -c` passes
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "infra_cdk" / "app.py"),
            "-c",
            f"dependency_layer_dir={placeholder_layer}",
            "-c",
            "throttle_rate=9",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"beaconlake: warning: {PLACEHOLDER_SITE_WARNING}" in result.stderr
    assert "Traceback" not in result.stderr
    template = json.loads((tmp_path / "Beaconlake.template.json").read_text("utf-8"))
    kinds = {r["Type"]: r["Properties"] for r in template["Resources"].values()}
    stage = kinds["AWS::ApiGatewayV2::Stage"]["DefaultRouteSettings"]
    # the CLI's value over this run's -c, cdk.json's default where neither names it
    assert stage == {"ThrottlingRateLimit": 7, "ThrottlingBurstLimit": 400}
    variables = [
        r["Properties"].get("Environment", {}).get("Variables", {})
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    ]
    seeds = {v["BEACONLAKE_SITES"] for v in variables if "BEACONLAKE_BACKEND" in v}
    assert seeds == {PLACEHOLDER_SITE}  # the catalogue's seed, in every function
    metadata = json.loads((tmp_path / "Beaconlake.metadata.json").read_text("utf-8"))
    warnings = [e["data"] for entries in metadata.values() for e in entries]
    assert any(str(w).startswith(PLACEHOLDER_SITE_WARNING) for w in warnings)


def test_the_warning_is_one_sentence_naming_the_setting_and_the_site() -> None:
    assert PLACEHOLDER_SITE_WARNING.endswith(".") and "\n" not in PLACEHOLDER_SITE_WARNING
    assert "'sites'" in PLACEHOLDER_SITE_WARNING and PLACEHOLDER_SITE in PLACEHOLDER_SITE_WARNING


def test_direct_context_arguments() -> None:
    assert context_arguments(["-c", "sites=a.org,b.org", "--context", "goals={}"]) == {
        "sites": "a.org,b.org",
        "goals": "{}",
    }
    with pytest.raises(SystemExit):
        context_arguments(["-c", "no-equals-sign"])
