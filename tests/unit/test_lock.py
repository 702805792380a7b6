"""Every installed Python version comes from the committed lock (uv.lock): the lock was made
from this pyproject.toml, the virtualenv scripts/install.sh made holds exactly the lock's
packages for the extras it installed, uv itself is pinned with hashes, and the Lambda layer is
built from the same pins."""

from __future__ import annotations

import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra_cdk.layers import layer_requirements

ROOT = Path(__file__).resolve().parents[2]
LOCK = tomllib.loads((ROOT / "uv.lock").read_text("utf-8"))
# a package may be locked at two versions, each for its own Pythons (dependencies then name
# the version)
PACKAGES = {(p["name"], p["version"]): p for p in LOCK["package"]}
VERSIONS = {p["name"]: p["version"] for p in LOCK["package"]}
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]


def _requirement_key(req: Requirement, extra: str | None) -> tuple[str, str, tuple[str, ...], str]:
    marker = str(req.marker) if req.marker else ""
    if extra is not None:
        own = f'extra == "{extra}"'
        marker = f"({marker}) and {own}" if marker else own
    return (canonicalize_name(req.name), str(req.specifier), tuple(sorted(req.extras)), marker)


def test_the_lock_was_made_from_this_pyproject() -> None:
    """uv keeps what it resolved from in the lock; a pyproject edit without `uv lock` (or
    scripts/upgrade-deps) shows here, before a fresh machine installs something else."""
    wanted = {_requirement_key(Requirement(r), None) for r in PROJECT["dependencies"]}
    for extra, reqs in PROJECT["optional-dependencies"].items():
        wanted |= {_requirement_key(Requirement(r), extra) for r in reqs}
    metadata = PACKAGES["beaconlake", VERSIONS["beaconlake"]]["metadata"]
    locked = set()
    for entry in metadata["requires-dist"]:
        text = entry["name"] + (f"[{','.join(entry['extras'])}]" if entry.get("extras") else "")
        text += entry.get("specifier", "")
        if entry.get("marker"):
            text += f"; {entry['marker']}"
        locked.add(_requirement_key(Requirement(text), None))
    assert {(n, s, e, str(Marker(m)) if m else "") for n, s, e, m in wanted} == locked
    assert sorted(metadata["provides-extras"]) == sorted(PROJECT["optional-dependencies"])


def _closure(extras: set[str]) -> dict[str, str]:
    """name → version of what the lock installs for beaconlake[extras] on this interpreter."""
    environment = {"extra": ""}
    found: dict[str, str] = {}
    todo = [("beaconlake", VERSIONS["beaconlake"], frozenset(extras))]
    seen: set[tuple[str, str, frozenset[str]]] = set()
    while todo:
        name, version, wanted_extras = todo.pop()
        if (name, version, wanted_extras) in seen:
            continue
        seen.add((name, version, wanted_extras))
        package = PACKAGES[name, version]
        found[name] = version
        deps: list[dict[str, Any]] = list(package.get("dependencies", []))
        for extra in wanted_extras:
            deps += package.get("optional-dependencies", {}).get(extra, [])
        for dep in deps:
            if "marker" in dep and not Marker(dep["marker"]).evaluate(environment):
                continue
            dep_version = dep.get("version", VERSIONS[dep["name"]])
            todo.append((dep["name"], dep_version, frozenset(dep.get("extra", []))))
    return found


def _installed_extras() -> set[str]:
    recorded = Path(sys.prefix) / ".beaconlake-extras"
    return set(recorded.read_text().strip().split(",")) if recorded.exists() else {"dev"}


def test_the_virtualenv_holds_exactly_the_locked_packages() -> None:
    """Fails if scripts/install.sh (or anyone) installed a package the lock does not name, a
    version other than the lock's, or left out one the lock installs for these extras."""
    installed = {
        canonicalize_name(d.metadata["Name"]): d.version
        for d in importlib.metadata.distributions(path=sys.path)
        if Path(str(d.locate_file(""))).resolve().is_relative_to(Path(sys.prefix).resolve())
    }
    expected = _closure(_installed_extras())
    not_locked = {n: v for n, v in installed.items() if expected.get(n) != v}
    missing = {n: v for n, v in expected.items() if n not in installed}
    assert not_locked == {}, "installed but not as the lock pins them"
    assert missing == {}, "pinned by the lock for these extras but not installed"


def test_every_locked_download_has_a_hash() -> None:
    for package in LOCK["package"]:
        if "registry" not in package["source"]:
            continue
        files = [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
        assert files and all(f["hash"].startswith("sha256:") for f in files), package["name"]


def test_uv_itself_is_pinned_with_hashes() -> None:
    text = (ROOT / "scripts" / "uv-requirements.txt").read_text("utf-8")
    assert re.findall(r"^([a-z0-9-]+)==", text, re.MULTILINE) == ["uv"]
    assert len(re.findall(r"--hash=sha256:[0-9a-f]{64}", text)) >= 1
    assert "--require-hashes" in (ROOT / "scripts" / "install.sh").read_text("utf-8")


def test_the_lambda_layer_is_built_from_the_locks_pins() -> None:
    pins = dict(line.split(";")[0].strip().split("==") for line in layer_requirements())
    assert pins, "the layer has no requirements"
    locked = {(name, version) for name, version in PACKAGES}
    assert {n: v for n, v in pins.items() if (canonicalize_name(n), v) not in locked} == {}
    runtime = {canonicalize_name(Requirement(r).name) for r in PROJECT["dependencies"]}
    runtime |= {
        canonicalize_name(Requirement(r).name) for r in PROJECT["optional-dependencies"]["aws"]
    }
    assert runtime <= set(pins)
    assert not {"duckdb", "pyarrow", "pytest", "moto"} & set(pins)


def test_the_package_builds_without_setuptools_warnings(tmp_path: Path) -> None:
    """The wheel carries the dashboard's files, and building it (as install.sh's editable
    install does) prints none of setuptools' warnings about package folders or settings."""
    import subprocess
    import zipfile

    command = [str(ROOT / ".tools" / "uv" / "bin" / "uv"), "build", "--wheel", "--offline"]
    command += ["--no-config", "-o", str(tmp_path), str(ROOT)]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=tmp_path)
    log = out.stdout + out.stderr
    assert not re.findall(r".*(?:Warning|!!|is absent from).*", log)
    (wheel,) = tmp_path.glob("beaconlake-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "beaconlake/dashboard/static/index.html" in names
    assert "beaconlake/dashboard/static/vendor/htm-preact.mjs" in names
    assert "beaconlake/data/channels.json" in names
    assert "beaconlake/stats/static/swagger-ui/swagger-ui-bundle.js" in names


def test_aws_cdk_libs_copy_of_the_shared_schema_module_is_installed() -> None:
    """Two locked packages ship aws_cdk/cloud_assembly_schema/__init__.py; install.sh makes
    aws-cdk-lib's win, without which aws_cdk.assertions cannot read a synth's warnings."""
    import runpy

    owner = runpy.run_path(str(ROOT / "scripts" / "cdk_schema_owner.py"))
    assert owner["owned_by_aws_cdk_lib"]()
