"""The v2 query body (Plausible's Stats API v2, plus comparisons) and the one validator every
stats entry point goes through: `/api/v2/query`, the v1 routes (translated onto this body by
`beaconlake.stats.legacy`), the behaviour views' filters and the dashboard.

`QueryBody` is the body's exact form, for FastAPI and the OpenAPI document. Each field is read
by the rule that checks it, in declaration order, so a field sees the ones before it (the
range sees `date`; `order_by` sees metrics and dimensions): a rule of the query answers a 400
`QueryError` naming the field and the rule; a body not of the documented form (a missing or
unknown field, a value of the wrong type) a 422 in the same shape (`validation_error`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from typing_extensions import TypeAliasType

from beaconlake.stats import registry
from beaconlake.stats.limits import LIMITS
from beaconlake.stats.query import (
    FILTER_CONNECTIVES,
    FILTER_OPERATORS,
    FILTER_WRAPPERS,
    GOAL_DIMENSION,
    SESSION_METRICS,
    TIME_DIMENSIONS,
    And,
    DateRange,
    Filter,
    FilterConnective,
    FilterNode,
    FilterOperator,
    FilterWrapper,
    Goal,
    HasDone,
    Not,
    Or,
    QueryError,
    RelativeRange,
    StatsQuery,
    check_depth,
    check_dimension,
    check_filters,
    check_values,
    parse_date_range,
    parse_day,
)
from beaconlake.stats.regex_guard import check_regex

MAX_DIMENSIONS = 4
# event:goal filters: by the goals' names, or by a part of them (any case)
GOAL_OPERATORS = ("is", "is_not", "contains", "contains_not")
MAX_ROWS = 10_000
MAX_OFFSET = 1_000_000
ComparisonMode = Literal["previous_period", "year_over_year", "custom"]
COMPARISON_MODES: tuple[str, ...] = get_args(ComparisonMode)


def one_of(values: Sequence[str]) -> Any:
    """`Literal[...]` of names known only at run time, for the OpenAPI document's enums."""
    return Literal.__getitem__(tuple(values))


# ---- the wire forms (what the OpenAPI document shows) --------------------------------------

FilterTree: Any = TypeAliasType(
    "FilterTree",
    tuple[FilterOperator, str, list[str]]
    | tuple[FilterOperator, str, list[str], dict[str, Any]]
    | tuple[FilterConnective, list["FilterTree"]]  # type: ignore[misc]  # recursive: for
    | tuple[FilterWrapper, "FilterTree"],  # type: ignore[misc]  # Pydantic, not for mypy
)
DateRangeValue: Any = TypeAliasType(
    "DateRangeValue",
    RelativeRange | Annotated[list[str], Field(min_length=2, max_length=2)],
)


# ---- the rules, one per field ----------------------------------------------------------------


def today_of(info: ValidationInfo) -> date | None:
    """The reference day: the body's `date`, else the caller's `today` context, else None
    (today, in the site's zone: DateRange.in_zone)."""
    given = info.data.get("date") or (info.context or {}).get("today")
    return given if isinstance(given, date) else None


def _ref_day(value: Any) -> date | None:
    return None if value is None else parse_day(value, "date")


def _date_range(value: Any, info: ValidationInfo) -> DateRange:
    return parse_date_range(value, today_of(info))


def _metrics(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise QueryError("metrics", "metrics must be a non-empty list")
    for i, m in enumerate(value):
        if not isinstance(m, str) or m not in registry.METRICS:
            names = ", ".join(registry.metric_names())
            raise QueryError(f"metrics[{i}]", f"unknown metric {m!r}; use any of {names}")
    if len(set(value)) != len(value):
        raise QueryError("metrics", "a metric is listed twice")
    return tuple(value)


def _auto_interval(r: DateRange) -> str:
    days = (r.last - r.first).days + 1
    return "hour" if days <= 1 else "day" if days <= 92 else "month"


def _dimension(dim: Any, path: str) -> str:
    if not isinstance(dim, str):
        raise QueryError(path, "dimensions are strings")
    if dim in TIME_DIMENSIONS or dim == GOAL_DIMENSION:
        return dim
    try:
        return check_dimension(dim)
    except QueryError as exc:
        raise QueryError(path, exc.message, exc.rule) from None


def _dimensions(value: Any, info: ValidationInfo) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_DIMENSIONS:
        raise QueryError("dimensions", f"dimensions must be a list of at most {MAX_DIMENSIONS}")
    dims = [_dimension(d, f"dimensions[{i}]") for i, d in enumerate(value)]
    if "time" in dims and isinstance(info.data.get("date_range"), DateRange):
        auto = f"time:{_auto_interval(info.data['date_range'])}"
        dims = [auto if d == "time" else d for d in dims]
    return tuple(dims)


def parse_filter(raw: Any, path: str, depth: int = 1, in_has_done: bool = False) -> FilterNode:
    """One filter (tree) of a v2 body; deeper than LIMITS.depth is a 400 before any recursion
    could run out of stack, here or in the SQL builder."""
    check_depth(depth, path)
    if not isinstance(raw, list) or not raw or not isinstance(raw[0], str):
        raise QueryError(path, "a filter is [operator, dimension, [values]] or [and|or, [...]]")
    op = raw[0]
    if op in FILTER_CONNECTIVES:
        if len(raw) != 2 or not isinstance(raw[1], list) or not raw[1]:
            raise QueryError(path, f"{op} takes a non-empty list of filters")
        children = tuple(
            parse_filter(c, f"{path}[1][{i}]", depth + 1, in_has_done) for i, c in enumerate(raw[1])
        )
        return And(children) if op == "and" else Or(children)
    if op in FILTER_WRAPPERS:
        if len(raw) != 2:
            raise QueryError(path, f"{op} takes exactly one filter")
        if op != "not" and in_has_done:
            raise QueryError(
                path, f"{op} cannot be used inside has_done or has_not_done", "has_done_nested"
            )
        child = parse_filter(raw[1], f"{path}[1]", depth + 1, in_has_done or op != "not")
        return Not(child) if op == "not" else HasDone(child, negated=op == "has_not_done")
    if op not in FILTER_OPERATORS:
        raise QueryError(path, f"unknown filter operator {op!r}")
    if len(raw) not in (3, 4) or not isinstance(raw[1], str) or not isinstance(raw[2], list):
        raise QueryError(path, f"{op} takes a dimension and a list of values")
    dimension = raw[1]
    if dimension != GOAL_DIMENSION:
        try:
            check_dimension(dimension)
        except QueryError as exc:
            raise QueryError(f"{path}[1]", exc.message, exc.rule) from None
    values = tuple(raw[2])
    if not values or not all(isinstance(v, str) for v in values):
        raise QueryError(f"{path}[2]", "values must be a non-empty list of strings")
    check_values(values, f"{path}[2]")
    if dimension == GOAL_DIMENSION and op not in GOAL_OPERATORS:
        raise QueryError(path, f"event:goal can only be filtered with {' / '.join(GOAL_OPERATORS)}")
    if op.startswith("matches"):
        for v in values:
            try:
                check_regex(v)
            except QueryError as exc:
                raise QueryError(f"{path}[2]", exc.message, exc.rule or "regex") from None
    return Filter(dimension, op, values)


def parse_filters(raw: Any) -> tuple[FilterNode, ...]:
    """A body's `filters`, within the query limits (count, values, depth, text)."""
    if not isinstance(raw, list):
        raise QueryError("filters", "filters must be a list")
    if len(raw) > LIMITS.filters:
        raise QueryError("filters", f"a query has at most {LIMITS.filters} filters", "max_filters")
    filters = tuple(parse_filter(f, f"filters[{i}]") for i, f in enumerate(raw))
    check_filters(filters)
    return filters


def _order_by(value: Any, info: ValidationInfo) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        raise QueryError("order_by", "order_by is a list of [metric or dimension, asc|desc]")
    known = (*info.data.get("metrics", ()), *info.data.get("dimensions", ()))
    out = []
    for i, item in enumerate(value):
        ok = isinstance(item, list) and len(item) == 2 and item[1] in ("asc", "desc")
        if not ok or item[0] not in known:
            raise QueryError(
                f"order_by[{i}]", "each entry is [a queried metric or dimension, 'asc' or 'desc']"
            )
        out.append((item[0], item[1]))
    return tuple(out)


def _range_text(value: Any) -> str | list[str] | None:
    """A comparison's custom range, kept as written: it is read against the reference day
    when the comparison is run (`query_runner.comparison_range`)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return value
    raise QueryError(
        "include.comparisons.date_range", "a relative range like '30d' or a pair [from, to]"
    )


def _nothing(value: Any) -> Any:  # the body's shape is checked by its own rule
    return value


# ---- the body ------------------------------------------------------------------------------

SiteId = Annotated[str, Field(min_length=1, max_length=253, description="The site's domain")]
RefDay = Annotated[
    date | None,
    PlainValidator(_ref_day, json_schema_input_type=date | None),
    Field(description="Reference day for relative ranges (UTC); default today"),
]
DateRangeField = Annotated[
    DateRange,
    PlainValidator(_date_range, json_schema_input_type=DateRangeValue),
    Field(
        validate_default=True,
        description="'day', '7d', '28d', '30d', '91d', 'month', '6mo', '12mo', 'year', 'all', "
        "or [from, to]: days (2026-01-31) or ISO 8601 times, the end included",
    ),
]
FiltersField = Annotated[
    tuple[FilterNode, ...],
    PlainValidator(parse_filters, json_schema_input_type=list[FilterTree]),
    Field(
        description=f"At most {LIMITS.filters} leaf filters, {LIMITS.values} values and "
        f"{LIMITS.depth} levels (docs/SECURITY.md)"
    ),
]


class Comparisons(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: ComparisonMode
    date_range: Annotated[
        str | list[str] | None,
        PlainValidator(_range_text, json_schema_input_type=DateRangeValue | None),
        Field(description="With mode 'custom': the range to compare with"),
    ] = None


class Include(BaseModel):
    """What to add to the answer: `meta.total_rows`, `meta.time_labels`, comparisons."""

    model_config = ConfigDict(extra="forbid")

    total_rows: bool = False
    time_labels: bool = False
    comparisons: Comparisons | None = None


class Pagination(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=MAX_ROWS, ge=1, le=MAX_ROWS)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class QueryBody(BaseModel):
    """Plausible's Stats API v2 query; see docs/QUERY_API.md for every field."""

    model_config = ConfigDict(extra="forbid")

    site_id: SiteId
    date: RefDay = None
    date_range: DateRangeField = "30d"  # type: ignore[assignment]
    metrics: Annotated[
        tuple[str, ...],
        PlainValidator(_metrics, json_schema_input_type=list[str]),
        Field(json_schema_extra=registry.names_schema("metrics", minItems=1, uniqueItems=True)),
    ]
    dimensions: Annotated[
        tuple[str, ...],
        PlainValidator(_dimensions, json_schema_input_type=list[str]),
        Field(
            json_schema_extra=registry.names_schema("dimensions", maxItems=MAX_DIMENSIONS),
            description="visit:…, event:…, event:props:<key>, event:goal, time or time:<interval>",
        ),
    ] = ()
    filters: FiltersField = ()
    order_by: Annotated[
        tuple[tuple[str, str], ...],
        PlainValidator(_order_by, json_schema_input_type=list[tuple[str, Literal["asc", "desc"]]]),
        Field(description="[a queried metric or dimension, 'asc' or 'desc'], …"),
    ] = ()
    include: Include = Field(default_factory=Include)
    pagination: Pagination = Field(default_factory=Pagination)

    @model_validator(mode="after")
    def _combinations(self) -> QueryBody:
        check_combinations(self.metrics, self.dimensions, self.filters)
        return self


def goal_filtered(filters: Sequence[FilterNode]) -> bool:
    """Some filter is on event:goal (outside has_done / has_not_done, which choose visits):
    then the matched events are conversions."""

    def walk(node: FilterNode) -> bool:
        if isinstance(node, Filter):
            return node.dimension == GOAL_DIMENSION
        if isinstance(node, And | Or):
            return any(walk(c) for c in node.children)
        return isinstance(node, Not) and walk(node.child)

    return any(walk(f) for f in filters)


def check_goal_metrics(metrics: Sequence[str], dims: Sequence[str], goal_filter: bool) -> None:
    """Conversion metrics (Plausible's rules): under an event:goal filter only the metrics
    that count conversions (`registry.goal_filter_metrics`); the conversion rates need a
    goal, and a group's needs a group."""
    if goal_filter:
        refused = [m for m in metrics if registry.METRICS[m].with_goal_filter is None]
        if refused:
            allowed = ", ".join(registry.goal_filter_metrics())
            raise QueryError(
                "metrics",
                f"{', '.join(refused)} cannot be queried with an event:goal filter: the filter "
                "keeps the conversions, not whole visits or pages. Use any of " + allowed,
                "goal_filter",
            )
    if "conversion_rate" in metrics and GOAL_DIMENSION not in dims and not goal_filter:
        raise QueryError(
            "metrics", "conversion_rate needs an event:goal dimension or goal filter", "goal"
        )
    if "group_conversion_rate" in metrics:
        groups = [d for d in dims if d != GOAL_DIMENSION]
        if not goal_filter or GOAL_DIMENSION in dims or not groups:
            raise QueryError(
                "metrics",
                "group_conversion_rate needs an event:goal filter and a dimension other than "
                "event:goal (by goal, use conversion_rate)",
                "goal",
            )


def check_combinations(
    metrics: Sequence[str], dims: Sequence[str], filters: Sequence[FilterNode]
) -> None:
    """Metrics the dimensions can answer. Session metrics need a visit per row: an event
    dimension other than event:page splits a visit (Plausible: "Mixing session metrics …
    with event dimensions is not allowed")."""
    check_goal_metrics(metrics, dims, goal_filtered(filters))
    session = [m for m in metrics if m in SESSION_METRICS]
    event_dims = [d for d in dims if d.startswith("event:") and d != "event:page"]
    if session and event_dims:
        raise QueryError(
            "metrics",
            f"session metrics ({', '.join(session)}) cannot be broken down by {event_dims[0]}: "
            "a visit has many events. Use visitors, events or pageviews, or filter instead.",
        )
    if "percentage" in metrics and not dims:
        raise QueryError("metrics", "percentage needs at least one dimension")
    if sum(d in TIME_DIMENSIONS for d in dims) > 1:
        raise QueryError("dimensions", "use at most one time dimension")


def stats_query(body: QueryBody, goals: tuple[Goal, ...], timezone: str = "UTC") -> StatsQuery:
    """A checked body, the site's goals and time zone → the query the SQL is built from."""
    return StatsQuery(
        site_id=body.site_id.strip().lower(),
        date_range=body.date_range.in_zone(timezone, body.date),
        metrics=body.metrics,
        filters=body.filters,
        dimensions=body.dimensions,
        order_by=body.order_by,
        limit=body.pagination.limit,
        offset=body.pagination.offset,
        goals=goals,
    )


# ---- errors --------------------------------------------------------------------------------

# Pydantic's error types → the rule named in the answer
RULES = {
    "missing": "required",
    "extra_forbidden": "unknown_field",
    "literal_error": "choice",
    "greater_than_equal": "min",
    "greater_than": "min",
    "less_than_equal": "max",
    "less_than": "max",
    "too_short": "min_items",
    "too_long": "max_items",
    "string_too_short": "min_chars",
    "string_too_long": "max_chars",
    "json_invalid": "json",
}
_WHERE = ("body", "query", "path", "header", "cookie")


def field_path(loc: Sequence[Any]) -> str:
    """("filters", 0, 1) → "filters[0][1]"; ("include", "comparisons", "mode") → dotted."""
    out = ""
    for i, part in enumerate(loc):
        if i == 0 and part in _WHERE:
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def validation_error(errors: Sequence[Mapping[str, Any]]) -> tuple[int, QueryError]:
    """The first of Pydantic's errors as the answer every stats endpoint gives: a rule of the
    query (a QueryError from the field's rule) is a 400; a body not of the documented form
    (missing or unknown field, wrong type, outside a declared bound) a 422. Both are
    `{"error", "field", "rule"}`."""
    first = errors[0] if errors else {}
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, QueryError):
        return 400, cause
    field_name = field_path(first.get("loc", ())) or "body"
    kind = str(first.get("type", "invalid"))
    message = f"{field_name}: {first.get('msg', 'invalid')}"
    return 422, QueryError(field_name, message, RULES.get(kind, kind.removesuffix("_type")))


def checked(model: type[BaseModel], raw: Any, today: date | None = None) -> Any:
    """`raw` read as `model` (QueryBody, a behaviour body …), a QueryError if it is not one:
    for callers that are not FastAPI routes (the v1 translation, tests)."""
    try:
        return model.model_validate(raw, context={"today": today} if today else None)
    except ValidationError as exc:
        raise validation_error(exc.errors())[1] from None


def parse_query(
    raw: Mapping[str, Any], goals_for: Mapping[str, tuple[Goal, ...]], today: date | None = None
) -> StatsQuery:
    """A v2 JSON body → StatsQuery, or a QueryError. Site access is checked by the caller."""
    body: QueryBody = checked(QueryBody, raw, today)
    return stats_query(body, goals_for.get(body.site_id.strip().lower(), ()))
