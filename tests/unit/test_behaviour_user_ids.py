"""Optional site-supplied user ids: accepted as `user_id` / `uid`, kept only as an HMAC with
a per-site secret, and only for sites that switched them on."""

from __future__ import annotations

import stat
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from beaconlake import wiring
from beaconlake.adapters.aws_user_ids import ParameterUserIdSecrets
from beaconlake.adapters.file_user_ids import FileUserIdSecrets
from beaconlake.ingest.payload import PayloadError, parse_beacon
from beaconlake.ingest.service import CollectPolicy, collect, user_id_hash
from beaconlake.model import RequestMeta
from tests.conftest import CHROME_UA

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
PV = {"n": "pageview", "u": "https://example.com/", "d": "example.com,shop.test"}
SECRETS = {"example.com": b"e" * 32, "shop.test": b"s" * 32}


def _events(data: dict, user_id_sites: frozenset[str]):
    policy = CollectPolicy(
        sites=frozenset(SECRETS), user_id_sites=user_id_sites, user_id_secret=SECRETS.__getitem__
    )
    meta = RequestMeta("198.51.100.7", CHROME_UA)
    return {e.site_id: e for e in collect(data, meta, policy, lambda d: b"k" * 32, NOW).events}


@pytest.mark.parametrize(("key", "value"), [("user_id", "42"), ("uid", 42), ("user_id", 42)])
def test_long_and_short_names_and_integers(key, value) -> None:
    assert parse_beacon({**PV, key: value}).user_id == "42"


@pytest.mark.parametrize("value", [True, 4.2, {"id": 1}, "x" * 257])
def test_bad_user_ids_are_refused_naming_the_field(value) -> None:
    with pytest.raises(PayloadError) as err:
        parse_beacon({**PV, "user_id": value})
    assert err.value.field == "user_id"


def test_missing_or_empty_user_id_is_none() -> None:
    assert parse_beacon(PV).user_id is None
    assert parse_beacon({**PV, "uid": ""}).user_id is None


def test_stored_only_as_a_per_site_keyed_hash_for_enabled_sites() -> None:
    events = _events({**PV, "uid": "alice"}, frozenset({"example.com", "shop.test"}))
    hashed = {site: e.user_id for site, e in events.items()}
    assert hashed == {site: user_id_hash(SECRETS[site], "alice") for site in SECRETS}
    assert hashed["example.com"] != hashed["shop.test"]
    assert all(h and len(h) == 32 and "alice" not in h for h in hashed.values())
    assert "alice" not in str(events["example.com"].as_json_record())
    only_one = _events({**PV, "uid": "alice"}, frozenset({"example.com"}))
    assert only_one["shop.test"].user_id is None and only_one["example.com"].user_id


def test_off_by_default() -> None:
    assert {e.user_id for e in _events({**PV, "user_id": "bob"}, frozenset()).values()} == {None}
    policy = CollectPolicy(sites=frozenset(SECRETS), user_id_sites=frozenset(SECRETS))
    meta = RequestMeta("198.51.100.7", CHROME_UA)
    events = collect({**PV, "uid": "bob"}, meta, policy, lambda d: b"k" * 32, NOW).events
    assert {e.user_id for e in events} == {None}


def test_file_secrets_are_private_stable_and_per_site(tmp_path) -> None:
    path = tmp_path / "user_id_secrets.json"
    first = FileUserIdSecrets(path)
    a, b = first.secret_for("example.com"), first.secret_for("shop.test")
    assert len(a) == 32 and a != b
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert FileUserIdSecrets(path).secret_for("example.com") == a


def test_wiring_enables_user_ids_per_site(local_env, monkeypatch) -> None:
    monkeypatch.setenv("BEACONLAKE_USER_ID_SITES", "shop.test")
    wiring.reset()
    p = wiring.ports()
    meta = RequestMeta("198.51.100.7", CHROME_UA)
    events = collect({**PV, "uid": "carol"}, meta, p.policy, p.salts.salt_for, NOW).events
    by_site = {e.site_id: e.user_id for e in events}
    assert by_site["example.com"] is None
    assert by_site["shop.test"] == user_id_hash(
        FileUserIdSecrets(local_env / "user_id_secrets.json").secret_for("shop.test"), "carol"
    )


def test_ssm_secrets_are_created_once_as_secure_strings() -> None:
    with mock_aws():
        client = boto3.client("ssm", region_name="eu-west-1")
        store = ParameterUserIdSecrets("/bl/user-ids/", client)
        secret = store.secret_for("example.com")
        param = client.get_parameter(Name="/bl/user-ids/example.com")["Parameter"]
        assert param["Type"] == "SecureString" and len(secret) == 32
        assert ParameterUserIdSecrets("/bl/user-ids", client).secret_for("example.com") == secret
        assert store.secret_for("shop.test") != secret
