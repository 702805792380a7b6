"""The metric and dimension tables of docs/QUERY_API.md, generated from stats.registry.

`python -m beaconlake.stats.registry_docs docs/QUERY_API.md` rewrites them between the
markers; tests/unit/test_registry.py fails while they are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from beaconlake.stats.registry import DIMENSIONS, METRICS, Dimension, Source

START = "<!-- registry-tables:start -->"
END = "<!-- registry-tables:end -->"


ZONE_NOTE = (
    "Days, weeks, months and hours (`time:*`, and every date range) are those of the "
    "site's time zone: a visit, with all of its events, counts in the period it started "
    'in (docs/ANALYTICS.md, "Time zones"). `visitors` counts visitor ids, and those '
    "change at 00:00 UTC whatever the site's zone: a person active on both sides of UTC "
    "midnight is two visitors, even within one local day."
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _origin(d: Dimension) -> str:
    if d.origin:
        return d.origin
    if d.source is Source.EVENT:
        return f"event column `{d.column}`"
    if d.first_of:
        return f"the visit's first event's `{d.first_of}`"
    if d.source is Source.VISIT:
        return "the visit's events"
    return d.source.value


def tables() -> str:
    """The two tables, as Markdown."""
    lines = [
        "| metric | API | what it is | a change is shown in |",
        "|---|---|---|---|",
    ]
    for m in METRICS.values():
        api = "v1, v2" if m.v1 else "v2"
        lines.append(f"| `{m.name}` | {api} | {_cell(m.doc)} | {m.change.value} |")
    lines += [
        "",
        "| dimension | from | fixed per | what it is | privacy |",
        "|---|---|---|---|---|",
    ]
    for d in DIMENSIONS.values():
        cells = (f"`{d.name}`", _origin(d), d.scope.value, _cell(d.doc), _cell(d.privacy))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", ZONE_NOTE]
    return "\n".join(lines)


def replaced(text: str) -> str:
    """`text` with the part between the markers replaced by the current tables."""
    head, start, rest = text.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"the markers {START} and {END} are missing")
    return f"{head}{START}\n{tables()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "docs/QUERY_API.md")
    path.write_text(replaced(path.read_text("utf-8")), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
