"""The local marks of downsampled retention: a day whose raw events retention deleted keeps
its rollup directory (`rollup/site_id=<site>/dt=<day>/`) with a `RAW_EXPIRED` file in it, so
the daily job keeps its rollups instead of dropping them with the events, and the query
engine knows which days only their rollups can answer (beaconlake.stats.expiry). Erasing
the day removes the directory, mark and rollups together."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from beaconlake.adapters.compaction import create_private_file, make_private_dirs
from beaconlake.ports import Partition

MARK = "RAW_EXPIRED"


def _day_dir(rollups: Path, site_id: str, dt: str) -> Path:
    """A day's rollup directory under `rollups` (the data directory's `rollup/`)."""
    return rollups / f"site_id={site_id}" / f"dt={dt}"


def mark_expired(rollups: Path, site_id: str, dt: str) -> None:
    directory = _day_dir(rollups, site_id, dt)
    make_private_dirs(directory)
    if not (directory / MARK).exists():
        create_private_file(directory / MARK).close()


def is_expired(rollups: Path, site_id: str, day: date) -> bool:
    return (_day_dir(rollups, site_id, day.isoformat()) / MARK).exists()


def expired_partitions(rollups: Path) -> list[Partition]:
    marks = rollups.glob(f"site_id=*/dt=*/{MARK}")
    return sorted(
        Partition(m.parent.parent.name.removeprefix("site_id="), m.parent.name.removeprefix("dt="))
        for m in marks
    )


def expired_days(rollups: Path, site_id: str, first: date, last: date) -> tuple[date, date] | None:
    """The first and last of the site's days in first..last whose raw events are gone."""
    marks = (rollups / f"site_id={site_id}").glob(f"dt=*/{MARK}")
    days = sorted(
        d
        for d in (date.fromisoformat(m.parent.name.removeprefix("dt=")) for m in marks)
        if first <= d <= last
    )
    return (days[0], days[-1]) if days else None
