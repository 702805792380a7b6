"""What Athena (engine v3, Trino) refuses in a statement that sqlglot happily parses.

Trino's own grammar (dt-sql-parser's ANTLR parser of it, run by Node: sqlglot's athena reader
also takes `LIMIT n OFFSET m`, which Trino rejects); Athena's rule for execution parameters:
"? parameters can be placed only in the WHERE clause" (Use parameterized queries →
Considerations and limitations); and one rule of Trino's analyzer that no parser checks: a
GROUP BY name is resolved against the FROM clause's columns only, never as a SELECT-list alias
("Column 'k0' cannot be resolved", or silently a different column of the same name).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import sqlglot
from sqlglot import exp

TRINO_CHECK = Path(__file__).with_name("trino_check.mjs")
# Nodes whose clauses a `?` can sit in; the clause is the argument of the query holding it.
QUERY_NODES = (exp.Select, exp.Update, exp.Delete, exp.Insert)
CLAUSE_NAMES = {
    "expressions": "the SELECT list",
    "joins": "a JOIN",
    "from": "the FROM clause",
    "group": "GROUP BY",
    "having": "HAVING",
    "qualify": "QUALIFY",
    "order": "ORDER BY",
    "limit": "LIMIT",
    "offset": "OFFSET",
    "windows": "a WINDOW clause",
}
# Constructs worth naming on the way up from a `?` to its clause.
INSIDE_NAMES = {
    exp.Case: "CASE",
    exp.Window: "a window",
    exp.Filter: "an aggregate's FILTER",
}


def trino_syntax_errors(statements: Sequence[str]) -> list[str | None]:
    """Per statement, None or the first error of Trino's grammar (`?` is a parameter there).
    One Node process checks the whole batch."""
    if not statements:
        return []
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("the Trino grammar check needs Node 20 (`node` is not on PATH)")
    done = subprocess.run(
        [node, str(TRINO_CHECK)],
        input=json.dumps(list(statements)),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            "the Trino grammar check failed (is `npm ci` done at the repository root?): "
            + done.stderr.strip()[-2000:]
        )
    answers = json.loads(done.stdout)
    if len(answers) != len(statements):
        raise RuntimeError(f"{len(answers)} answers for {len(statements)} statements")
    return [None if a is None else str(a) for a in answers]


def _where_it_is(placeholder: exp.Placeholder) -> str | None:
    """None when the `?` is in a query's WHERE clause, else where it is instead."""
    inside: list[str] = []
    child: exp.Expr = placeholder
    parent = placeholder.parent
    while parent is not None:
        if isinstance(parent, QUERY_NODES):
            if child.arg_key == "where":
                return None
            key = child.arg_key or ""
            clause = CLAUSE_NAMES.get(key, f"the {key!r} part")
            return clause + "".join(f", inside {name}" for name in inside)
        name = next((n for t, n in INSIDE_NAMES.items() if isinstance(parent, t)), None)
        if name is not None and name not in inside:
            inside.append(name)
        child, parent = parent, parent.parent
    return "no query clause"


def parameters_outside_where(statement: str) -> list[str]:
    """One description per `?` that is not inside a WHERE clause (an aggregate's FILTER
    (WHERE …) is not one: it belongs to the expression it filters)."""
    tree = sqlglot.parse_one(statement, read="athena")
    out = []
    for placeholder in tree.find_all(exp.Placeholder):
        place = _where_it_is(placeholder)
        if place is not None:
            context = placeholder.parent if placeholder.parent is not None else placeholder
            out.append(f"? in {place}: {context.sql(dialect='athena')[:120]}")
    return out


def _grouped_aliases(statement: str) -> list[str]:
    """One description per GROUP BY name that is the alias of a computed SELECT-list item."""
    out = []
    for select in sqlglot.parse_one(statement, read="athena").find_all(exp.Select):
        group = select.args.get("group")
        computed = {
            item.alias: item.this
            for item in select.expressions
            if isinstance(item, exp.Alias)
            and not (isinstance(item.this, exp.Column) and item.this.name == item.alias)
        }
        for key in group.expressions if group else ():
            if isinstance(key, exp.Column) and not key.table and key.name in computed:
                expression = computed[key.name].sql(dialect="athena")[:80]
                out.append(f"GROUP BY {key.name} means the alias of {expression}")
    return out


def athena_violations(statements: Sequence[str]) -> list[tuple[str, str]]:
    """(statement, reason) for every rule a statement breaks; empty when Athena takes all."""
    violations: list[tuple[str, str]] = []
    for statement, error in zip(statements, trino_syntax_errors(statements), strict=True):
        if error is not None:
            violations.append((statement, f"Trino grammar: {error}"))
        try:
            outside = parameters_outside_where(statement)
            aliases = _grouped_aliases(statement)
        except sqlglot.errors.ParseError as exc:
            violations.append((statement, f"sqlglot cannot parse it as Athena SQL: {exc}"))
            continue
        violations += [(statement, f"parameter outside WHERE: {o}") for o in outside]
        violations += [(statement, f"GROUP BY a SELECT alias: {a}") for a in aliases]
    return violations


# Athena's rule for a partition key projected with the `injected` type (Athena user guide,
# "Use dynamic ID partitioning"): the query must hold at least one value for the key, and the
# values must be "literals or expressions that can be evaluated without reading any data".
# An execution parameter is neither documented nor assumed to be one: `site_id = ?` fails here.
INJECTED_MESSAGE = (
    "CONSTRAINT_VIOLATION: For the injected projected partition column {column}, the WHERE "
    "clause must contain only static equality conditions, and at least one such condition "
    "must be present."
)


def _static_equality(conjunct: exp.Expr, column: str) -> bool | None:
    """True: `column = literal` (or IN literals); False: another condition on the column;
    None: the conjunct does not read the column."""
    read = {c.name.lower() for c in conjunct.find_all(exp.Column)}
    if column not in read:
        return None
    if isinstance(conjunct, exp.EQ):
        sides = (conjunct.this, conjunct.expression)
        return any(isinstance(s, exp.Column) and s.name.lower() == column for s in sides) and any(
            isinstance(s, exp.Literal) for s in sides
        )
    if isinstance(conjunct, exp.In) and isinstance(conjunct.this, exp.Column):
        values = conjunct.expressions
        return bool(values) and all(isinstance(v, exp.Literal) for v in values)
    return False


def injected_violations(statement: str, injected: dict[str, set[str]]) -> list[str]:
    """One reason per scan of a table (name → its injected partition keys) whose WHERE does
    not pin each injected key with static equalities only (`?` is not static)."""
    tree = sqlglot.parse_one(statement, read="athena")
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    out: list[str] = []
    for source in tree.find_all(exp.Table):
        name = source.name.lower()
        if name not in injected or (name in ctes and not source.db):
            continue
        select = source.find_ancestor(exp.Select)
        where = select.args.get("where") if select is not None else None
        conjuncts = (
            []
            if where is None
            else list(where.this.flatten())
            if isinstance(where.this, exp.And)
            else [where.this]
        )
        for column in sorted(injected[name]):
            verdicts = [v for c in conjuncts if (v := _static_equality(c, column)) is not None]
            if not verdicts or not all(verdicts):
                out.append(INJECTED_MESSAGE.format(column=column))
    return out
