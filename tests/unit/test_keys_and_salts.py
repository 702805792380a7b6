"""Stats API keys are stored as hashes only; salts rotate and are deleted after 48 h."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta

from beaconlake.adapters.file_keys import FileKeyStore
from beaconlake.adapters.file_salts import FileSaltStore
from beaconlake.cli import main
from beaconlake.ingest.anonymise import visitor_id
from beaconlake.keys import create_key, verify_key


def test_keys_are_hashed_verified_scoped_and_revocable(tmp_path) -> None:
    store = FileKeyStore(tmp_path / "keys.json")
    token, key = create_key(store, ("example.com",), "ci")
    text = (tmp_path / "keys.json").read_text()
    secret = token.split("_", 2)[2]
    assert secret not in text and token not in text
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600
    found = verify_key(store, token)
    assert found is not None and found.allows("example.com") and not found.allows("shop.test")
    assert verify_key(store, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert verify_key(store, "bl_nothex") is None
    assert store.revoke(key.key_id)
    assert verify_key(store, token) is None


def test_keys_cli_create_list_revoke(tmp_path, capsys) -> None:
    assert (
        main(
            [
                "keys",
                "create",
                "--site",
                "example.com",
                "--label",
                "grafana",
                "--data-dir",
                str(tmp_path),
            ]
        )
        == 0
    )
    token = capsys.readouterr().out.splitlines()[0]
    assert token.startswith("bl_")
    assert main(["keys", "list", "--data-dir", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    key_id = token.split("_")[1]
    assert key_id in listing and "grafana" in listing and token not in listing
    assert main(["keys", "revoke", key_id, "--data-dir", str(tmp_path)]) == 0
    assert main(["keys", "revoke", key_id, "--data-dir", str(tmp_path)]) == 1


def test_salts_rotate_daily_and_are_gone_after_48_hours(tmp_path) -> None:
    store = FileSaltStore(tmp_path / "salts.json")
    day1 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
    store.rotate(day1)
    salt1 = store.salt_for("2026-06-01")
    assert stat.S_IMODE((tmp_path / "salts.json").stat().st_mode) == 0o600
    store.rotate(day1 + timedelta(days=1))
    assert store.days() == ["2026-06-01", "2026-06-02"]
    salt2 = store.salt_for("2026-06-02")
    assert salt1 != salt2 and len(salt1) == 32
    same_person = ("example.com", "192.0.2.1", "Mozilla/5.0 Firefox/132.0")
    assert visitor_id(salt1, *same_person) != visitor_id(salt2, *same_person)
    store.rotate(day1 + timedelta(days=2))
    assert store.days() == ["2026-06-02", "2026-06-03"]
    assert salt1.hex() not in (tmp_path / "salts.json").read_text()
    assert FileSaltStore(tmp_path / "salts.json").salt_for("2026-06-02") == salt2
