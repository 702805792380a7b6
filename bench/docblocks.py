"""Generated tables inside hand-written Markdown.

A doc's prose is written by hand; each table a program writes sits between two markers,

    <!-- generated:NAME -->
    | figure | value |
    |---|---|
    <!-- /generated:NAME -->

and `replace_generated(doc, NAME, table)` replaces what is between them, in place. A generator
never adds, moves or deletes prose: a block it cannot find is an error (put the two markers
where the table belongs, then run it). NAME is lower case, digits and `-`.

`blocks(text)` reads every block of a doc; `stale(doc, tables)` says which of the given
tables differ from the doc's, for a test that fails when a table was not regenerated.
"""

from __future__ import annotations

import re
from pathlib import Path

NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
BLOCK = re.compile(r"<!-- generated:([a-z0-9-]+) -->\n(.*?)<!-- /generated:\1 -->", re.S)


class MissingBlock(ValueError):
    """The doc has no markers for the block a generator writes."""


def markers(name: str) -> tuple[str, str]:
    if not NAME.fullmatch(name):
        raise ValueError(f"a block name is lower case, digits and '-': {name!r}")
    return f"<!-- generated:{name} -->", f"<!-- /generated:{name} -->"


def blocks(text: str) -> dict[str, str]:
    """Every generated block of a doc: name → its content (without the markers)."""
    found: dict[str, str] = {}
    for match in BLOCK.finditer(text):
        if match.group(1) in found:
            raise ValueError(f"block {match.group(1)!r} appears twice")
        found[match.group(1)] = match.group(2)
    return found


def _content(markdown: str) -> str:
    return markdown.strip("\n") + "\n"


def replaced(text: str, name: str, markdown: str) -> str:
    """`text` with block `name` holding `markdown`; everything outside it unchanged."""
    start, end = markers(name)
    pattern = re.compile(re.escape(start) + r"\n.*?" + re.escape(end), re.S)
    if len(pattern.findall(text)) != 1:
        raise MissingBlock(f"expected one {start} … {end} block")
    return pattern.sub(lambda _: f"{start}\n{_content(markdown)}{end}", text)


def replace_generated(doc_path: Path, name: str, markdown: str) -> None:
    """Write `markdown` (a table, or a few) into block `name` of the doc at `doc_path`."""
    text = doc_path.read_text("utf-8")
    try:
        new = replaced(text, name, markdown)
    except MissingBlock as missing:
        raise MissingBlock(f"{doc_path}: {missing}") from None
    if new != text:
        doc_path.write_text(new, "utf-8")


def stale(doc_path: Path, tables: dict[str, str]) -> list[str]:
    """The names among `tables` whose block in the doc differs from (or lacks) the table."""
    current = blocks(doc_path.read_text("utf-8"))
    return [name for name, md in tables.items() if current.get(name) != _content(md)]


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; a `|` inside a cell is escaped."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *map(line, rows)])
