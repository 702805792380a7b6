"""Erasure (GDPR Art. 17) and retention: which partitions to touch, planned as pure
functions; the store (beaconlake.ports.EventStore) does the deleting.

Events live in `site_id=<site>/dt=<day>` partitions, so erasing a site's date range drops
whole partitions; erasing one user's events rewrites the files of the range without the
rows carrying that user's hashed id. Retention keeps the daily rollups of the days whose
events it deletes, unless asked not to; erasing a date range deletes those rollups too, and the per-month rollups (stats.monthly) of every month
it touches: the whole month's rows (they cannot be split by day). Logs name the site, the days and the counts, never a
user id or its hash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from aws_lambda_powertools import Logger

from beaconlake.ports import EventStore, MonthlyStore, Partition, StoreReport

logger = Logger(service="beaconlake-privacy")


@dataclass(frozen=True)
class Erasure:
    site_id: str
    first_day: date
    last_day: date
    user_id_hash: str | None = None

    def __post_init__(self) -> None:
        if self.first_day > self.last_day:
            raise ValueError("the first day of an erasure must not be after its last day")

    def covers(self, partition: Partition) -> bool:
        return (
            partition.site_id == self.site_id
            and self.first_day.isoformat() <= partition.dt <= self.last_day.isoformat()
        )


def partitions_to_erase(partitions: Iterable[Partition], erasure: Erasure) -> list[Partition]:
    return sorted(p for p in partitions if erasure.covers(p))


def first_day_kept(today: date, days: int) -> date:
    """Keeping N days keeps today and the N-1 days before it."""
    if days < 1:
        raise ValueError("retention must keep at least 1 day")
    return today - timedelta(days=days - 1)


def expired_partitions(partitions: Iterable[Partition], today: date, days: int) -> list[Partition]:
    keep_from = first_day_kept(today, days).isoformat()
    return sorted(p for p in partitions if p.dt < keep_from)


def erase(store: EventStore, erasure: Erasure) -> StoreReport:
    store.settle()
    months = 0
    planned = partitions_to_erase(store.partitions(), erasure)
    if erasure.user_id_hash is None:
        # days retention left only rollups of are erased too (the rollups hold no user ids:
        # an erasure by user id has nothing to find in them)
        rolled_up = [p for p in partitions_to_erase(store.expired(), erasure) if p not in planned]
        report = store.drop(sorted(planned + rolled_up))
        if isinstance(store, MonthlyStore):  # a month's rows go if any day of it is erased
            months = store.erase_months(erasure.site_id, erasure.first_day, erasure.last_day)
    else:
        report = store.delete_rows(planned, "user_id", erasure.user_id_hash)
    logger.info(
        "erasure done",
        extra={
            "site_id": erasure.site_id,
            "first_day": erasure.first_day.isoformat(),
            "last_day": erasure.last_day.isoformat(),
            "by_user_id": erasure.user_id_hash is not None,
            "months_erased": months,
            **report.as_dict(),
        },
    )
    return report


def apply_retention(
    store: EventStore,
    today: date,
    days: int,
    roll_up: Callable[[str, date], bool] | None = None,
) -> StoreReport:
    """Delete the events of the days before the N kept. With `roll_up` (the daily job's
    refresh of one site and day: True once its rollups match its events) each day's rollups
    are brought up to date first and kept (downsampled retention: stats.expiry answers from
    them); a day whose events changed meanwhile waits for the next run. Without it the
    days are dropped whole, rollups included."""
    planned = expired_partitions(store.partitions(), today, days)
    if roll_up is None:
        report = store.drop(planned)
    else:
        report = store.expire([p for p in planned if roll_up(p.site_id, date.fromisoformat(p.dt))])
    logger.info(
        "retention clean-up done",
        extra={
            "days": days,
            "deleted_before": first_day_kept(today, days).isoformat(),
            "rollups_kept": roll_up is not None,
        }
        | report.as_dict(),
    )
    return report
