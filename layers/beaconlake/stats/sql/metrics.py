"""Metric expressions: the raw columns (the registry's aggregates) a statement computes for
its metrics, the final SELECT that joins the parts computing them, ORDER BY, and the shaping
of a row of raw columns into the metrics asked for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from beaconlake.stats.query import StatsQuery
from beaconlake.stats.registry import AGGREGATES, METRICS, Denominator, part_of

# the built-in raw columns and what each metric reads (the registry may hold more)
RAW_COLUMNS: tuple[str, ...] = tuple(AGGREGATES)
METRIC_INPUTS: dict[str, frozenset[str]] = {m.name: frozenset(m.inputs) for m in METRICS.values()}
# the CTE that computes each part of a statement over events
PART_CTES = {"events": "event_metrics", "visits": "visit_metrics", "engagement": "engagement"}


def raw_columns_needed(q: StatsQuery) -> frozenset[str]:
    """The raw columns that q's metrics and order read. A statement computes only these: a
    panel of visitors then reads two columns of the sessions rollup instead of nine, which
    halves its time (docs/BENCHMARKS.md)."""
    fields = [*q.metrics, *(f for f, _ in q.order_by), q.metrics[0] if q.metrics else "visitors"]
    return frozenset(a for f in fields if f in METRICS for a in METRICS[f].inputs)


def unused_value(column: str) -> str:
    """A raw column's value where nothing was counted."""
    return AGGREGATES[column].empty


def aggregates(q: StatsQuery, sums: Mapping[str, str]) -> str:
    """`<sql> AS <column>` for each of `sums` that q reads, the empty value for the others."""
    needed = raw_columns_needed(q)
    return ",\n    ".join(
        f"{expr if column in needed else unused_value(column)} AS {column}"
        for column, expr in sums.items()
    )


def event_sums() -> dict[str, str]:
    """Raw columns over the matched events (CTE event_metrics)."""
    return {a.name: a.events for a in AGGREGATES.values() if a.events is not None}


def visit_sums() -> dict[str, str]:
    """Raw columns over the visits of the matched events (CTE visit_metrics)."""
    return {n: a.visits for n, a in AGGREGATES.items() if part_of(n) == "visits" and a.visits}


def row_sums(rows: str, visitors: str) -> dict[str, str]:
    """Raw columns over visit or page rows (`rows`), `visitors` counted as the plan says;
    the columns neither kind of row has are left to the final SELECT."""
    out = {"visitors": visitors}
    for name, a in AGGREGATES.items():
        if name != "visitors" and (a.visits or a.pages):
            out[name] = a.over(rows) or a.empty
    return out


def engagement_columns() -> list[tuple[str, str, str]]:
    """(raw column, per visitor and page SQL over engagement events, its name)."""
    return [(n, *a.engagement) for n, a in AGGREGATES.items() if a.engagement]


def reads_part(q: StatsQuery, part: str) -> bool:
    """Some metric of q reads a raw column computed by `part`."""
    return any(part_of(a) == part for m in q.metrics if m in METRICS for a in METRICS[m].inputs)


def total_visitors(q: StatsQuery) -> str:
    """The visitors of all groups together, for shares; a second pass, so only then."""
    if not any(
        m in METRICS and METRICS[m].denominator is Denominator.ALL_GROUPS for m in q.metrics
    ):
        return "NULL AS total_visitors"
    return "(SELECT count(DISTINCT visitor_id) FROM matched) AS total_visitors"


def rows_select(computed: Mapping[str, str]) -> str:
    """The raw columns after grouping visit or page rows: those computed, then the others'
    empty values."""
    empty = ", ".join(f"{unused_value(c)} AS {c}" for c in AGGREGATES if c not in computed)
    names = ", ".join(c for c in AGGREGATES if c in computed)
    return f"{names},\n  {empty}" if empty else names


def final_select(keys: list[str], ctes: list[str]) -> tuple[str, str]:
    """event_metrics FULL JOIN the other parts' CTEs on every key; missing numbers become
    their empty value. Returns (SELECT list, FROM clause)."""
    sources = [PART_CTES["events"], *ctes]
    key_cols = [f"coalesce({', '.join(f'{s}.{k}' for s in sources)}) AS {k}" for k in keys]
    cols = []
    for column in AGGREGATES:
        cte = PART_CTES[part_of(column)]
        if cte in sources:
            cols.append(f"coalesce({cte}.{column}, {unused_value(column)}) AS {column}")
        else:
            cols.append(f"{unused_value(column)} AS {column}")
    join_sql = sources[0]
    for cte in ctes:
        on = " AND ".join(f"{sources[0]}.{k} = {cte}.{k}" for k in keys)
        join_sql += f" FULL OUTER JOIN {cte} ON {on}"
    return ", ".join(key_cols + cols), join_sql


def order_by(q: StatsQuery, keys: list[str]) -> str:
    """ORDER BY the asked order, else time ascending for a time series, else the first
    metric descending; then every key, so pages are stable."""
    dims = q.group_by()
    if not dims:
        return ""
    terms = []
    for field_name, direction in q.order_by:
        if field_name in dims:
            terms.append(f"{keys[dims.index(field_name)]} {direction.upper()}")
        elif field_name in METRICS:
            terms.append(f"{METRICS[field_name].order} {direction.upper()} NULLS LAST")
    if not terms:
        time_keys = [keys[i] for i, d in enumerate(dims) if d.startswith("time:")]
        if time_keys and len(time_keys) == len(dims):
            terms = [f"{k} ASC" for k in time_keys]
        else:
            first = METRICS[q.metrics[0] if q.metrics else "visitors"]
            terms = [f"{first.order} DESC NULLS LAST"]
    terms += [f"{k} ASC" for k in keys]
    return "\nORDER BY " + ", ".join(terms)


def shape_row(row: Mapping[str, Any], metrics: tuple[str, ...]) -> dict[str, Any]:
    """Raw columns → the metrics asked for (rates rounded like Plausible)."""
    return {m: METRICS[m].value(row) for m in metrics if m in METRICS}
