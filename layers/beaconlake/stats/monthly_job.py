"""Per-month rollups, on the job side: a month whose every day is older than the raw events
and the daily rollups are kept (N + M days: retention_days + daily_rollup_days) is condensed
into per-month rows (stats.monthly.TABLES) and its daily rollups are deleted.

Per site the months are condensed in order, oldest first, and a month with raw events left
stops the site's run (the next run tries again): the condensed months are always the
oldest of a site's data, which the query side relies on. A month is computed from its daily
rollups with the ordinary statements (stats.sql.build, grouped by day and the table's
dimensions, so visitors are the sum of the days' visitors), written whole by the store
(all tables visible at once, or none), and only then are its daily rollups deleted: a crash
in between leaves a written month whose daily rollups the next run deletes (queries never
read them again once the month is written: stats.monthly.plan). Idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from beaconlake.ports import DayFiles, MonthlyStore, QueryEngine, Rollup
from beaconlake.stats import expiry
from beaconlake.stats.monthly import (
    PAGE_METRICS,
    TABLES,
    VISIT_METRICS,
    month_end,
    month_rows,
    months_between,
    table_columns,
)
from beaconlake.stats.query import DateRange, StatsQuery
from beaconlake.stats.sql import build

logger = Logger(service="beaconlake-rollups")


@dataclass
class MonthlyReport:
    """What a run did (counts only: safe to log)."""

    months_written: int = 0
    days_deleted: int = 0
    sites_waiting: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "months_written": self.months_written,
            "days_deleted": self.days_deleted,
            "sites_waiting": self.sites_waiting,
        }


def first_day_daily(today: date, raw_days: int, daily_days: int) -> date:
    """The first day whose daily rollups are kept: older days' months are condensed."""
    return today - timedelta(days=raw_days + daily_days - 1)


def _rows(engine: QueryEngine, q: StatsQuery, rollup: Rollup | None) -> list[dict[str, Any]]:
    if rollup is None or not expiry.from_rollups(q):
        raise RuntimeError(f"{q.group_by()}: the daily rollups cannot answer the statement")
    st = build(q, rollup=rollup, paged=False)
    return engine.query(st.sql, st.params)


def compute_month(
    engine: QueryEngine, site_id: str, month: date, days: list[date]
) -> dict[str, list[dict[str, Any]]]:
    """Each monthly table's rows of the month, from the daily rollups of its `days`: per
    day and the table's dimensions, summed over the days (visitors too)."""
    last = month_end(month)
    rollup = engine.session_rollup(site_id, month, last)
    out: dict[str, list[dict[str, Any]]] = {}
    for table in TABLES:
        if "visits" in table.sums:
            dims = ("time:day", *table.dimensions)
            q = StatsQuery(site_id, DateRange(month, last), VISIT_METRICS, dimensions=dims)
            out[table.name] = month_rows(_rows(engine, q, rollup), table, first_key=1)
            continue
        # page rows answer no time key: one statement per day
        rows: list[dict[str, Any]] = []
        for day in days:
            dims = tuple(table.dimensions)
            q = StatsQuery(site_id, DateRange(day, day), PAGE_METRICS, dimensions=dims)
            rows += _rows(engine, q, engine.session_rollup(site_id, day, day))
        out[table.name] = month_rows(rows, table, first_key=0)
    return out


def condense(
    engine: QueryEngine,
    files: DayFiles,
    store: MonthlyStore,
    today: date,
    raw_days: int,
    daily_days: int,
) -> MonthlyReport:
    """Condense every due month of every site (see the module's docstring)."""
    if raw_days < 1 or daily_days < 0:
        raise ValueError("retention must keep at least 1 day, and daily rollups 0 days or more")
    report = MonthlyReport()
    cut = first_day_daily(today, raw_days, daily_days)
    for site in files.sites():
        days = sorted(files.days(site))
        done = set(store.months(site))
        if not days and not done:
            continue
        start = min([*days[:1], *done])
        due = [m for m in months_between(start, cut) if month_end(m) < cut]
        for month in due:
            in_month = [d for d in days if month <= d <= month_end(month)]
            if month not in done:
                if any(files.signature(site, d) is not None for d in in_month):
                    report.sites_waiting += 1
                    break  # raw events left: this month and later ones wait
                rows = compute_month(engine, site, month, in_month) if in_month else {}
                store.write_month(site, month, table_columns(), rows)
                report.months_written += 1
            for day in in_month:
                if files.signature(site, day) is None:
                    files.drop_rollups(site, day)
                    report.days_deleted += 1
    logger.info(
        "monthly rollups done",
        extra={"daily_kept_from": cut.isoformat(), **report.as_dict()},
    )
    return report
