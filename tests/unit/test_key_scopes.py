"""Key scopes (Plausible's names): stored by both key stores, old keys read as stats-only,
created by `beaconlake keys add --scope`, and the operator's password login has them all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from beaconlake.adapters.aws_keys import DynamoKeyStore
from beaconlake.adapters.file_keys import FileKeyStore
from beaconlake.cli import main
from beaconlake.dashboard.logins import password_key, share_key
from beaconlake.keys import create_key, verify_key
from beaconlake.ports import ALL_SCOPES, SITES_PROVISION, SITES_READ, STATS_READ, ApiKey

TABLE = "beaconlake-keys"


@pytest.fixture
def dynamo(fake_aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "key_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "key_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield boto3.resource("dynamodb").Table(TABLE)


def test_a_provisioning_key_can_read_sites_but_not_stats() -> None:
    key = ApiKey("k", ("*",), "", "", (SITES_PROVISION,))
    assert key.can(SITES_PROVISION) and key.can(SITES_READ) and not key.can(STATS_READ)
    assert not ApiKey("k", ("*",), "", "").can(SITES_READ)  # the default: stats only
    assert password_key().scopes == ALL_SCOPES
    assert share_key("s", "example.com").scopes == (STATS_READ,)


def test_the_file_store_keeps_scopes_and_reads_old_keys_as_stats_only(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys.json")
    token, key = create_key(store, ("*",), "ops", (SITES_PROVISION, STATS_READ))
    assert key.scopes == (STATS_READ, SITES_PROVISION)  # ALL_SCOPES order, each once
    found = verify_key(store, token)
    assert found is not None and found.scopes == (STATS_READ, SITES_PROVISION)
    rows = json.loads((tmp_path / "keys.json").read_text())
    del rows[key.key_id]["scopes"]  # a key made before scopes existed
    (tmp_path / "keys.json").write_text(json.dumps(rows))
    old = verify_key(store, token)
    assert old is not None and old.scopes == (STATS_READ,)
    assert [k.scopes for k in store.list()] == [(STATS_READ,)]


def test_unknown_or_no_scopes_are_refused(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys.json")
    with pytest.raises(ValueError, match="unknown key scope 'sites:write'"):
        create_key(store, ("*",), "", ("sites:write",))
    with pytest.raises(ValueError, match="at least one scope"):
        create_key(store, ("*",), "", ())
    assert store.list() == []


def test_the_dynamodb_store_keeps_scopes_and_reads_old_keys_as_stats_only(dynamo: Any) -> None:
    store = DynamoKeyStore(TABLE)
    token, key = create_key(store, ("example.com",), "ops", (SITES_READ,))
    found = verify_key(store, token)
    assert found is not None and found.scopes == (SITES_READ,)
    item = dynamo.get_item(Key={"key_id": key.key_id})["Item"]
    assert item["scopes"] == [SITES_READ]
    dynamo.update_item(Key={"key_id": key.key_id}, UpdateExpression="REMOVE scopes")
    old = verify_key(store, token)
    assert old is not None and old.scopes == (STATS_READ,)


def test_keys_add_with_scopes_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["keys", "add", "--scope", "sites:provision:*", "--scope", "stats:read:*"]
    assert main([*args, "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "scopes stats:read:* sites:provision:*" in out
    token = out.splitlines()[0]
    found = verify_key(FileKeyStore(tmp_path / "keys.json"), token)
    assert found is not None and found.can(SITES_PROVISION)
    assert main(["keys", "list", "--data-dir", str(tmp_path)]) == 0
    assert "scopes=stats:read:*,sites:provision:*" in capsys.readouterr().out
    assert main(["keys", "add", "--scope", "everything", "--data-dir", str(tmp_path)]) == 2
    assert "unknown key scope 'everything'" in capsys.readouterr().out
    assert main(["keys", "create", "--data-dir", str(tmp_path)]) == 0  # default: stats only
    plain = verify_key(FileKeyStore(tmp_path / "keys.json"), capsys.readouterr().out.split()[0])
    assert plain is not None and plain.scopes == (STATS_READ,)
