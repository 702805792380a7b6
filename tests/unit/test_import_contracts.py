"""The import graph keeps its contracts (pyproject.toml, [tool.importlinter]): no cycle in any
package, the layers of DESIGN.md ("Which way imports go"), the HTTP layer with its ports
handed in. A new cycle or a wrong-way import fails the suite here, with import-linter's
report of where."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = {"acyclic", "layers", "core", "services", "adapters", "http", "entry-points"}


def lint_imports(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_the_import_graph_keeps_every_contract() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert {c["id"] for c in declared["contracts"]} >= CONTRACTS
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"Contracts: {len(declared['contracts'])} kept, 0 broken." in result.stdout


def test_a_cycle_breaks_the_acyclic_contract(tmp_path: Path) -> None:
    """The contract type the project relies on does catch a cycle (a ↔ b in a package)."""
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic import b\n")
    (package / "b.py").write_text("def f():\n    from cyclic import a  # hidden in a function\n")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = cyclic\n\n"
        "[importlinter:contract:acyclic]\nname = no cycles\ntype = acyclic_siblings\n"
        "ancestors = cyclic\n"
    )
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout
    assert "no cycles BROKEN" in result.stdout
