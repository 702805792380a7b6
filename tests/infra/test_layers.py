"""The Docker-free layer builder: cache keys, the package layer and its bytecode, the trimmed
SSM model, and a clear offline error."""

from __future__ import annotations

import importlib.util
import marshal
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import botocore
import botocore.session
import pytest
from moto import mock_aws

from beaconlake.adapters.aws import ParameterSaltStore
from infra_cdk.layers import (
    LAYER_PYTHON_PATH,
    TRIMMED_MODELS,
    LayerBuildError,
    bytecode_compiler,
    cache_key,
    dependency_layer,
    layer_requirements,
    package_layer,
    trim_service_models,
    without_bytecode_warning,
)

THIS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
NO_SUCH_PYTHON = "2.9"


def test_requirements_are_the_runtime_and_aws_dependencies() -> None:
    requirements = layer_requirements()
    assert any(r.startswith("aws-lambda-powertools") for r in requirements)
    assert any(r.startswith("pyathena") for r in requirements)
    assert not any(r.startswith(("duckdb", "pyarrow", "pytest")) for r in requirements)


def test_cache_key_changes_with_requirements_and_python() -> None:
    base = cache_key(["a==1"], "3.14")
    assert base == cache_key(["a==1"], "3.14")
    assert base != cache_key(["a==2"], "3.14")
    assert base != cache_key(["a==1"], "3.13")
    assert base != cache_key(["a==1"], "3.14", platforms=())  # this machine's wheels
    assert base != cache_key(["a==1"], "3.14", bytecode=True)


def test_a_cached_layer_is_used_without_an_install(tmp_path: Path) -> None:
    key = cache_key(layer_requirements(), "3.14", bytecode=bytecode_compiler("3.14") is not None)
    cached = tmp_path / f"deps-cp314-{key}"
    (cached / "python").mkdir(parents=True)
    (cached / ".complete").write_text("")
    assert (
        dependency_layer("3.14", cache=tmp_path, installer_args=("--offline", "--no-cache"))
        == cached
    )


def test_no_wheels_offline_is_one_clear_sentence(tmp_path: Path) -> None:
    with pytest.raises(LayerBuildError) as error:
        dependency_layer("3.14", cache=tmp_path, installer_args=("--offline", "--no-cache"))
    message = str(error.value)
    assert "uv could not build it" in message and "cached" in message
    assert "\n" not in message
    assert not any(tmp_path.iterdir())  # no half-built layer left behind


def _package(tmp_path: Path, python_version: str) -> Path:
    source = tmp_path / "src"
    (source / "__pycache__").mkdir(parents=True, exist_ok=True)
    (source / "__init__.py").write_text("X = 1\n")
    (source / "__pycache__" / "x.pyc").write_bytes(b"\0")  # the venv's own: never copied
    return package_layer(source, cache=tmp_path / "cache", python_version=python_version)


def test_the_package_layer_carries_bytecode_for_the_runtime_as_lambda_imports_it(
    tmp_path: Path,
) -> None:
    """Lambda cannot write __pycache__ under /opt: the layer brings it, compiled by an
    interpreter of the runtime's version (here this one), hash-based so that unzipping (new
    file times) does not invalidate it, naming /opt/python paths in tracebacks."""
    layer = _package(tmp_path, THIS_PYTHON)
    package = layer / "python" / "beaconlake"
    assert (package / "__init__.py").read_text() == "X = 1\n"
    assert not (package / "__pycache__" / "x.pyc").exists()
    pyc = Path(importlib.util.cache_from_source(str(package / "__init__.py")))
    data = pyc.read_bytes()
    assert data[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(data[4:8], "little") == 0b01  # hash-based, not checked
    assert marshal.loads(data[16:]).co_filename == f"{LAYER_PYTHON_PATH}/beaconlake/__init__.py"
    assert package_layer(tmp_path / "src", tmp_path / "cache", THIS_PYTHON) == layer
    (tmp_path / "src" / "__init__.py").write_text("X = 2\n")
    assert package_layer(tmp_path / "src", tmp_path / "cache", THIS_PYTHON) != layer


def test_without_an_interpreter_of_the_runtimes_version_the_layer_is_source_and_synth_says_so(
    tmp_path: Path,
) -> None:
    layer = _package(tmp_path, NO_SUCH_PYTHON)
    assert not (layer / "python" / "beaconlake" / "__pycache__").exists()
    warning = without_bytecode_warning(NO_SUCH_PYTHON)
    assert warning is not None and "No Python 2.9" in warning and "\n" not in warning
    assert without_bytecode_warning(THIS_PYTHON) is None


def test_the_trimmed_ssm_model_serves_everything_the_secret_store_calls(
    tmp_path: Path, fake_aws_credentials: None
) -> None:
    """The layer's SSM model keeps only TRIMMED_MODELS' operations: a client built on it must
    still create, read, list (paginated) and delete salts, as ParameterSaltStore does."""
    full = Path(botocore.__file__).parent / "data" / "ssm"
    (version,) = [d.name for d in full.iterdir() if d.is_dir()]
    (tmp_path / "ssm" / version).mkdir(parents=True)
    shutil.copy(full / version / "service-2.json.gz", tmp_path / "ssm" / version)
    trim_service_models(tmp_path)
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(tmp_path))
    client = session.create_client("ssm")
    assert set(client.meta.service_model.operation_names) == set(TRIMMED_MODELS["ssm"])
    now = datetime.now(UTC)
    today, old = now.date().isoformat(), (now - timedelta(days=3)).date().isoformat()
    with mock_aws():
        store = ParameterSaltStore("/beaconlake/salts", client=client)
        for day in [old, *(f"2020-01-{d:02}" for d in range(1, 13)), today]:
            store.create(day)  # 14 parameters: two pages of GetParametersByPath
        assert len(store.days()) == 14
        store.rotate(now)
        assert store.days() == [today]
