"""Stats SQL, written once in Athena (Trino) dialect with positional `?` parameters.

Every statement restricts site_id and dt first, so Athena prunes partitions. User text only
ever reaches SQL as a parameter, always in a WHERE clause (the only place Athena takes one;
stats.parameter_ctes has the CTEs that move them there); identifiers and literals come from
fixed tables (stats.registry), except goal names (the operator's configuration), which are
output and so inlined with sqldialect.string_literal.

The modules, in the order a query goes through them:
- `statement`: Statement, the range restriction and its parameters;
- `filters`: filters → WHERE;
- `plan`: which rows answer (visit rows, page rows or events);
- `sessions`: visits in SQL, the daily rollups and reading them beside live events;
- `metrics`: the raw columns each metric reads, ORDER BY, shaping a row into metrics;
- `builders`: one statement per query.
"""

from beaconlake.stats.sql.builders import build
from beaconlake.stats.sql.filters import FilterCompiler, goal_condition, like_pattern
from beaconlake.stats.sql.metrics import (
    METRIC_INPUTS,
    RAW_COLUMNS,
    raw_columns_needed,
    shape_row,
)
from beaconlake.stats.sql.plan import (
    answerable_from_pages,
    answerable_from_visits,
    needs_sessions,
)
from beaconlake.stats.sql.sessions import (
    FIRST_OF,
    PAGE_COLUMNS,
    PAGE_ROLLUP_TABLE,
    SESSION_ATTRS,
    SESSION_COLUMNS,
    SESSION_GAP_MS,
    SESSION_ROLLUP_TABLE,
    VISITOR_ATTRS,
    WHOLE_DAY,
    VisitorBucket,
    day_where,
    page_rollup_statement,
    page_rows,
    rollup_select,
    rollup_statement,
    session_ctes,
    sessionised_events,
    visitor_buckets,
    whole_days,
)
from beaconlake.stats.sql.statement import RANGE_WHERE, Params, Statement, range_params

__all__ = [
    "FIRST_OF",
    "METRIC_INPUTS",
    "PAGE_COLUMNS",
    "PAGE_ROLLUP_TABLE",
    "RANGE_WHERE",
    "RAW_COLUMNS",
    "SESSION_ATTRS",
    "SESSION_COLUMNS",
    "SESSION_GAP_MS",
    "SESSION_ROLLUP_TABLE",
    "VISITOR_ATTRS",
    "WHOLE_DAY",
    "FilterCompiler",
    "Params",
    "Statement",
    "VisitorBucket",
    "answerable_from_pages",
    "answerable_from_visits",
    "build",
    "day_where",
    "goal_condition",
    "like_pattern",
    "needs_sessions",
    "page_rollup_statement",
    "page_rows",
    "range_params",
    "raw_columns_needed",
    "rollup_select",
    "rollup_statement",
    "session_ctes",
    "sessionised_events",
    "shape_row",
    "visitor_buckets",
    "whole_days",
]
