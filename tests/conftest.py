"""Shared fixtures: an isolated local back end per test (own data dir, own ports)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from beaconlake import wiring

CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
)
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
BOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `slow` (browser, CDK synth, real servers) run after all others, so a
    broken quick test shows within seconds; each group keeps its collected order."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is not None)


@pytest.fixture
def local_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh local back end in tmp_path, for sites example.com and shop.test."""
    monkeypatch.setenv("BEACONLAKE_BACKEND", "local")
    monkeypatch.setenv("BEACONLAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BEACONLAKE_SITES", "example.com,shop.test")
    monkeypatch.setenv("BEACONLAKE_FLUSH_SECONDS", "3600")
    wiring.reset()
    yield tmp_path
    wiring.reset()


@pytest.fixture
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials and a region for boto3 clients that only ever talk to moto."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


SALT_PREFIX = "/beaconlake/salts"


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch, fake_aws_credentials: None) -> Iterator[Any]:
    """The AWS back end's salt settings, with SSM (and every AWS call) in moto; the client."""
    import boto3
    from moto import mock_aws

    for name, value in {
        "BEACONLAKE_BACKEND": "aws",
        "BEACONLAKE_SITES": "example.com",
        "BEACONLAKE_SALT_PREFIX": SALT_PREFIX,
        "BEACONLAKE_FIREHOSE_STREAM": "beaconlake-events",
        "BEACONLAKE_KEYS_TABLE": "unused",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        wiring.reset()
        yield boto3.client("ssm")
        wiring.reset()


def retention_days() -> list[str]:
    """Five days for the erasure and retention tests: 40, 31, 30, 2 and 0 days ago (UTC)."""
    today = datetime.now(UTC).date()
    return [(today - timedelta(days=d)).isoformat() for d in (40, 31, 30, 2, 0)]


def cli_user_hash(site: str, user: str) -> str:
    """The keyed hash `beaconlake erase --user-id` computes, from the configured back end's
    user-id secret; the process-wide ports are reset before and after."""
    from beaconlake.ingest.service import user_id_hash

    wiring.reset()
    secrets = wiring.ports().user_ids
    assert secrets is not None
    hashed = user_id_hash(secrets.secret_for(site), user)
    wiring.reset()
    return hashed


def cli_erase(site: str, first: str, last: str, *more: str) -> int:
    """`beaconlake erase --site … --from … --to …` in process; its exit code."""
    from beaconlake.cli import main

    return main(["erase", "--site", site, "--from", first, "--to", last, *more])
