"""The query plan: which rows answer a query. From the cheapest:

- visit rows (`answerable_from_visits`): one row per visit, from the sessions rollup for
  past days (or the sessions CTE), when every group key and filter is fixed per visit and
  every metric can be summed over visits;
- page rows (`answerable_from_pages`): one row per visitor and page of a day, from the pages
  rollup, for event counts by page filtered by what is fixed per visitor (the pages panel);
- events, with their visit's attributes when a key, a filter or a metric needs them
  (`needs_sessions`): two window passes and a join.

Every choice gives the same numbers (tests/integration/*_exact.py run each query four ways).
"""

from __future__ import annotations

from beaconlake.stats.query import StatsQuery
from beaconlake.stats.registry import (
    AGGREGATES,
    DIMENSIONS,
    METRICS,
    Dimension,
    Scope,
    Source,
    part_of,
)
from beaconlake.stats.sql.filters import dimensions_used, has_done
from beaconlake.stats.sql.sessions import (
    CHANNEL_COLUMN,
    FIRST_OF,
    PAGE_COLUMNS,
    SESSION_COLUMNS,
    VISITOR_ATTRS,
)


def _dimension(name: str) -> Dimension | None:
    return DIMENSIONS.get(name)


def _from_visit(name: str) -> bool:
    """Computed per visit by the sessions CTE."""
    d = _dimension(name)
    return d is not None and d.source is Source.VISIT


def _per_visitor(name: str) -> bool:
    """Fixed for a visitor id (one UTC day), and kept in the rollups."""
    d = _dimension(name)
    if d is None or d.scope is not Scope.VISITOR:
        return False
    return d.source is Source.TIME or d.column in VISITOR_ATTRS


def _on_visit_rows(name: str, rolled_up: bool, local: bool = False) -> bool:
    """A column of visit rows: the sessions CTE's, or with a rollup also VISITOR_ATTRS and
    the visit's day (a day's visits are that day's events). In a zone other than UTC every
    time bucket is that of the visit's start, events included, so any time key is."""
    d = _dimension(name)
    if d is None:
        return False
    if d.source is Source.VISIT:
        return d.column in SESSION_COLUMNS or d.column == CHANNEL_COLUMN
    if local and d.source is Source.TIME:
        return True
    return rolled_up and _per_visitor(name)


def _on_page_rows(name: str) -> bool:
    d = _dimension(name)
    return d is not None and d.source is Source.EVENT and d.column in PAGE_COLUMNS


def _reads_visits(metric: str) -> bool:
    m = METRICS.get(metric)
    return m is not None and any(part_of(a) == "visits" for a in m.inputs)


def needs_sessions(q: StatsQuery) -> bool:
    """Sessions cost two window passes and a join; skip them when nothing asks for them.
    (The visitors without goal filters are counted over visit_events.) In a zone other than
    UTC the range chooses visits by their start, so they are always computed."""
    if q.date_range.local:
        return True
    for metric in q.metrics:
        m = METRICS.get(metric)
        if _reads_visits(metric) or (m and m.denominator and m.denominator.without_goals):
            return True
    return has_done(q) or any(_from_visit(d) for d in dimensions_used(q))


def _computable(metric: str, rows: str) -> bool:
    """Every input of the metric has SQL over `rows` ('visits' or 'pages'); visitors and
    the total of all groups are counted over any rows."""
    m = METRICS.get(metric)
    if m is None or (m.denominator and m.denominator.without_goals):
        return False
    return all(a == "visitors" or AGGREGATES[a].over(rows) is not None for a in m.inputs)


def answerable_from_visits(q: StatsQuery, rolled_up: bool = False) -> bool:
    """True when every group key and filter is on visit rows and every metric sums over
    them: then the per-event join is skipped. Without a rollup this only pays when the
    sessions are needed anyway."""
    if not all(_computable(m, "visits") for m in q.metrics):
        return False
    if not (rolled_up or needs_sessions(q)):
        return False
    local = q.date_range.local
    return not has_done(q) and all(_on_visit_rows(d, rolled_up, local) for d in dimensions_used(q))


def answerable_from_pages(q: StatsQuery) -> bool:
    """True for event counts by page (the pages panel), with filters only on the page and on
    what is fixed per visitor: one row per visitor and page of a day is then enough."""
    used = dimensions_used(q)
    return (
        "event:page" in used
        and all(_computable(m, "pages") for m in q.metrics)
        and not has_done(q)
        and all(_on_page_rows(d) for d in used)
    )


def visitors_over_visits(q: StatsQuery, rolled_up: bool) -> str:
    """Visitors over one row per visit. A visitor id lives one day, so where every key and
    filter is fixed per visitor, its first visit stands for it; where the one other visit
    attribute is a group key with a FIRST_OF flag, the visitor's first visit with each value
    does; otherwise count distinct ids (always in a zone other than UTC: its range may hold
    a visitor's later visits but not the first)."""
    if q.date_range.local:
        return "count(DISTINCT visitor_id)"
    varying = {DIMENSIONS[d].column for d in dimensions_used(q) if not _per_visitor(d)}
    if not varying:
        return "count(*) FILTER (WHERE session_no = 1)"
    (column,) = varying if len(varying) == 1 else (None,)
    grouped = {DIMENSIONS[d].column for d in q.group_by() if _dimension(d) is not None}
    if rolled_up and column in FIRST_OF and column in grouped:
        return f"count(*) FILTER (WHERE {FIRST_OF[column]})"
    return "count(DISTINCT visitor_id)"


def visitors_over_pages(q: StatsQuery) -> str:  # a visitor id lives one UTC day
    """A visitor has one row per page, so per page the rows are the visitors."""
    return "count(*)" if "event:page" in q.group_by() else "count(DISTINCT visitor_id)"
