"""Lambda layers built without Docker.

The dependency layer is `pip install --platform manylinux_2_28_aarch64 --only-binary=:all:`
of the runtime dependencies in pyproject.toml (plus the `aws` extra), cached under
.layer-cache/ by a hash of what goes into it, so a second synth needs no network. The
`beaconlake` package itself is copied into a layer of its own: it changes far more often.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".layer-cache"
# Wheels for arm64 Lambda: Python 3.12 and later run on Amazon Linux 2023 (glibc 2.34), so
# manylinux_2_28 wheels load there (google-re2 ships no older tag for Python 3.14), and the
# older manylinux2014 ones too.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
# The Lambda runtime of every function (infra_cdk.api derives its Runtime from this).
PYTHON_VERSION = "3.14"
# Bump when the recipe below changes in a way the requirements hash cannot see.
RECIPE = 2
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache")


class LayerBuildError(RuntimeError):
    """The dependency layer cannot be built; the message is one sentence for people."""


def layer_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    project = tomllib.loads(pyproject.read_text("utf-8"))["project"]
    return sorted([*project["dependencies"], *project["optional-dependencies"]["aws"]])


def cache_key(requirements: list[str], python_version: str) -> str:
    blob = json.dumps([requirements, python_version, PLATFORMS, RECIPE])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def dependency_layer(
    python_version: str, cache: Path = CACHE, pip_args: tuple[str, ...] = ()
) -> Path:
    """The directory of the dependency layer (holding python/), built once per key."""
    requirements = layer_requirements()
    tag = "cp" + python_version.replace(".", "")
    target = cache / f"deps-{tag}-{cache_key(requirements, python_version)}"
    if (target / ".complete").exists():
        return target
    staging = target.with_name(f".{target.name}-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-compile", "--no-color",
        *(arg for p in PLATFORMS for arg in ("--platform", p)),
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
    (staging / ".complete").write_text("\n".join(requirements) + "\n", "utf-8")
    try:
        staging.rename(target)
    except OSError:  # another process finished the same build first
        shutil.rmtree(staging, ignore_errors=True)
    return target


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
