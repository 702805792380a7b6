"""Filters → a WHERE clause over events with their visit's attributes (`visit_events`), or
over visit or page rows, which have the same column names.

User text only ever reaches SQL as a parameter, always in a WHERE clause (the only place
Athena takes one); identifiers come from the registry. A has_done filter becomes a column
(`has_done_<n>`) that stats.parameter_ctes adds to every event of a visit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from beaconlake.stats import parameter_ctes
from beaconlake.stats.query import (
    And,
    Filter,
    FilterNode,
    Goal,
    HasDone,
    Not,
    Or,
    QueryError,
    StatsQuery,
)
from beaconlake.stats.registry import DIMENSIONS, GOAL_DIMENSION, PROP_PREFIX
from beaconlake.stats.sql.statement import Params


def filter_nodes(nodes: tuple[FilterNode, ...]) -> list[FilterNode]:
    """Every node of the trees, parents before their children."""
    out: list[FilterNode] = []
    for node in nodes:
        out.append(node)
        if isinstance(node, And | Or):
            out += filter_nodes(node.children)
        elif isinstance(node, Not | HasDone):
            out += filter_nodes((node.child,))
    return out


def dimensions_used(q: StatsQuery) -> list[str]:
    """Group keys and every filtered dimension."""
    nodes = filter_nodes(q.filters)
    return [*q.group_by(), *(n.dimension for n in nodes if isinstance(n, Filter))]


def has_done(q: StatsQuery) -> bool:
    return any(isinstance(n, HasDone) for n in filter_nodes(q.filters))


def dimension_expr(dimension: str) -> tuple[str, Params]:
    """SQL for a dimension (from the registry) and its parameters (a props key)."""
    if dimension.startswith(PROP_PREFIX):
        return "element_at(props, ?)", (dimension[len(PROP_PREFIX) :],)
    return DIMENSIONS[dimension].column, ()


def like_pattern(path: str) -> str:
    """A goal/funnel path with `*` wildcards → a LIKE pattern (ESCAPE '\\')."""
    escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def goal_condition(goal: Goal) -> tuple[str, Params]:
    if goal.event is not None:
        return "name = ?", (goal.event,)
    return "(name = 'pageview' AND pathname LIKE ? ESCAPE '\\')", (like_pattern(goal.page or ""),)


def _goal_filter(f: Filter, goals: tuple[Goal, ...]) -> tuple[str, Params]:
    by_name = {g.name: g for g in goals}
    if f.operator.startswith("contains"):  # the goals whose name holds a value, any case
        names = [g.name for g in goals if any(v.lower() in g.name.lower() for v in f.values)]
        if not names:
            return "false", ()
    else:
        unknown = [v for v in f.values if v not in by_name]
        if unknown:
            raise QueryError("filters", f"unknown goal {unknown[0]!r} for this site")
        names = list(f.values)
    parts: list[str] = []
    args: Params = ()
    for value in names:
        sql, a = goal_condition(by_name[value])
        parts.append(sql)
        args += a
    return "(" + " OR ".join(parts) + ")", args


def _any_of(template: str, count: int) -> str:
    return "(" + " OR ".join(template for _ in range(count)) + ")"


def _leaf_sql(f: Filter, goals: tuple[Goal, ...]) -> tuple[str, Params]:
    if f.dimension == GOAL_DIMENSION:
        sql, args = _goal_filter(f, goals)
    else:
        expr, params = dimension_expr(f.dimension)
        if f.operator in ("is", "is_not"):
            sql = f"coalesce({expr} IN ({', '.join('?' for _ in f.values)}), false)"
            args = params + tuple(f.values)
        elif f.operator in ("contains", "contains_not"):
            sql = _any_of(f"strpos(lower(coalesce({expr}, '')), ?) > 0", len(f.values))
            args = tuple(a for v in f.values for a in (*params, v.lower()))
        else:
            sql = _any_of(f"coalesce(regexp_like({expr}, ?), false)", len(f.values))
            args = tuple(a for v in f.values for a in (*params, v))
    if f.operator.endswith("_not"):
        sql = f"NOT {sql}"
    return sql, args


@dataclass
class FilterCompiler:
    """Filter tree → a WHERE clause, plus one HasDoneFlag per has_done node (the caller adds
    their CTEs: parameter_ctes.flagged_ctes)."""

    goals: tuple[Goal, ...]
    flags: list[parameter_ctes.HasDoneFlag] = field(default_factory=list)

    def compile(self, node: FilterNode) -> tuple[str, Params]:
        if isinstance(node, Filter):
            return _leaf_sql(node, self.goals)
        if isinstance(node, And | Or):
            if not node.children:
                return "true", ()
            joiner = " AND " if isinstance(node, And) else " OR "
            parts = [self.compile(c) for c in node.children]
            return "(" + joiner.join(p for p, _ in parts) + ")", tuple(
                a for _, args in parts for a in args
            )
        if isinstance(node, Not):
            sql, args = self.compile(node.child)
            return f"NOT {sql}", args
        inner, args = FilterCompiler(self.goals).compile(node.child)
        name = f"has_done_{len(self.flags)}"
        self.flags.append(parameter_ctes.HasDoneFlag(name, inner, args))
        return (f"{name} = 0" if node.negated else f"{name} = 1"), ()


def where(q: StatsQuery) -> tuple[str, Params]:
    """The WHERE clause of q's filters, for rows without has_done flags."""
    return FilterCompiler(q.goals).compile(And(q.filters))


def without_goal_filters(filters: tuple[FilterNode, ...]) -> tuple[FilterNode, ...]:
    """The top-level filters that are neither on goals nor on custom properties (which
    narrow the conversions: Plausible's conversion rates leave out both)."""
    return tuple(
        f
        for f in filters
        if not (
            isinstance(f, Filter)
            and (f.dimension == GOAL_DIMENSION or f.dimension.startswith(PROP_PREFIX))
        )
    )
