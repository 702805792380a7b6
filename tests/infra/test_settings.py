"""Deploy settings: cdk.json defaults parse, and a bad setting stops synth with one sentence."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from infra_cdk.settings import ConfigError, DeploySettings
from tests.infra.conftest import ROOT, cdk_context


def settings(**overrides: object) -> DeploySettings:
    return DeploySettings.from_context(cdk_context(**overrides).get)


def test_cdk_json_defaults_with_sites_from_the_command_line() -> None:
    s = settings(sites="Example.com, www.blog.example.com,example.com")
    assert s.sites == ("example.com", "blog.example.com")
    assert s.retention_days == 0 and s.cloudfront and s.honour_dnt and s.retain_data
    assert s.allowed_origins[:2] == ("https://example.com", "https://www.example.com")
    assert settings(sites=["a.org"], cors_origins="*").allowed_origins == ("*",)


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"sites": []}, "'sites' is empty"),
        ({"sites": "not a domain"}, "'sites'"),
        ({"retention_days": "forever"}, "'retention_days' must be a whole number"),
        ({"retention_days": -1}, "'retention_days' must be between"),
        ({"bytes_scanned_cutoff_mb": 5}, "'bytes_scanned_cutoff_mb'"),
        ({"log_retention_days": 31}, "'log_retention_days' must be one of"),
        ({"cloudfront": "maybe"}, "'cloudfront' must be true or false"),
        ({"cors_origins": "example.com/path"}, "'cors_origins'"),
        ({"log_level": "LOUD"}, "'log_level'"),
        ({"stack_name": "1bad name"}, "'stack_name'"),
        ({"alarm_email": "nobody"}, "'alarm_email'"),
        ({"user_id_sites": "other.org"}, "'user_id_sites' holds 'other.org'"),
        ({"goals": "{not json"}, "'goals' is not valid JSON"),
        ({"goals": '["Signup"]'}, "'goals' must map each site to a list of goals"),
        ({"goals": {"example.com": [{"name": "Signup", "event": 5}]}}, "'goals' must map"),
        ({"goals": {"example.com": [{"name": "Signup"}]}}, "'goals' holds a bad goal"),
        ({"goals": {"other.org": []}}, "'goals' names 'other.org', which is not one of"),
        (
            {"goals": {"example.com": [{"name": f"g{i}", "event": "e" * 40} for i in range(60)]}},
            "'goals' is",
        ),
    ],
)
def test_bad_setting_is_one_sentence_naming_it(overrides: dict, names: str) -> None:
    overrides = {"sites": "example.com", **overrides}
    with pytest.raises(ConfigError) as error:
        settings(**overrides)
    message = str(error.value)
    assert names in message
    assert message.endswith(".") and "\n" not in message


@pytest.mark.slow
def test_app_exits_with_the_sentence_and_no_stack_trace() -> None:
    context = cdk_context(sites="example.com", retention_days="ninety")
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
    assert "beaconlake: setting 'retention_days' must be a whole number" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_setting_is_documented_in_deploy_md() -> None:
    deploy_md = (ROOT / "docs" / "DEPLOY.md").read_text("utf-8")
    settings_names = [n for n in cdk_context() if not n.startswith("@")]
    assert set(settings_names) == set(DeploySettings.__dataclass_fields__)
    for name in settings_names:
        assert (
            f"| `{name}`" in deploy_md or f"`{name}` /" in deploy_md or f"/ `{name}`" in deploy_md
        ), name
