"""Lambda layers built without Docker.

The dependency layer is `pip install --platform manylinux_2_28_aarch64 --only-binary=:all:`
of the runtime dependencies in pyproject.toml (plus the `aws` extra), cached under
.layer-cache/ by a hash of what goes into it, so a second synth needs no network. In it,
botocore's SSM model is trimmed to the operations beaconlake calls (TRIMMED_MODELS). The
`beaconlake` package itself is copied into a layer of its own: it changes far more often.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".layer-cache"
# Wheels for arm64 Lambda: Python 3.12 and later run on Amazon Linux 2023 (glibc 2.34), so
# manylinux_2_28 wheels load there (google-re2 ships no older tag for Python 3.14), and the
# older manylinux2014 ones too.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
# The Lambda runtime of every function (infra_cdk.api derives its Runtime from this).
PYTHON_VERSION = "3.14"
# Bump when the recipe below changes in a way the requirements hash cannot see.
RECIPE = 3
# botocore parses a service's whole model when a client is built: SSM's is 1.5 MB of JSON,
# about 18 ms of the collector's first event (docs/BENCHMARKS.md, figure 2), for the four
# operations that adapters.aws.SecretParameters calls.
TRIMMED_MODELS = {
    "ssm": ("GetParameter", "PutParameter", "GetParametersByPath", "DeleteParameters"),
}
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache")


class LayerBuildError(RuntimeError):
    """The dependency layer cannot be built; the message is one sentence for people."""


def layer_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    project = tomllib.loads(pyproject.read_text("utf-8"))["project"]
    return sorted([*project["dependencies"], *project["optional-dependencies"]["aws"]])


def cache_key(
    requirements: list[str], python_version: str, platforms: tuple[str, ...] = PLATFORMS
) -> str:
    blob = json.dumps([requirements, python_version, platforms, RECIPE])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def dependency_layer(
    python_version: str,
    cache: Path = CACHE,
    pip_args: tuple[str, ...] = (),
    platforms: tuple[str, ...] = PLATFORMS,
) -> Path:
    """The directory of the dependency layer (holding python/), built once per key. With no
    `platforms`, for this machine's: the cold-start bench runs the handlers on that copy."""
    requirements = layer_requirements()
    tag = "cp" + python_version.replace(".", "")
    target = cache / f"deps-{tag}-{cache_key(requirements, python_version, platforms)}"
    if (target / ".complete").exists():
        return target
    staging = target.with_name(f".{target.name}-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-compile", "--no-color",
        *(arg for p in platforms for arg in ("--platform", p)),
        "--only-binary=:all:", "--implementation", "cp",
        "--python-version", python_version, "--target", str(staging / "python"),
        *pip_args, *requirements,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise LayerBuildError(
            f"the Lambda dependency layer is not in {cache} and pip could not build it "
            f"({last}); run `npx aws-cdk synth` once with access to PyPI and it is cached "
            "for every later (offline) synth."
        )
    shutil.rmtree(staging / "python" / "bin", ignore_errors=True)  # console scripts: unused
    trim_service_models(staging / "python" / "botocore" / "data")
    (staging / ".complete").write_text("\n".join(requirements) + "\n", "utf-8")
    try:
        staging.rename(target)
    except OSError:  # another process finished the same build first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def trimmed_model(model: dict[str, Any], operations: tuple[str, ...]) -> dict[str, Any]:
    """A botocore service model with only `operations`, the shapes they reach, and no
    documentation."""
    ops = {name: _undocumented(model["operations"][name]) for name in operations}
    refs = [op[io]["shape"] for op in ops.values() for io in ("input", "output") if io in op]
    refs += [error["shape"] for op in ops.values() for error in op.get("errors", [])]
    shapes: dict[str, Any] = {}
    while refs:
        name = refs.pop()
        if name in shapes:
            continue
        shape = shapes[name] = _undocumented(model["shapes"][name])
        if "members" in shape:
            shape["members"] = {k: _undocumented(m) for k, m in shape["members"].items()}
            refs += [m["shape"] for m in shape["members"].values()]
        refs += [shape[k]["shape"] for k in ("member", "key", "value") if k in shape]
    rest = {k: v for k, v in model.items() if k not in ("operations", "shapes", "documentation")}
    return {**rest, "operations": ops, "shapes": dict(sorted(shapes.items()))}


def _undocumented(part: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in part.items() if k not in ("documentation", "documentationUrl")}


def trim_service_models(botocore_data: Path) -> None:
    """Replace each TRIMMED_MODELS service's model under botocore's data directory."""
    for service, operations in TRIMMED_MODELS.items():
        for path in (botocore_data / service).glob("*/service-2.json*"):
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8") as f:
                model = json.load(f)
            with opener(path, "wt", encoding="utf-8") as f:
                json.dump(trimmed_model(model, operations), f, separators=(",", ":"))


def package_layer(source: Path = ROOT / "layers" / "beaconlake", cache: Path = CACHE) -> Path:
    """The beaconlake package laid out as a layer (python/beaconlake), one directory per
    version of its files, so concurrent synths never see each other's half-written copy."""
    files = sorted(p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes())
    target = cache / f"package-{digest.hexdigest()[:16]}"
    if target.exists():
        return target
    staging = cache / f".package-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging / "python" / "beaconlake", ignore=_IGNORE)
    try:
        staging.rename(target)
    except OSError:  # another process finished the same copy first
        shutil.rmtree(staging, ignore_errors=True)
    for old in cache.glob("package-*"):
        if old != target:
            shutil.rmtree(old, ignore_errors=True)
    return target
