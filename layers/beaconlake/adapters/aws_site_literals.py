"""The site id as a literal in Athena statements.

The Glue tables project `site_id` with partition projection's `injected` type, so a site
added to the catalogue is queryable at once, with no change to the table (no redeploy).
Athena documents that a query on such a table must hold a static equality on the column whose
values are "literals or expressions that can be evaluated without reading any data" (Athena
user guide, "Use dynamic ID partitioning"); it documents no execution parameter there. So each
`site_id = ?` is sent with the site id written into the statement: only a value that is a
domain name (lower-case letters, digits, dots, hyphens, underscores: what the catalogue
accepts) is inlined, as a quoted literal; any other value stays an execution parameter (and
Athena then refuses the statement, which reads no site)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_SITE_ID = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,251}[a-z0-9])?$")
_EQUALS_SITE = re.compile(r"(?:\b[A-Za-z_][A-Za-z0-9_]*\.)?\bsite_id\s*=\s*$", re.IGNORECASE)


def is_site_literal(value: Any) -> bool:
    return isinstance(value, str) and bool(_SITE_ID.match(value))


def inline_site_ids(sql: str, params: Sequence[Any]) -> tuple[str, list[Any]]:
    """`sql` with each `site_id = ?` (any table alias) whose parameter is a site id written as
    the literal, and the parameters left, in order. A `?` in quoted text or a comment is no
    parameter."""
    out: list[str] = []
    kept: list[Any] = []
    index = start = at = 0
    while at < len(sql):
        char = sql[at]
        if char in "'\"":
            end = sql.find(char, at + 1)  # a doubled quote closes and opens again
            at = len(sql) if end < 0 else end + 1
            continue
        if sql.startswith("--", at):
            end = sql.find("\n", at)
            at = len(sql) if end < 0 else end + 1
            continue
        if sql.startswith("/*", at):
            end = sql.find("*/", at + 2)
            at = len(sql) if end < 0 else end + 2
            continue
        if char == "?":
            before = sql[start:at]
            if index < len(params):
                value = params[index]
                if is_site_literal(value) and _EQUALS_SITE.search(before):
                    out.append(before + f"'{value}'")
                else:
                    out.append(before + "?")
                    kept.append(value)
            else:
                out.append(before + "?")
            start = at + 1
            index += 1
        at += 1
    out.append(sql[start:])
    kept.extend(params[index:])
    return "".join(out), kept
