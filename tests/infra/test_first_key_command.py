"""The stack's FirstApiKeyCommand output, run as printed (against DynamoDB in moto), creates a
key that the deployed stats API's key store then finds."""

from __future__ import annotations

import os
import shlex

import boto3
import pytest
from moto import mock_aws

from beaconlake import wiring
from beaconlake.cli import main
from tests.infra.conftest import Synth

pytestmark = pytest.mark.slow
TABLE = "Beaconlake-StorageApiKeys-ABC123"


def printed_command(synth: Synth) -> str:
    """The output with CloudFormation's values filled in, as `cdk deploy` shows it."""
    values = {"AWS::Region": "eu-west-1"}
    parts = synth.template["Outputs"]["FirstApiKeyCommand"]["Value"]["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else values.get(p["Ref"], TABLE) for p in parts)


def test_first_api_key_command_works_against_the_keys_table(
    synth: Synth, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    words = shlex.split(printed_command(synth))
    assignments = [w for w in words if "=" in w and not w.startswith("-")]
    argv = words[len(assignments) :]
    assert argv[0].endswith("beaconlake")
    for name in list(os.environ):
        if name.startswith("BEACONLAKE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for assignment in assignments:
        monkeypatch.setenv(*assignment.split("=", 1))
    with mock_aws():
        boto3.client("dynamodb", region_name="eu-west-1").create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "key_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "key_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        wiring.reset()
        assert main(argv[1:]) == 0
        token = capsys.readouterr().out.split()[0]
        keys = wiring.ports().keys.list()
        wiring.reset()
    assert token.startswith("bl_")
    assert [k.sites for k in keys] == [("example.com",)]
