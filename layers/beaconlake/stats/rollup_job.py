"""The daily job, written once above the ports: for each site and past day, compact the day's
event files and write its session and page rollups (the statements of beaconlake.stats.sql),
on whichever back end `DayFiles` stands for.

A day's rollups carry the signature of the event files they were written from (and of the
rollup SQL itself), so a day is written again exactly when its files changed: late events,
an erasure that rewrote or deleted them, compaction, or an upgrade that changed the SQL. A
day whose events retention deleted (`DayFiles.raw_expired`) keeps the rollups it has.

- Locally the query engine asks for it (`refresh_range`) before a statement over past days,
  and `serve` after each midnight; the sink's merges keep a day's files few, so it does not
  compact.
- On AWS a scheduled Lambda runs it every hour (`run`): it compacts each day before rolling
  it up (Firehose writes a small file per buffer interval), checks the last `lookback_days`
  days again for late deliveries, and the days an erasure marked stale, and records what it
  covers (ports.RollupState), which the Athena engine reads to choose rollups or events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

from aws_lambda_powertools import Logger

from beaconlake.ports import DayFiles, RollupState
from beaconlake.schema import COLUMNS
from beaconlake.stats.sql import (
    FIRST_OF,
    PAGE_COLUMNS,
    PAGE_ROLLUP_TABLE,
    SESSION_ATTRS,
    SESSION_COLUMNS,
    SESSION_ROLLUP_TABLE,
    VISITOR_ATTRS,
    Statement,
    VisitorBucket,
    page_rollup_statement,
    rollup_statement,
    visitor_buckets,
)

logger = Logger(service="beaconlake-rollups")

# Events per bucket of visitors when a day is rolled up in one process (DuckDB): beyond this
# its working set for sessionising grows with the rows, below it a scan's fixed cost dominates.
ROWS_PER_BUCKET = 65_536
# Days before the last one rolled up that each scheduled run checks again for late files
# (Firehose delivers a day's last events a buffer interval after midnight, retries included).
LOOKBACK_DAYS = 2

# Each rollup table and its statement, in the order written: the last one is recorded with
# the signature, so a crash in between leaves the day out of date, never half-new and current.
ROLLUP_STATEMENTS: tuple[tuple[str, Callable[[str, date, VisitorBucket], Statement]], ...] = (
    (PAGE_ROLLUP_TABLE, page_rollup_statement),
    (SESSION_ROLLUP_TABLE, rollup_statement),
)


# The rollup columns that are aggregates, and their types in Athena (count: bigint; the sum of
# a decimal(18,4): decimal(38,4)); every other rollup column keeps its event column's type.
AGGREGATE_TYPES = {
    "session_no": "bigint",
    "started": "timestamp",
    "ended": "timestamp",
    "pageviews": "bigint",
    "interactions": "bigint",
    "events": "bigint",
    "revenue_sum": "decimal(38,4)",
    "revenue_count": "bigint",
    "s_entry_page": "string",
    "s_exit_page": "string",
    **dict.fromkeys(FIRST_OF.values(), "boolean"),
}


def rollup_columns() -> dict[str, list[tuple[str, str]]]:
    """Each rollup table's columns and Glue types, in the order its statement selects them:
    the Glue tables of the CDK app are declared from this (a test runs the statements)."""
    event_types = {c.name: c.glue_type for c in COLUMNS}
    sources = dict(SESSION_ATTRS)

    def typed(names: tuple[str, ...]) -> list[tuple[str, str]]:
        return [(n, AGGREGATE_TYPES.get(n) or event_types[sources.get(n, n)]) for n in names]

    return {
        SESSION_ROLLUP_TABLE: typed((*SESSION_COLUMNS, *VISITOR_ATTRS, *FIRST_OF.values())),
        PAGE_ROLLUP_TABLE: typed(PAGE_COLUMNS),
    }


@cache
def rollup_sql_digest() -> str:
    """The rollups' SQL: rollups written by another version of it are written again."""
    texts = [statement("", date.min, VisitorBucket()).sql for _, statement in ROLLUP_STATEMENTS]
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]


def signed(files_signature: str) -> str:
    """A day's rollup signature: its files' and the rollup SQL's."""
    text = f"{rollup_sql_digest()}:{files_signature}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class JobReport:
    """What a run did (counts only: safe to log)."""

    sites: int = 0
    days_checked: int = 0
    days_compacted: int = 0
    days_rolled_up: int = 0
    days_dropped: int = 0
    days_stale: int = 0
    stale: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int | list[str]]:
        return {
            "sites": self.sites,
            "days_checked": self.days_checked,
            "days_compacted": self.days_compacted,
            "days_rolled_up": self.days_rolled_up,
            "days_dropped": self.days_dropped,
            "days_stale": self.days_stale,
            "stale": self.stale,
        }


class RollupJob:
    def __init__(
        self,
        files: DayFiles,
        compact: bool,
        rows_per_bucket: int = ROWS_PER_BUCKET,
        lookback_days: int = LOOKBACK_DAYS,
    ) -> None:
        self.files = files
        self.compact = compact
        self.rows_per_bucket = rows_per_bucket
        self.lookback_days = lookback_days

    def refresh(
        self,
        site_id: str,
        day: date,
        report: JobReport | None = None,
        before_change: Callable[[date], None] | None = None,
    ) -> bool:
        """Bring the day's rollups up to date with its files (compacting them first, if this
        job compacts), calling `before_change` first if anything is to be rewritten; False
        when its files changed while it worked (still out of date)."""
        report = report if report is not None else JobReport()
        report.days_checked += 1
        files = self.files.signature(site_id, day)
        written = self.files.rollup_signature(site_id, day)
        if files is None:
            if written is not None and self.files.raw_expired(site_id, day):
                return True  # retention deleted its events: its rollups are all that is left
            if written is not None:
                self.files.drop_rollups(site_id, day)
                report.days_dropped += 1
            return True
        if written == signed(files):
            return True
        if before_change is not None:
            before_change(day)
        if self.compact:
            files = self.files.compact(site_id, day)
            if files is None:
                return False
            report.days_compacted += 1
        buckets = visitor_buckets(self.files.rows(site_id, day), self.rows_per_bucket)
        tables = {
            table: [(st.sql, st.params) for st in (statement(site_id, day, b) for b in buckets)]
            for table, statement in ROLLUP_STATEMENTS
        }
        self.files.write_rollups(site_id, day, tables, signed(files))
        report.days_rolled_up += 1
        return True

    def refresh_range(self, site_id: str, first: date, last: date) -> None:
        """Bring every day of first..last that has files or rollups up to date (on demand)."""
        for day in self.files.days(site_id):
            if first <= day <= last:
                self.refresh(site_id, day)

    def run(self, today: date) -> JobReport:
        """The scheduled run: every past day of every site that is new, within the lookback
        window, or stale, brought up to date; then what the rollups cover, recorded."""
        report = JobReport()
        yesterday = today - timedelta(days=1)
        for site in self.files.sites():
            report.sites += 1
            state = self.files.state(site)
            days = [d for d in self.files.days(site) if d <= yesterday]
            if state is None:
                due = days
            else:  # a stale day may have no files left (erased): it is due all the same
                recheck_from = state.through - timedelta(days=self.lookback_days)
                due = sorted({d for d in days if d >= recheck_from} | state.stale)

            def unmark(day: date, site: str = site) -> None:
                """A day statements read from rollups stops being covered before it is
                rewritten: they read its events meanwhile (never old and new files both)."""
                current = self.files.state(site)
                if current is not None and current.covers(day, day) is not None:
                    stale = current.stale | {day}
                    self.files.save_state(site, RollupState(current.first, current.through, stale))

            stale = {day for day in due if not self.refresh(site, day, report, unmark)}
            if not days and state is None:
                continue
            first = min([*days[:1], *([state.first] if state else [])], default=yesterday)
            self.files.save_state(site, RollupState(first, yesterday, frozenset(stale)))
            report.days_stale += len(stale)
            report.stale += [f"{site} {day}" for day in sorted(stale)]
        logger.info("rollup job done", extra=report.as_dict())
        return report
