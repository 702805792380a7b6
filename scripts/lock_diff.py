"""What moved between two locks: `python scripts/lock_diff.py OLD NEW [OLD NEW ...]`, each pair
a uv.lock or a hashed requirements file. One line a package: added, removed or old -> new."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def versions(path: Path) -> dict[str, str]:
    """Package name -> version pinned in a uv.lock or a requirements file."""
    text = path.read_text("utf-8")
    if path.suffix == ".lock":
        return {p["name"]: p["version"] for p in tomllib.loads(text)["package"] if "version" in p}
    return {m[1].lower(): m[2] for line in text.splitlines() if (m := PIN.match(line))}


def moved(old: dict[str, str], new: dict[str, str]) -> list[str]:
    lines = []
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if before is None:
            lines.append(f"  + {name} {after}")
        elif after is None:
            lines.append(f"  - {name} {before}")
        else:
            lines.append(f"    {name} {before} -> {after}")
    return lines


def main(paths: list[str]) -> int:
    if not paths or len(paths) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    for old, new in zip(paths[::2], paths[1::2], strict=True):
        lines = moved(versions(Path(old)), versions(Path(new)))
        print(f"{Path(new).name}: {len(lines)} changed")
        print("\n".join(lines) if lines else "  (nothing)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
