"""GET /health (and /api/health): 200 with the version and the back end when the process can
take events and answer queries; 503 naming each reason when it cannot. Through the real stats
handler, on the real local adapters."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from beaconlake import __version__, wiring
from beaconlake.adapters import parquet_sink
from beaconlake.local.asgi import LocalGateway
from functions.collect.app import handler as collect
from functions.stats.app import handler as stats
from tests.apigw import Context, http_event


@pytest.fixture(autouse=True)
def fresh_ports() -> Iterator[None]:
    """Each test's settings build their own ports, and leave none behind."""
    wiring.reset()
    yield
    wiring.reset()


def _health(path: str = "/health") -> tuple[int, dict]:
    res = stats(http_event("GET", path), Context())
    return res["statusCode"], json.loads(res["body"])


@pytest.mark.parametrize("path", ["/health", "/api/health"])
def test_a_working_local_server_is_healthy(local_env: Path, path: str) -> None:
    status, body = _health(path)
    assert status == 200
    assert body == {"status": "ok", "version": __version__, "backend": "local"}


def test_the_version_is_the_packages(local_env: Path) -> None:
    import tomllib

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    assert tomllib.loads(pyproject.read_text())["project"]["version"] == __version__


def test_a_sink_that_is_shutting_down_is_503(local_env: Path) -> None:
    wiring.ports().sink.close()
    status, body = _health()
    assert status == 503
    assert body["status"] == "unavailable" and body["backend"] == "local"
    assert body["problems"] == ["the event sink is shutting down"]


def test_a_full_disk_is_503(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.statvfs

    class Full:
        def __init__(self, path: str | Path) -> None:
            self.f_frsize = real(path).f_frsize
            self.f_bavail = 0

    monkeypatch.setattr(parquet_sink.os, "statvfs", Full)
    status, body = _health()
    assert status == 503
    assert len(body["problems"]) == 1 and "is full" in body["problems"][0]


def test_a_closed_query_engine_is_503(local_env: Path) -> None:
    wiring.engine().close()
    status, body = _health()
    assert status == 503
    assert body["problems"] == ["the local query engine (DuckDB) is not open (ConnectionException)"]


def test_a_data_directory_that_cannot_be_created_is_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("BEACONLAKE_BACKEND", "local")
    monkeypatch.setenv("BEACONLAKE_DATA_DIR", str(blocker / "data"))
    status, body = _health()
    assert status == 503
    # the spool cannot be made; DuckDB (in memory, over no files yet) could still answer
    assert [p.split(":")[0] for p in body["problems"]] == ["the event sink could not start"]
    assert "Not a directory" in body["problems"][0]


def test_a_bad_backend_setting_is_503_not_500(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEACONLAKE_BACKEND", "cloud")
    status, body = _health()
    assert status == 503
    assert body["backend"] == "cloud"
    assert all("BEACONLAKE_BACKEND must be 'local' or 'aws'" in p for p in body["problems"])


def test_the_local_gateway_routes_health_to_the_stats_handler(local_env: Path) -> None:
    gateway = LocalGateway(collect=collect, stats=stats)
    assert gateway.route("GET", "/health") is stats
    assert gateway.route("GET", "/api/health") is stats


def test_health_is_in_the_openapi_document(local_env: Path) -> None:
    res = stats(http_event("GET", "/api/openapi.json"), Context())
    assert "/health" in json.loads(res["body"])["paths"]


def _aws_env(monkeypatch: pytest.MonkeyPatch, stream: str) -> None:
    for name, value in {
        "BEACONLAKE_BACKEND": "aws",
        "BEACONLAKE_SITES": "example.com",
        "BEACONLAKE_FIREHOSE_STREAM": stream,
        "BEACONLAKE_ATHENA_WORKGROUP": "beaconlake",
        "BEACONLAKE_ATHENA_DATABASE": "beaconlake",
    }.items():
        monkeypatch.setenv(name, value)


def test_the_aws_stats_function_answers_health_without_calling_aws(
    monkeypatch: pytest.MonkeyPatch, fake_aws_credentials: None
) -> None:
    from moto import mock_aws

    _aws_env(monkeypatch, "beaconlake-events")
    with mock_aws():  # any AWS call would land here; the check makes none
        status, body = _health()
    assert (status, body["backend"], body["status"]) == (200, "aws", "ok")


def test_aws_without_a_stream_is_503(
    monkeypatch: pytest.MonkeyPatch, fake_aws_credentials: None
) -> None:
    _aws_env(monkeypatch, "")
    status, body = _health()
    assert status == 503
    assert body["problems"] == ["no Firehose stream is set (BEACONLAKE_FIREHOSE_STREAM)"]
