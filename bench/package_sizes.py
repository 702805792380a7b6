"""Lambda package sizes: each function asset and layer, unzipped and zipped, as the CDK app
builds them (arm64, the stack's Python), checked against Lambda's limits. Writes tables only,
into docs/BENCHMARKS.md's `package-sizes` block (bench/docblocks.py).

Run: `.venv/bin/python bench/package_sizes.py` (builds the dependency layer into
.layer-cache/ first if it is not cached; that needs PyPI once).
"""

from __future__ import annotations

import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers")]

from bench.docblocks import replace_generated, table  # noqa: E402
from infra_cdk.layers import PYTHON_VERSION, dependency_layer, package_layer  # noqa: E402

BLOCK = "package-sizes"
FUNCTIONS = ("collect", "stats", "rotate_salt")
UNZIPPED_LIMIT = 262_144_000  # function + all its layers, unzipped ("250 MB")
ZIPPED_LIMIT = 52_428_800  # one zip uploaded directly ("50 MB")
MB = 1_000_000
SKIP = {"__pycache__", ".complete"}


def human(size: int) -> str:
    return f"{size / MB:.2f} MB" if size >= 100_000 else f"{size / 1000:.1f} kB"


def files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file() and not SKIP & set(p.relative_to(directory).parts) and p.suffix != ".pyc"
    )


def sizes(directory: Path) -> tuple[int, int, int]:
    """(files, unzipped bytes, zipped bytes) of a directory zipped like a CDK asset."""
    members = files(directory)
    with tempfile.TemporaryFile() as handle:
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for path in members:
                archive.write(path, path.relative_to(directory))
        zipped = handle.tell()
    return len(members), sum(p.stat().st_size for p in members), zipped


def largest_packages(layer: Path, top: int = 6) -> list[tuple[str, int]]:
    site = layer / "python"
    totals = {
        entry.name: sum(p.stat().st_size for p in files(entry)) if entry.is_dir() else 0
        for entry in site.iterdir()
        if not entry.name.endswith(".dist-info")
    }
    return sorted(totals.items(), key=lambda item: -item[1])[:top]


def main() -> int:
    deps = dependency_layer(PYTHON_VERSION)
    assets = {
        "layer: third-party dependencies": deps,
        "layer: beaconlake package": package_layer(),
        **{f"function: {name}": ROOT / "functions" / name for name in FUNCTIONS},
    }
    measured = {name: sizes(path) for name, path in assets.items()}
    layers_unzipped = sum(u for name, (_, u, _) in measured.items() if name.startswith("layer"))
    build = table(
        ["build", "value"],
        [
            ["platform", f"arm64, Python {PYTHON_VERSION}, wheels for manylinux2014_aarch64"],
            ["zip", "deflate level 9, MB = 10^6 bytes"],
        ],
    )
    assets_table = table(
        ["Asset", "Files", "Unzipped", "Zipped"],
        [
            [name, f"{count:,}", human(unzipped), human(zipped)]
            for name, (count, unzipped, zipped) in measured.items()
        ],
    )
    ok = True
    rows = []
    for fn in FUNCTIONS:
        total = measured[f"function: {fn}"][1] + layers_unzipped
        ok &= total <= UNZIPPED_LIMIT
        rows.append([fn, human(total), "within" if total <= UNZIPPED_LIMIT else "**over**"])
    functions = table(
        ["Function", "Function + layers, unzipped", f"Limit {human(UNZIPPED_LIMIT)}"], rows
    )
    biggest = max(measured.items(), key=lambda item: item[1][2])
    zip_ok = biggest[1][2] <= ZIPPED_LIMIT
    ok &= zip_ok
    largest = table(
        ["largest zip", "zipped", f"direct-upload limit {human(ZIPPED_LIMIT)}"],
        [[biggest[0], human(biggest[1][2]), "within" if zip_ok else "**over**"]],
    )
    packages = table(
        ["largest packages in the dependency layer", "unzipped"],
        [[name, f"{size / MB:.1f} MB"] for name, size in largest_packages(deps)],
    )
    section = "\n\n".join([build, assets_table, functions, largest, packages])
    print(section)
    replace_generated(ROOT / "docs" / "BENCHMARKS.md", BLOCK, section)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
