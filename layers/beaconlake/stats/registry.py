"""Every metric and dimension of the stats API, each defined once, in one record.

An `Aggregate` is one raw column of every stats statement: its SQL over each kind of row
that can compute it. A `Metric` names the aggregates it reads and says how a row of them
becomes its value, how it orders and how a change is shown. A `Dimension` says where its
value comes from and what it is fixed for. Derived from these tables, never written again:
the SQL builders (`beaconlake.stats.sql`), the validators and name lists (`stats.query`,
`stats.query_parser`), the OpenAPI enums, the dashboard's headings and the tables in
docs/QUERY_API.md (`stats.registry_docs`).

The kinds of record and what their fields mean: `stats.registry_types`.

`registered` adds records for a while (tests). The rollups' columns (`stats.sql.sessions`)
are fixed when that module is imported: a dimension registered later is answered from
events, exactly, but never from a rollup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from beaconlake.stats import registry_values as values
from beaconlake.stats.channels import source_sql
from beaconlake.stats.registry_types import (
    ALL_PANELS,
    Aggregate,
    Change,
    Denominator,
    Dimension,
    Metric,
    Panel,
    Scope,
    Source,
)

PROP_PREFIX = "event:props:"
GOAL_DIMENSION = "event:goal"
INTERVALS = ("hour", "day", "week", "month")


# ---- metrics ------------------------------------------------------------------------------


_AGGREGATES = (
    Aggregate("visitors", events="count(DISTINCT visitor_id)"),
    Aggregate(
        "pageviews",
        events="count(*) FILTER (WHERE name = 'pageview')",
        visits="sum(pageviews)",
        pages="sum(pageviews)",
    ),
    Aggregate(
        "events",
        events="count(*) FILTER (WHERE name <> 'engagement')",
        visits="sum(events)",
        pages="sum(events)",
    ),
    Aggregate("visits", visits="count(*)"),
    Aggregate("bounces", visits="count(*) FILTER (WHERE pageviews = 1 AND interactions = 0)"),
    Aggregate("session_pageviews", visits="sum(pageviews)"),
    Aggregate("duration_ms", visits="sum(date_diff('millisecond', started, ended))"),
    Aggregate(
        "revenue_sum",
        events="sum(revenue_amount)",
        visits="sum(revenue_sum)",
        pages="sum(revenue_sum)",
        empty="NULL",
    ),
    Aggregate(
        "revenue_count",
        events="count(revenue_amount)",
        visits="sum(revenue_count)",
        pages="sum(revenue_count)",
    ),
    Aggregate("scroll_depth_avg", engagement=("max(scroll_depth)", "depth"), empty="NULL"),
    Aggregate("engaged_ms_avg", engagement=("sum(engaged_ms)", "engaged"), empty="NULL"),
)

_P = Panel
_REVENUE = (_P.TOTALS, _P.PAGES, _P.GOALS, _P.VISITS, _P.EVENTS)
_CONVERSIONS = "unique conversions: the visitors with a matched event"

_METRICS = (
    Metric(
        "visitors",
        "unique visitors (a visitor id lives one UTC day)",
        ("visitors",),
        values.count("visitors"),
        "visitors",
        "Visitors",
        v1=True,
        with_goal_filter=_CONVERSIONS,
        panels=ALL_PANELS,
        goal_panels=ALL_PANELS,
    ),
    Metric(
        "pageviews",
        "pageview events",
        ("pageviews",),
        values.count("pageviews"),
        "pageviews",
        "Pageviews",
        v1=True,
        with_goal_filter="the matched pageviews: a page goal's conversions, 0 for a custom event's",
        panels=(_P.TOTALS, _P.PAGES),
    ),
    Metric(
        "events",
        "events of any kind but engagement",
        ("events",),
        values.count("events"),
        "events",
        "Events",
        v1=True,
        with_goal_filter="total conversions: the matched events",
        panels=(_P.GOALS, _P.EVENTS),
        goal_panels=(_P.TOTALS, _P.GOALS, _P.EVENTS),
    ),
    Metric(
        "visits",
        "visits (sessions: a visitor's events with gaps under 30 minutes)",
        ("visits",),
        values.count("visits"),
        "visits",
        "Visits",
        v1=True,
        panels=(_P.TOTALS, _P.VISITS),
    ),
    Metric(
        "bounce_rate",
        "percent of visits with one pageview and no interactive custom event",
        ("bounces", "visits"),
        values.bounce_rate,
        values.per_visit("bounces"),
        "Bounce",
        Change.POINTS,
        v1=True,
        panels=(_P.TOTALS, _P.PAGES, _P.VISITS),
    ),
    Metric(
        "visit_duration",
        "mean seconds from a visit's first to its last event",
        ("duration_ms", "visits"),
        values.visit_duration,
        values.per_visit("duration_ms"),
        "Visit duration",
        v1=True,
        panels=(_P.TOTALS, _P.VISITS),
    ),
    Metric(
        "views_per_visit",
        "mean pageviews per visit",
        ("session_pageviews", "visits"),
        values.views_per_visit,
        values.per_visit("session_pageviews"),
        "Views per visit",
        v1=True,
        panels=(_P.TOTALS,),
    ),
    Metric(
        "percentage",
        "share of all groups' visitors, in percent (needs a dimension)",
        ("visitors",),
        values.share_of(Denominator.ALL_GROUPS),
        "visitors",
        "Share",
        Change.POINTS,
        denominator=Denominator.ALL_GROUPS,
        with_goal_filter="share of all groups' unique conversions",
        panels=(_P.PAGES, _P.VISITS, _P.EVENTS),
    ),
    Metric(
        "conversion_rate",
        "goal visitors ÷ visitors of the same query without its dimensions and its goal and "
        "property filters, in percent (needs `event:goal` as dimension or filter; v1 too)",
        ("visitors",),
        values.share_of(Denominator.WITHOUT_GOALS),
        "visitors",
        "CR",
        Change.POINTS,
        denominator=Denominator.WITHOUT_GOALS,
        with_goal_filter="unique conversions ÷ visitors without the goal filter",
        panels=(_P.GOALS,),
        goal_panels=(_P.TOTALS, _P.GOALS),
    ),
    Metric(
        "group_conversion_rate",
        "a group's goal visitors ÷ the same group's visitors without the goal and property "
        "filters, in percent (needs an `event:goal` filter and a dimension other than "
        "`event:goal`)",
        ("visitors",),
        values.share_of(Denominator.GROUP_WITHOUT_GOALS),
        "CAST(visitors AS double) / nullif(group_base_visitors, 0)",
        "CR",
        Change.POINTS,
        denominator=Denominator.GROUP_WITHOUT_GOALS,
        with_goal_filter="the group's unique conversions ÷ its visitors without the goal filter",
        goal_panels=(_P.PAGES, _P.VISITS, _P.EVENTS),
    ),
    Metric(
        "total_revenue",
        "sum of the matched events' `revenue` (one currency per site is assumed)",
        ("revenue_sum",),
        values.total_revenue,
        "revenue_sum",
        "Revenue",
        with_goal_filter="revenue of the conversions",
        panels=(_P.PAGES, _P.GOALS),
        goal_panels=_REVENUE,
    ),
    Metric(
        "average_revenue",
        "mean `revenue` of the matched events that carry one",
        ("revenue_sum", "revenue_count"),
        values.average_revenue,
        "CAST(revenue_sum AS double) / nullif(revenue_count, 0)",
        "Average revenue",
        with_goal_filter="mean revenue of the conversions that carry one",
        panels=(_P.PAGES, _P.GOALS),
        goal_panels=_REVENUE,
    ),
    Metric(
        "scroll_depth",
        "mean over visitor and page of the deepest scroll, percent",
        ("scroll_depth_avg",),
        values.scroll_depth,
        "scroll_depth_avg",
        "Scroll depth",
        Change.POINTS,
        panels=(_P.PAGES,),
    ),
    Metric(
        "time_on_page",
        "mean engaged seconds per visitor and page",
        ("engaged_ms_avg",),
        values.time_on_page,
        "engaged_ms_avg",
        "Time on page",
        panels=(_P.PAGES,),
    ),
)

# ---- dimensions ---------------------------------------------------------------------------


def _event(name: str, column: str, doc: str, label: str, scope: Scope = Scope.EVENT) -> Dimension:
    return Dimension(name, column, name.split(":")[-1], Source.EVENT, scope, doc, label)


def _first_of(name: str, column: str, doc: str, label: str) -> Dimension:
    key = name.split(":")[-1]
    return Dimension(name, f"s_{key}", key, Source.VISIT, Scope.VISIT, doc, label, column)


def _utm(tag: str) -> Dimension:
    label = f"UTM {tag.removeprefix('utm_')}"
    return _first_of(f"visit:{tag}", tag, f"the `{tag}` parameter of the page URL", label)


def _visitor(name: str, column: str, doc: str, label: str, privacy: str) -> Dimension:
    key = name.split(":")[-1]
    return Dimension(name, column, key, Source.EVENT, Scope.VISITOR, doc, label, privacy=privacy)


_UA = "parsed from the User-Agent, which is then dropped"
_DIMENSIONS = (
    _event("event:page", "pathname", "the page's path", "Page"),
    _event("event:hostname", "hostname", "the page's host", "Hostname"),
    _event("event:name", "name", "`pageview`, `engagement` or a custom event's name", "Event"),
    Dimension(
        "visit:entry_page",
        "s_entry_page",
        "entry_page",
        Source.VISIT,
        Scope.VISIT,
        "the path of the visit's first pageview",
        "Entry page",
    ),
    Dimension(
        "visit:exit_page",
        "s_exit_page",
        "exit_page",
        Source.VISIT,
        Scope.VISIT,
        "the path of the visit's last pageview",
        "Exit page",
    ),
    Dimension(
        "visit:source",
        "s_source",
        "source",
        Source.VISIT,
        Scope.VISIT,
        "where the visit came from: a known source's name (data/referrer_sources.json, for "
        "any spelling of `utm_source` too), else `utm_source` or the referrer's host; "
        "`Direct / None` for neither",
        "Source",
        "referrer_source",
        first_sql=source_sql("referrer_source"),
        origin="the visit's first event's `referrer_source`, named by the source table",
    ),
    _first_of("visit:referrer", "referrer", "the referrer URL, no query or fragment", "Referrer"),
    *(_utm(tag) for tag in ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")),
    _visitor("visit:device", "device", "desktop, mobile, tablet or other", "Device", _UA),
    _visitor("visit:browser", "browser", "browser family", "Browser", _UA),
    _visitor("visit:browser_version", "browser_version", "major.minor", "Browser version", _UA),
    _visitor("visit:os", "os", "operating system family", "OS", _UA),
    _visitor("visit:os_version", "os_version", "major.minor", "OS version", _UA),
    _visitor(
        "visit:country",
        "country",
        "ISO 3166-1 alpha-2 code",
        "Country",
        "from CloudFront's viewer-country header, or locally a GeoIP table that ships with the "
        "package; the IP is dropped after the look-up",
    ),
    Dimension(
        "visit:channel",
        "s_channel",
        "channel",
        Source.VISIT,
        Scope.VISIT,
        "the visit's source and `utm_medium` classified by data/channels.json",
        "Channel",
    ),
    Dimension(
        "visit:language",
        "language",
        "language",
        Source.EVENT,
        Scope.EVENT,
        "the browser's preferred language, its primary subtag (`de` for `de-CH`)",
        "Language",
        privacy="a coarse attribute stored per event (Accept-Language reduced to its primary "
        "subtag), not part of the visitor hash",
    ),
)
_SPECIAL_DIMENSIONS = (
    Dimension(
        GOAL_DIMENSION, "", "goal", Source.GOAL, Scope.EVENT, "the site's goals it matches", "Goal"
    ),
    Dimension(
        f"{PROP_PREFIX}<key>",
        "",
        "<key>",
        Source.PROPS,
        Scope.EVENT,
        "the event's custom property `<key>`",
        "Property",
    ),
    Dimension(
        "time",
        "",
        "date",
        Source.TIME,
        Scope.EVENT,
        "hour for one day, day up to 92 days, else month",
        "Time",
    ),
    Dimension(
        "time:hour", "", "date", Source.TIME, Scope.VISIT, "the hour (of a visit: of its start)", ""
    ),
    *(
        Dimension(
            f"time:{interval}",
            "",
            "date",
            Source.TIME,
            Scope.VISITOR,  # a visitor id lives one UTC day
            f"the {interval} (of a visit: of its start)"
            + (", named by its Monday" if interval == "week" else ""),
            "",
        )
        for interval in ("day", "week", "month")
    ),
)

# ---- the tables, and what is registered for a while -----------------------------------------

AGGREGATES: dict[str, Aggregate] = {a.name: a for a in _AGGREGATES}
METRICS: dict[str, Metric] = {m.name: m for m in _METRICS}
DIMENSIONS: dict[str, Dimension] = {d.name: d for d in (*_DIMENSIONS, *_SPECIAL_DIMENSIONS)}
BUILT_IN_DIMENSIONS: tuple[Dimension, ...] = _DIMENSIONS


def _table(item: Aggregate | Metric | Dimension) -> dict[str, Any]:
    if isinstance(item, Aggregate):
        return AGGREGATES
    return METRICS if isinstance(item, Metric) else DIMENSIONS


@contextmanager
def registered(*items: Aggregate | Metric | Dimension) -> Iterator[None]:
    """The records added for the duration (a name already taken is an error)."""
    for item in items:
        if item.name in _table(item):
            raise ValueError(f"{item.name!r} is already registered")
    _check_inputs([i for i in items if isinstance(i, Metric)], items)
    try:
        for item in items:
            _table(item)[item.name] = item
        yield
    finally:
        for item in items:
            _table(item).pop(item.name, None)


def _check_inputs(metrics: list[Metric], adding: tuple[Any, ...]) -> None:
    """A metric reads only aggregates that exist."""
    names = set(AGGREGATES) | {a.name for a in adding if isinstance(a, Aggregate)}
    for metric in metrics:
        missing = set(metric.inputs) - names
        if missing:
            raise ValueError(f"metric {metric.name!r} reads unknown aggregates {sorted(missing)}")


# ---- what the rest of the code asks -------------------------------------------------------


def metric_names(v1: bool = False) -> tuple[str, ...]:
    """Every metric (API v2), or those API v1 offers."""
    return tuple(m.name for m in METRICS.values() if m.v1 or not v1)


def column_dimensions() -> tuple[Dimension, ...]:
    """The dimensions that are one SQL column (not time, goals or props)."""
    kinds = (Source.EVENT, Source.VISIT)
    return tuple(d for d in DIMENSIONS.values() if d.source in kinds)


def dimension_names() -> tuple[str, ...]:
    """Every named dimension of API v2 (custom properties are `event:props:<key>`)."""
    return tuple(d for d in DIMENSIONS if not d.startswith(PROP_PREFIX))


def time_dimensions() -> tuple[str, ...]:
    return tuple(d.name for d in DIMENSIONS.values() if d.source is Source.TIME)


def visit_metrics() -> tuple[str, ...]:
    """Metrics that count visits: each visit counts once per group, whichever of its events
    matched, so an event dimension (a visit has many events) cannot split them."""
    return tuple(m.name for m in METRICS.values() if any(part_of(a) == "visits" for a in m.inputs))


def part_of(aggregate: str) -> str:
    """Which part of a statement over events computes the aggregate: 'events' (over the
    matched events), 'visits' (over their visits) or 'engagement'."""
    a = AGGREGATES[aggregate]
    return "events" if a.events else "visits" if a.visits else "engagement"


class ColumnTable(Mapping[str, tuple[str, str]]):
    """dimension → (its SQL column, its v1 key), for the column dimensions, as registered
    now (stats.query.DIMENSIONS)."""

    def __getitem__(self, name: str) -> tuple[str, str]:
        d = DIMENSIONS[name]
        if d.source not in (Source.EVENT, Source.VISIT):
            raise KeyError(name)
        return d.column, d.key

    def __iter__(self) -> Iterator[str]:
        return (d.name for d in column_dimensions())

    def __len__(self) -> int:
        return len(column_dimensions())


def names_schema(kind: str, **extra: Any) -> Callable[[dict[str, Any]], None]:
    """A pydantic `json_schema_extra` for a list of metric names (`kind` 'metrics') or of
    dimensions ('dimensions', which may also be `event:props:<key>`): `extra`, and the enum
    of the names registered when the OpenAPI document is made."""

    def schema_extra(schema: dict[str, Any]) -> None:
        schema.update(extra)
        if kind == "metrics":
            schema["items"] = {"type": "string", "enum": list(metric_names())}
            return
        named = {"type": "string", "enum": list(dimension_names())}
        schema["items"] = {"anyOf": [named, {"type": "string", "pattern": f"^{PROP_PREFIX}.+$"}]}

    return schema_extra


def goal_filter_metrics() -> tuple[str, ...]:
    """The metrics an `event:goal` filter allows: those that count conversions."""
    return tuple(m.name for m in METRICS.values() if m.with_goal_filter is not None)


def dashboard_panels() -> dict[str, dict[str, list[str]]]:
    """Per dashboard panel, the metrics it may ask for: `metrics` without a goal filter,
    `with_goal_filter` under one (conversions instead of visits)."""
    return {
        panel.value: {
            "metrics": [m.name for m in METRICS.values() if panel in m.panels],
            "with_goal_filter": [m.name for m in METRICS.values() if panel in m.goal_panels],
        }
        for panel in Panel
    }


def dashboard_names() -> dict[str, Any]:
    """The dashboard's column headings and dimension names, and the metrics each panel may
    ask for (`dashboard_panels`)."""
    return {
        "metrics": {m.name: m.heading for m in METRICS.values()},
        "dimensions": {d.name: d.label for d in DIMENSIONS.values() if d.label},
        "panels": dashboard_panels(),
        # shown in percent, and compared in points (now - before)
        "points": [m.name for m in METRICS.values() if m.change is Change.POINTS],
    }
