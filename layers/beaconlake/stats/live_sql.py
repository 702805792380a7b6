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

from beaconlake.stats.sql import (
    PAGE_COLUMNS,
    SESSION_ATTRS,
    SESSION_COLUMNS,
    SESSION_GAP_MS,
    VISITOR_ATTRS,
    page_rows,
    session_ctes,
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
