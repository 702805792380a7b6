"""Lambda layers built without Docker.

The dependency layer is `uv pip install --python-platform aarch64-manylinux_2_28` of the
runtime dependencies (plus the `aws` extra) exactly as uv.lock pins them, hashes checked
(`uv export`), cached under .layer-cache/ by a hash of what goes into it, so a second synth
needs no network. In it, botocore's SSM model is trimmed to the operations beaconlake calls
(TRIMMED_MODELS). The `beaconlake` package itself is copied into a layer of its own: it
changes far more often.

Both layers carry their bytecode, compiled by an interpreter of the Lambda runtime's version
when this machine has one (`bytecode_compiler`): Lambda cannot write `__pycache__` under
/opt, so without it every module is compiled again at each cold start (docs/BENCHMARKS.md,
figure 2). Without such an interpreter the layers hold source only and synth says so.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".layer-cache"
# Wheels for arm64 Lambda: Python 3.12 and later run on Amazon Linux 2023 (glibc 2.34), so
# manylinux_2_28 wheels load there (google-re2 ships no older tag for Python 3.14), and uv takes
# the older manylinux2014 ones for this platform too.
PLATFORMS = ("aarch64-manylinux_2_28",)
# The Lambda runtime of every function (infra_cdk.api derives its Runtime from this). 3.13,
# not 3.14: an interpreter of the same version compiles the layers' bytecode, and pyenv has
# no 3.14 on our build machines yet.
PYTHON_VERSION = "3.13"
# Bump when the recipe below changes in a way the requirements hash cannot see.
RECIPE = 5
# Where Lambda unpacks a layer's python/ directory: the path tracebacks show.
LAYER_PYTHON_PATH = "/opt/python"
# botocore parses a service's whole model when a client is built: SSM's is 1.5 MB of JSON,
# about 18 ms of the collector's first event (docs/BENCHMARKS.md, figure 2), for the four
# operations that adapters.aws.SecretParameters calls.
TRIMMED_MODELS = {
    "ssm": ("GetParameter", "PutParameter", "GetParametersByPath", "DeleteParameters"),
}
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache")


class LayerBuildError(RuntimeError):
    """The dependency layer cannot be built; the message is one sentence for people."""


def uv_command() -> str:
    """The uv that scripts/install.sh puts in .tools/uv (the version the lock was made with),
    or one on PATH."""
    pinned = ROOT / ".tools" / "uv" / "bin" / "uv"
    found = str(pinned) if pinned.exists() else shutil.which("uv")
    if found is None:
        raise LayerBuildError(
            "uv is not installed, so the Lambda dependency layer cannot be built from uv.lock; "
            "run `bash scripts/install.sh dev` once and synth again."
        )
    return found


@functools.cache
def locked_layer_requirements(root: Path = ROOT) -> str:
    """The layer's requirements as uv.lock pins them, with their hashes: the runtime
    dependencies and the `aws` extra (`uv export --frozen`)."""
    command = [
        uv_command(), "export", "--frozen", "--no-emit-project", "--extra", "aws",
        "--format", "requirements-txt", "--no-header", "--quiet", "--project", str(root),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise LayerBuildError(f"uv could not read the layer's requirements from uv.lock ({last}).")
    return result.stdout


def layer_requirements() -> list[str]:
    """`name==version` (with its marker, if any) of every package in the dependency layer."""
    lines = locked_layer_requirements().splitlines()
    return [line.rstrip(" \\") for line in lines if line and not line[0].isspace()]


def cache_key(
    requirements: list[str],
    python_version: str,
    platforms: tuple[str, ...] = PLATFORMS,
    bytecode: bool = False,
) -> str:
    blob = json.dumps([requirements, python_version, platforms, RECIPE, bytecode])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@functools.cache
def bytecode_compiler(python_version: str) -> str | None:
    """An interpreter of `python_version` on this machine: this one, `python3.X` on PATH, or
    one that pyenv installed (its shim on PATH fails unless that version is selected). None
    if there is none."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python_version:
        return sys.executable
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = [shutil.which(f"python{python_version}")]
    candidates += sorted(str(p) for p in pyenv.glob(f"versions/{python_version}.*/bin/python3"))
    for candidate in candidates:
        if candidate and _runs_as(candidate, python_version):
            return candidate
    return None


def without_bytecode_warning(python_version: str) -> str | None:
    """What synth says when the layers cannot get their bytecode here."""
    if bytecode_compiler(python_version) is not None:
        return None
    return (
        f"No Python {python_version} on this machine, so the Lambda layers hold source only "
        "and every cold start compiles each module again (about twice as slow, "
        f"docs/BENCHMARKS.md figure 2); install Python {python_version} (on PATH or with "
        "pyenv) and synth again."
    )


def _runs_as(python: str, version: str) -> bool:
    check = "import sys; print('%d.%d' % sys.version_info[:2])"
    try:
        out = subprocess.run(  # noqa: S603
            [python, "-c", check], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return False
    return out.returncode == 0 and out.stdout.strip() == version


def compile_bytecode(python: str, tree: Path) -> None:
    """Compile every module under `tree` (a layer's python/ directory) as Lambda will import
    it. Hash-based and unchecked: an unzipped layer's file times mean nothing, and its
    sources never change. A file that does not compile (a test of some package written for
    another Python) is left as source, as an import would find it anyway."""
    command = [
        python, "-m", "compileall", "-q", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
        "-s", str(tree), "-p", LAYER_PYTHON_PATH, str(tree),
    ]  # fmt: skip
    subprocess.run(command, capture_output=True, check=False)  # noqa: S603


def dependency_layer(
    python_version: str,
    cache: Path = CACHE,
    installer_args: tuple[str, ...] = (),
    platforms: tuple[str, ...] = PLATFORMS,
) -> Path:
    """The directory of the dependency layer (holding python/), built once per key, with its
    bytecode if `bytecode_compiler` finds an interpreter. With no `platforms`, for this
    machine's: the cold-start bench runs the handlers on that copy."""
    requirements = layer_requirements()
    tag = "cp" + python_version.replace(".", "")
    compiler = bytecode_compiler(python_version)
    key = cache_key(requirements, python_version, platforms, compiler is not None)
    target = cache / f"deps-{tag}-{key}"
    if (target / ".complete").exists():
        return target
    staging = target.with_name(f".{target.name}-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    locked = staging / "requirements.txt"
    locked.write_text(locked_layer_requirements(), "utf-8")
    command = [
        uv_command(), "pip", "install", "--quiet", "--no-config", "--no-color",
        "--no-deps", "--require-hashes", "--only-binary", ":all:",
        *(arg for p in platforms for arg in ("--python-platform", p)),
        "--python-version", python_version, "--target", str(staging / "python"),
        *installer_args, "-r", str(locked),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise LayerBuildError(
            f"the Lambda dependency layer is not in {cache} and uv could not build it "
            f"({last}); run `npx aws-cdk synth` once with access to PyPI and it is cached "
            "for every later (offline) synth."
        )
    locked.unlink()
    (staging / "python" / ".lock").unlink(missing_ok=True)  # uv's, for the install only
    shutil.rmtree(staging / "python" / "bin", ignore_errors=True)  # console scripts: unused
    trim_service_models(staging / "python" / "botocore" / "data")
    if compiler is not None:
        compile_bytecode(compiler, staging / "python")
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


def package_layer(
    source: Path = ROOT / "layers" / "beaconlake",
    cache: Path = CACHE,
    python_version: str = PYTHON_VERSION,
) -> Path:
    """The beaconlake package laid out as a layer (python/beaconlake), with its bytecode as
    the dependency layer has, one directory per version of its files, so concurrent synths
    never see each other's half-written copy."""
    files = sorted(p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    compiler = bytecode_compiler(python_version)
    digest = hashlib.sha256(f"{python_version} {compiler is not None}".encode())
    for path in files:
        digest.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes())
    tag = "cp" + python_version.replace(".", "")
    target = cache / f"package-{tag}-{digest.hexdigest()[:16]}"
    if target.exists():
        return target
    staging = cache / f".package-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging / "python" / "beaconlake", ignore=_IGNORE)
    if compiler is not None:
        compile_bytecode(compiler, staging / "python")
    try:
        staging.rename(target)
    except OSError:  # another process finished the same copy first
        shutil.rmtree(staging, ignore_errors=True)
    for old in cache.glob(f"package-{tag}-*"):
        if old != target:
            shutil.rmtree(old, ignore_errors=True)
    return target
