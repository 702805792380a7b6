"""Today's rollup rows, brought up to date with new events instead of recomputed.

A day's rollup rows (sql.rollup_statement, sql.page_rollup_statement) can be merged with the
rows of events that came after them: per visitor and page, counts add up; a visitor's first
new session continues their last one when it starts within the session gap of its end, and
then adds its counts and its last pageview to it, while what a session took from its first
event stays. This holds when no new event of a visitor is older than their last session's
end; `late_events` counts those that are, and the caller recomputes the day instead.

The statements read `batch` (the new events) and the live tables (rows of `site_id`, `dt`,
then the rollup's columns), and take the parameters site_id and dt; those are tested in WHERE
clauses (of a CTE `o` of the day's rows where a join needs them), the only place Athena takes
a parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from functools import cache
from typing import Any

from beaconlake.ports import DayStatement, LiveTable, LocalRollupSql
from beaconlake.stats.sql import (
    PAGE_COLUMNS,
    PAGE_ROLLUP_TABLE,
    SESSION_ATTRS,
    SESSION_COLUMNS,
    SESSION_GAP_MS,
    SESSION_ROLLUP_TABLE,
    VISITOR_ATTRS,
    WHOLE_DAY,
    Statement,
    VisitorBucket,
    day_where,
    page_rollup_statement,
    page_rows,
    rollup_select,
    rollup_statement,
    session_ctes,
    visitor_buckets,
)

LIVE_SESSIONS = "live_sessions"
LIVE_PAGES = "live_pages"

# How each column of an old row (o) and a new one (n) for the same session or page combine.
_ADD = "coalesce(o.{c}, 0) + n.{c}"
_ADD_NULLABLE = (
    "CASE WHEN o.{c} IS NULL THEN n.{c} WHEN n.{c} IS NULL THEN o.{c} ELSE o.{c} + n.{c} END"
)
_OLD = "CASE WHEN o.visitor_id IS NULL THEN n.{c} ELSE o.{c} END"
_FIRST_KNOWN = "coalesce(o.{c}, n.{c})"
_LAST_KNOWN = "coalesce(n.{c}, o.{c})"
_COUNTS = {"pageviews": _ADD, "events": _ADD, "revenue_sum": _ADD_NULLABLE, "revenue_count": _ADD}
SESSION_MERGE = {
    "started": _OLD,
    "ended": _LAST_KNOWN,
    "interactions": _ADD,
    **_COUNTS,
    "s_entry_page": _FIRST_KNOWN,
    "s_exit_page": _LAST_KNOWN,
    **{alias: _OLD for alias, _ in SESSION_ATTRS},
    **{col: _OLD for col in VISITOR_ATTRS},
}
PAGE_MERGE = {**_COUNTS, **{col: _OLD for col in VISITOR_ATTRS}}


def _merged(rules: dict[str, str], columns: tuple[str, ...]) -> str:
    return ",\n  ".join(rules[c].format(c=c) + f" AS {c}" for c in columns)


def _day_rows(table: str) -> str:
    """CTE `o`: the rows of `table` for the parameters site_id and dt."""
    return f"o AS (SELECT * FROM {table} WHERE site_id = ? AND dt = ?)"


def late_events() -> str:
    """How many new events are older than the end of their visitor's last session."""
    return f"""SELECT count(*) AS late FROM batch b JOIN (
  SELECT visitor_id, max(ended) AS last_ended FROM {LIVE_SESSIONS}
  WHERE site_id = ? AND dt = ? GROUP BY visitor_id
) p ON b.visitor_id = p.visitor_id
WHERE b.ts < p.last_ended"""


def merged_sessions() -> str:
    """The sessions the new events touch or open, whole: they replace the rows with the same
    visitor_id and session_no."""
    columns = (*SESSION_COLUMNS[2:], *VISITOR_ATTRS)
    return f"""WITH {session_ctes("batch", "true", visitor_attrs=True)},
prior AS (
  SELECT visitor_id, max(session_no) AS last_no, max(ended) AS last_ended
  FROM {LIVE_SESSIONS}
  WHERE site_id = ? AND dt = ? AND visitor_id IN (SELECT visitor_id FROM batch)
  GROUP BY visitor_id
),
shift AS (
  SELECT s.visitor_id, coalesce(p.last_no, 0) - CASE
      WHEN date_diff('millisecond', p.last_ended, min(s.started)) < {SESSION_GAP_MS} THEN 1
      ELSE 0 END AS renumber
  FROM sessions s LEFT JOIN prior p ON s.visitor_id = p.visitor_id
  GROUP BY s.visitor_id, p.last_no, p.last_ended
),
n AS (
  SELECT s.*, s.session_no + shift.renumber AS live_no
  FROM sessions s JOIN shift ON s.visitor_id = shift.visitor_id
),
{_day_rows(LIVE_SESSIONS)}
SELECT n.visitor_id, n.live_no AS session_no,
  {_merged(SESSION_MERGE, columns)}
FROM n LEFT JOIN o ON o.visitor_id = n.visitor_id AND o.session_no = n.live_no"""


def merged_pages() -> str:
    """The (visitor, page) rows the new events touch, whole: they replace the rows with the
    same visitor_id and pathname."""
    return f"""WITH n AS ({page_rows("batch", "true")}),
{_day_rows(LIVE_PAGES)}
SELECT n.visitor_id, n.pathname,
  {_merged(PAGE_MERGE, PAGE_COLUMNS[2:])}
FROM n LEFT JOIN o
  ON o.visitor_id = n.visitor_id AND o.pathname IS NOT DISTINCT FROM n.pathname"""


def _day_statement(
    statement: Callable[[str, date, VisitorBucket, str], Statement],
) -> DayStatement:
    def run(site_id: str, day: date, index: int, count: int, table: str) -> tuple[str, Any]:
        st = statement(site_id, day, VisitorBucket(index, count), table)
        return st.sql, st.params

    return run


def _whole_day(site_id: str, day: date) -> tuple[str, Sequence[Any]]:
    return day_where(site_id, day, WHOLE_DAY)


def _bucket_count(rows: int, rows_per_bucket: int) -> int:
    return len(visitor_buckets(rows, rows_per_bucket))


@cache
def local_rollup_sql() -> LocalRollupSql:
    """The rollups' SQL as the local engine runs it (wiring hands it to the DuckDB adapter):
    pages first, sessions last (the signed one), each with its live table."""
    pages = LiveTable(
        name=LIVE_PAGES,
        rollup=PAGE_ROLLUP_TABLE,
        columns=PAGE_COLUMNS,
        view_select=f"SELECT site_id, dt, {', '.join(PAGE_COLUMNS)} FROM {LIVE_PAGES}",
        statement=_day_statement(page_rollup_statement),
        merge_sql=merged_pages(),
        merge_key=("visitor_id", "pathname"),
        merge_uses=1,
    )
    sessions = LiveTable(
        name=LIVE_SESSIONS,
        rollup=SESSION_ROLLUP_TABLE,
        columns=(*SESSION_COLUMNS, *VISITOR_ATTRS),
        view_select=rollup_select(LIVE_SESSIONS, keep=("site_id", "dt")),
        statement=_day_statement(rollup_statement),
        merge_sql=merged_sessions(),
        merge_key=("visitor_id", "session_no"),
        merge_uses=2,
    )
    return LocalRollupSql((pages, sessions), _whole_day, late_events(), _bucket_count)
