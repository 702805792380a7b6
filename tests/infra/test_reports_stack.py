"""The reports function in the template: deployed only with `report_sender`, on EventBridge
schedules (hourly for the reports, every 5 minutes for the alerts), allowed ses:SendEmail on that identity
alone, and clean under cdk-nag (the synthesis runs AwsSolutionsChecks and fails on a finding)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra_cdk.settings import ConfigError, DeploySettings
from tests.infra.conftest import SYNTH_OVERRIDES, Synth, cdk_context

pytestmark = pytest.mark.slow
SENDER = "reports@mail.example.com"


@pytest.fixture(scope="module")
def reports_synth(
    tmp_path_factory: pytest.TempPathFactory, placeholder_layer: Path
) -> Iterator[Synth]:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra_cdk.app import build

    outdir = tmp_path_factory.mktemp("cdk.reports")
    context = cdk_context(
        **SYNTH_OVERRIDES, report_sender=SENDER, dependency_layer_dir=str(placeholder_layer)
    )
    app = cdk.App(outdir=str(outdir), context=context)
    stack = build(app)
    app.synth()  # cdk-nag: an unacknowledged finding raises here
    template = json.loads((outdir / f"{stack.stack_name}.template.json").read_text("utf-8"))
    yield Synth(template, Template.from_json(template), outdir)


def report_function(synth: Synth) -> tuple[str, dict[str, Any]]:
    found = [
        (name, r["Properties"])
        for name, r in synth.resources("AWS::Lambda::Function").items()
        if r["Properties"]
        .get("Environment", {})
        .get("Variables", {})
        .get("POWERTOOLS_SERVICE_NAME")
        == "beaconlake-reports"
    ]
    assert len(found) == 1, found
    return found[0]


def test_without_a_sender_no_report_function(synth: Synth) -> None:
    services = [
        r["Properties"].get("Environment", {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME")
        for r in synth.resources("AWS::Lambda::Function").values()
    ]
    assert "beaconlake-reports" not in services
    assert not any(
        "ses:" in json.dumps(r["Properties"]) for r in synth.resources("AWS::IAM::Policy").values()
    )


def test_schedules_target_the_function(reports_synth: Synth) -> None:
    name, props = report_function(reports_synth)
    assert props["Environment"]["Variables"]["BEACONLAKE_REPORT_SENDER"] == SENDER
    assert props["ReservedConcurrentExecutions"] == 1
    rules = {}
    for rule in reports_synth.resources("AWS::Events::Rule").values():
        p = rule["Properties"]
        targets = [t for t in p["Targets"] if t["Arn"] == {"Fn::GetAtt": [name, "Arn"]}]
        if targets:
            rules[p["ScheduleExpression"]] = json.loads(targets[0]["Input"])
    assert rules == {
        "cron(0 * * * ? *)": {"kind": "reports"},  # each site's 07:00, in its own zone
        "rate(5 minutes)": {"kind": "alerts"},
    }


def test_ses_send_is_scoped_to_the_sender_identity(reports_synth: Synth) -> None:
    name, _ = report_function(reports_synth)
    role = reports_synth.template["Resources"][name]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        s
        for p in reports_synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    ses = [s for s in statements if any("ses:" in a for a in _list(s["Action"]))]
    assert len(ses) == 1 and _list(ses[0]["Action"]) == ["ses:SendEmail"]
    resources = json.dumps(ses[0]["Resource"])
    assert f"identity/{SENDER}" in resources and "identity/mail.example.com" in resources
    assert '"*"' not in resources
    # no other function may send mail
    others = [
        s
        for p in reports_synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role} not in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert not any("ses:" in json.dumps(s["Action"]) for s in others)


def _list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("bad", ["reports", "a@b", "x y@example.com", "@example.com"])
def test_a_bad_sender_fails_synth_with_a_sentence(bad: str) -> None:
    context = cdk_context(sites="example.com", report_sender=bad)
    with pytest.raises(ConfigError) as error:
        DeploySettings.from_context(context.get)
    message = str(error.value)
    assert message.startswith("setting 'report_sender' must be") and message.endswith(".")


CHILD = """
import importlib, os, sys
for name in ("duckdb", "pyarrow", "uvicorn", "geoip2fast", "tqdm", "aiosmtpd"):
    sys.modules[name] = None  # not in the dependency layer: any import of it raises
os.environ.update(
    AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
    BEACONLAKE_BACKEND="aws", BEACONLAKE_ATHENA_WORKGROUP="w", BEACONLAKE_ATHENA_DATABASE="d",
    BEACONLAKE_SESSIONS_TABLE="t", BEACONLAKE_CATALOGUE_TABLE="c",
    BEACONLAKE_REPORT_SENDER="reports@mail.example.com",
)
sys.path[:0] = ["functions/reports", "layers"]
assert callable(importlib.import_module("app").handler)
from beaconlake import wiring
job = wiring.report_job(standalone=True)
print(type(job.engine).__name__, type(job.mailer).__name__, type(job.book.store).__name__, job.sender)
"""


def test_the_function_imports_with_only_the_layer_dependencies() -> None:
    import subprocess
    import sys

    from tests.infra.conftest import ROOT

    result = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [
        "AthenaEngine",
        "SesMailer",
        "DynamoLoginStore",
        "reports@mail.example.com",
    ]
