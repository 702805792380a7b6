"""Both LoginStore adapters (a 0600 JSON file; DynamoDB with TTL, under moto) behave alike,
and the login/share logic on top of them keeps only hashes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from beaconlake.adapters.aws_logins import DynamoLoginStore
from beaconlake.adapters.file_keys import FileKeyStore
from beaconlake.adapters.file_logins import FileLoginStore
from beaconlake.dashboard import logins
from beaconlake.ports import ApiKey, LoginStore

TABLE = "beaconlake-sessions"


@pytest.fixture(params=["file", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LoginStore]:
    if request.param == "file":
        yield FileLoginStore(tmp_path / "dashboard.json")
        return
    with mock_aws():
        db = boto3.resource("dynamodb", region_name="eu-west-1")
        db.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield DynamoLoginStore(TABLE, db)


def test_put_get_delete_list(store: LoginStore) -> None:
    store.put("share", "b", {"site": "b.example"}, None)
    store.put("share", "a", {"site": "a.example", "n": 1}, None)
    store.put("session", "s", {"via": "key"}, int(time.time()) + 60)
    assert store.get("share", "a") == {"site": "a.example", "n": 1}
    assert store.get("share", "s") is None
    assert store.list("share") == [
        ("a", {"site": "a.example", "n": 1}),
        ("b", {"site": "b.example"}),
    ]
    assert store.delete("share", "a") is True
    assert store.delete("share", "a") is False
    assert [i for i, _ in store.list("share")] == ["b"]
    assert store.list("session") == [("s", {"via": "key"})]


def test_expired_rows_are_gone(store: LoginStore) -> None:
    store.put("session", "old", {"via": "key"}, int(time.time()) - 1)
    store.put("session", "new", {"via": "key"}, int(time.time()) + 60)
    assert store.get("session", "old") is None
    assert [i for i, _ in store.list("session")] == ["new"]


def test_logins_and_shares_store_only_hashes(store: LoginStore) -> None:
    key = ApiKey(key_id="k1", sites=("a.example",), label="", created="")
    token, seconds = logins.start_login(store, key, "key")
    assert seconds == logins.LOGIN_SECONDS
    link, share = logins.create_share(store, "a.example", "pass-word", "team")
    dumped = json.dumps(store.list("session") + store.list("share"))
    assert token not in dumped and "pass-word" not in dumped
    assert share.path == f"/api/share/{link}"  # kept so its owner can copy it again
    found = logins.find_share(store, link)
    assert found is not None and found[0] == share and found[1].startswith("scrypt:")
    assert logins.find_share(store, link[:-1] + ("A" if link[-1] != "A" else "B")) is None
    other = ApiKey(key_id="k2", sites=("b.example",), label="", created="")
    assert logins.list_shares(store, other) == []
    assert logins.revoke_share(store, other, share.share_id) is False
    assert logins.list_shares(store, key) == [share]
    assert logins.revoke_share(store, key, share.share_id) is True
    assert logins.find_share(store, link) is None
    logins.end_login(store, token)
    assert store.list("session") == []


def test_malformed_tokens_are_ignored(store: LoginStore, tmp_path: Path) -> None:
    assert logins.find_share(store, "../../etc") is None
    logins.end_login(store, "not a token")
    assert logins.login_key(store, FileKeyStore(tmp_path / "keys.json"), True, "x") is None
