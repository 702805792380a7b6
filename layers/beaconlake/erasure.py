"""Erasure (GDPR Art. 17) and retention: which partitions to touch, planned as pure
functions; the store (beaconlake.ports.EventStore) does the deleting.

Events live in `site_id=<site>/dt=<day>` partitions, so erasing a site's date range drops
whole partitions; erasing one user's events rewrites the files of the range without the
rows carrying that user's hashed id. Logs name the site, the days and the counts, never a
user id or its hash.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from aws_lambda_powertools import Logger

from beaconlake.ports import EventStore, Partition, StoreReport

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
    planned = partitions_to_erase(store.partitions(), erasure)
    if erasure.user_id_hash is None:
        report = store.drop(planned)
    else:
        report = store.delete_rows(planned, "user_id", erasure.user_id_hash)
    logger.info(
        "erasure done",
        extra={
            "site_id": erasure.site_id,
            "first_day": erasure.first_day.isoformat(),
            "last_day": erasure.last_day.isoformat(),
            "by_user_id": erasure.user_id_hash is not None,
            **report.as_dict(),
        },
    )
    return report


def apply_retention(store: EventStore, today: date, days: int) -> StoreReport:
    planned = expired_partitions(store.partitions(), today, days)
    report = store.drop(planned)
    logger.info(
        "retention clean-up done",
        extra={"days": days, "deleted_before": first_day_kept(today, days).isoformat()}
        | report.as_dict(),
    )
    return report
