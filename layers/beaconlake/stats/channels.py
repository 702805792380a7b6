"""Acquisition channels (Organic Search, Paid Social, Email, Direct, ...) from a visit's source
and UTM tags, and the canonical source names of stored events. Each Python function and its
SQL CASE expression are generated from one table: the channel rules from data/channels.json
(with source kinds from data/referrer_sources.json), the source names from
data/referrer_sources.json (`ingest.referrer.source_aliases`, which the collector applies to
new events)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from beaconlake.ingest.referrer import DIRECT, canonical_source, source_aliases


def _data(name: str) -> dict[str, Any]:
    text = resources.files("beaconlake").joinpath(f"data/{name}").read_text("utf-8")
    return dict(json.loads(text))


@lru_cache(maxsize=1)
def _rules() -> tuple[list[dict[str, Any]], dict[str, list[str]], dict[str, list[str]]]:
    channels = _data("channels.json")
    kinds = _data("referrer_sources.json")["kinds"]
    lists = {"paid_mediums": channels["paid_mediums"]}
    return channels["rules"], kinds, lists


def _mediums(rule: dict[str, Any], lists: dict[str, list[str]]) -> list[str] | None:
    if "medium" in rule:
        return [m.lower() for m in rule["medium"]]
    if "medium_in" in rule:
        return [m.lower() for m in lists[rule["medium_in"]]]
    return None


def _kind_sources(kind: str, kinds: dict[str, list[str]]) -> list[str]:
    """Source names of a kind, lower-cased, plus their usual utm_source spellings."""
    names = [n.lower() for n in kinds.get(kind, [])]
    return sorted(set(names) | {n.split(" ")[0].rstrip("!") for n in names})


def channel_of(source: str | None, utm_medium: str | None) -> str:
    """The channel of one visit (pure Python; the SQL below must agree)."""
    rules, kinds, lists = _rules()
    src = "" if source == DIRECT else (source or "").lower()
    medium = (utm_medium or "").lower()
    for rule in rules:
        mediums = _mediums(rule, lists)
        if mediums is not None and medium not in mediums:
            continue
        if "source_kind" in rule and src not in _kind_sources(rule["source_kind"], kinds):
            continue
        if "has_source" in rule and bool(src) != rule["has_source"]:
            continue
        return str(rule["channel"])
    return "Referral"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def channel_sql(source: str, utm_medium: str) -> str:
    """A CASE expression over two SQL columns; the literals come from the rule table only."""
    rules, kinds, lists = _rules()
    src = f"lower(coalesce(nullif({source}, {_quote(DIRECT)}), ''))"
    medium = f"lower(coalesce({utm_medium}, ''))"
    whens = []
    for rule in rules:
        conditions = []
        mediums = _mediums(rule, lists)
        if mediums is not None:
            conditions.append(f"{medium} IN ({', '.join(_quote(m) for m in mediums)})")
        if "source_kind" in rule:
            names = _kind_sources(rule["source_kind"], kinds)
            conditions.append(f"{src} IN ({', '.join(_quote(n) for n in names)})")
        if "has_source" in rule:
            conditions.append(f"{src} <> ''" if rule["has_source"] else f"{src} = ''")
        whens.append(f"WHEN {' AND '.join(conditions) or 'true'} THEN {_quote(rule['channel'])}")
    return "CASE " + " ".join(whens) + " ELSE 'Referral' END"


def source_of(stored: str | None) -> str:
    """The source a visit shows for its first event's stored `referrer_source`: the known
    name of any spelling of it, DIRECT for none (pure Python; `source_sql` must agree)."""
    return canonical_source(stored) if stored else DIRECT


def source_sql(column: str) -> str:
    """`source_of` as a CASE expression over an SQL column; the literals come from the
    source table only."""
    by_name: dict[str, list[str]] = {}
    for spelling, name in source_aliases().items():
        by_name.setdefault(name, []).append(spelling)
    whens = [f"WHEN coalesce({column}, '') = '' THEN {_quote(DIRECT)}"]
    for name, spellings in by_name.items():
        listed = ", ".join(_quote(s) for s in sorted(spellings))
        whens.append(f"WHEN lower({column}) IN ({listed}) THEN {_quote(name)}")
    return "CASE " + " ".join(whens) + f" ELSE {column} END"
