"""Plausible CSV exports for tests, written in the published layout (Plausible's
lib/plausible/exports.ex: file names `imported_<table>_<YYYYMMDD>_<YYYYMMDD>.csv`, a header
line, the columns in its order), with numbers that add up like a real export's."""

from __future__ import annotations

import csv
import io
import random
import zipfile
from datetime import date, timedelta
from pathlib import Path

# the columns of each file, in Plausible's order (exports.ex, export_*_q)
LAYOUT: dict[str, list[str]] = {
    "imported_visitors": ["date", "visitors", "pageviews", "bounces", "visits", "visit_duration"],
    "imported_sources": [
        "date",
        "source",
        "referrer",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "utm_term",
        "pageviews",
        "visitors",
        "visits",
        "visit_duration",
        "bounces",
    ],
    "imported_pages": [
        "date",
        "hostname",
        "page",
        "visits",
        "visitors",
        "pageviews",
        "total_scroll_depth",
        "total_scroll_depth_visits",
    ],
    "imported_entry_pages": [
        "date",
        "entry_page",
        "visitors",
        "entrances",
        "visit_duration",
        "bounces",
        "pageviews",
    ],
    "imported_exit_pages": [
        "date",
        "exit_page",
        "visitors",
        "visit_duration",
        "exits",
        "bounces",
        "pageviews",
    ],
    "imported_custom_events": ["date", "name", "link_url", "path", "visitors", "events"],
    "imported_locations": [
        "date",
        "country",
        "region",
        "city",
        "visitors",
        "visits",
        "visit_duration",
        "bounces",
        "pageviews",
    ],
    "imported_devices": [
        "date",
        "device",
        "visitors",
        "visits",
        "visit_duration",
        "bounces",
        "pageviews",
    ],
    "imported_browsers": [
        "date",
        "browser",
        "browser_version",
        "visitors",
        "visits",
        "visit_duration",
        "bounces",
        "pageviews",
    ],
    "imported_operating_systems": [
        "date",
        "operating_system",
        "operating_system_version",
        "visitors",
        "visits",
        "visit_duration",
        "bounces",
        "pageviews",
    ],
}

# per table: the dimension columns and the values a day's visits are split over
SPLITS: dict[str, dict[str, list[str]]] = {
    "imported_sources": {"source": ["", "Google", "Twitter"]},
    "imported_pages": {"page": ["/", "/pricing", "/blog/old-post"]},
    "imported_entry_pages": {"entry_page": ["/", "/pricing"]},
    "imported_exit_pages": {"exit_page": ["/", "/blog/old-post"]},
    "imported_locations": {"country": ["DE", "US", "FR"]},
    "imported_devices": {"device": ["Desktop", "Mobile"]},
    "imported_browsers": {"browser": ["Chrome", "Firefox"]},
    "imported_operating_systems": {"operating_system": ["Windows", "Android"]},
    "imported_custom_events": {"name": ["Signup", "Outbound Link: Click"]},
}


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    cuts = sorted(rng.randint(0, total) for _ in range(parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]


def export_rows(first: date, last: date, seed: int = 3) -> dict[str, list[dict]]:
    """Every table's rows for the days first..last: per day a total of visits, split over
    each table's dimension values (a value with no visits has no row)."""
    rng = random.Random(seed)
    out: dict[str, list[dict]] = {t: [] for t in LAYOUT}
    day = first
    while day <= last:
        visits = rng.randint(20, 60)
        visitors = visits - rng.randint(0, 5)
        bounces = rng.randint(0, visits)
        duration = rng.randint(0, 120) * visits
        pageviews = visits + rng.randint(0, 2 * visits)
        out["imported_visitors"].append(
            {
                "date": day.isoformat(),
                "visitors": visitors,
                "pageviews": pageviews,
                "bounces": bounces,
                "visits": visits,
                "visit_duration": duration,
            }
        )
        for table, dims in SPLITS.items():
            ((column, values),) = dims.items()
            shares = [_split(n, len(values), rng) for n in (visits, bounces, duration, pageviews)]
            for i, value in enumerate(values):
                v, b, d, p = (s[i] for s in shares)
                if v == 0:
                    continue
                counts = {
                    "visitors": max(1, v - rng.randint(0, 2)),
                    "visits": v,
                    "entrances": v,
                    "exits": v,
                    "bounces": min(b, v),
                    "visit_duration": d,
                    "pageviews": p,
                    "events": v + rng.randint(0, 3),
                }
                row = {c: "" for c in LAYOUT[table]}
                row.update({k: n for k, n in counts.items() if k in row})
                row.update(
                    date=day.isoformat(),
                    hostname="example.com",
                    region="",
                    city=0,
                    browser_version="",
                    operating_system_version="",
                    total_scroll_depth=0,
                    total_scroll_depth_visits=0,
                )
                row[column] = value
                out[table].append({c: row[c] for c in LAYOUT[table]})
        day += timedelta(days=1)
    return out


def csv_text(table: str, rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LAYOUT[table], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_export(path: Path, rows: dict[str, list[dict]], first: date, last: date) -> Path:
    """A zip as Plausible's export writes it."""
    suffix = f"_{first:%Y%m%d}_{last:%Y%m%d}.csv"
    with zipfile.ZipFile(path, "w") as z:
        for table, table_rows in rows.items():
            z.writestr(table + suffix, csv_text(table, table_rows))
    return path
