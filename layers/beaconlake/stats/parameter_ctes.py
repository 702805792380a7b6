"""CTEs that keep `?` parameters in WHERE clauses, for the SQL builders (stats.sql,
stats.behaviour_sql): Athena takes a parameter nowhere else ("? parameters can be placed only
in the WHERE clause"), and user text reaches SQL only as a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from beaconlake.stats.query import PROP_PREFIX


@dataclass(frozen=True)
class HasDoneFlag:
    """Column `name`: 1 on every row of a visit with an event matching `where`, else 0."""

    name: str
    where: str
    params: tuple[Any, ...]


def flagged_ctes(flags: Sequence[HasDoneFlag], source: str) -> tuple[list[str], tuple[Any, ...]]:
    """CTEs ending in `flagged`: the rows of `source` (one per event, with visitor_id and
    session_no) and one column per flag; and their parameters, in order.

    A has_done filter keeps a visit when one of its events matches the inner filter. The
    flag comes from a CTE of the matching visits, joined back to every row, rather than from
    a window over a CASE, which would put the inner filter's parameters in a SELECT list."""
    parts: list[str] = []
    args: tuple[Any, ...] = ()
    joins = []
    for flag in flags:
        visits = f"{flag.name}_visits"
        parts.append(
            f"{visits} AS (SELECT DISTINCT visitor_id, session_no FROM {source} WHERE {flag.where})"
        )
        args += flag.params
        joins.append(
            f"\n  LEFT JOIN {visits} ON {visits}.visitor_id = s.visitor_id "
            f"AND {visits}.session_no = s.session_no"
        )
    columns = ", ".join(
        f"CASE WHEN {flag.name}_visits.visitor_id IS NULL THEN 0 ELSE 1 END AS {flag.name}"
        for flag in flags
    )
    parts.append(f"flagged AS (\n  SELECT s.*, {columns}\n  FROM {source} s{''.join(joins)}\n)")
    return parts, args


def props_value_column(index: int) -> str:
    """The column `props_value_columns` adds for group key `index`, a props key."""
    return f"props_value_{index}"


def props_value_columns(dimensions: Sequence[str]) -> str:
    """`, <value> AS props_value_{index}` for each props key among the group keys: the
    event's value of that key, read with the key of CTE props_key_{index}
    (`props_key_ctes`). Added where the events are selected, not in the grouped expression,
    as Trino groups by no subquery."""
    return "".join(
        f", element_at(props, (SELECT k FROM props_key_{index})) AS {props_value_column(index)}"
        for index, dimension in enumerate(dimensions)
        if dimension.startswith(PROP_PREFIX)
    )


def props_key_ctes(dimensions: Sequence[str], source: str) -> tuple[list[str], tuple[Any, ...]]:
    """For each props key among the group keys `dimensions`, CTE `props_key_{index}`: one
    row, column `k`, holding the key if some event of `source` has it, else NULL; and their
    parameters, in order.

    The key is the input of an output column, where a parameter may not go, so it is first
    matched, in a WHERE, against the keys the events have. A key no event has gives NULL for
    every event (`element_at` of a NULL key), as it would give for the key itself."""
    parts: list[str] = []
    args: tuple[Any, ...] = ()
    for index, dimension in enumerate(dimensions):
        if dimension.startswith(PROP_PREFIX):
            parts.append(
                f"props_key_{index} AS (SELECT max(k) AS k FROM {source} "
                "CROSS JOIN UNNEST(map_keys(props)) AS key_list(k) WHERE k = ?)"
            )
            args += (dimension[len(PROP_PREFIX) :],)
    return parts, args
