"""How a row of aggregates becomes each metric's value (rounded like Plausible), and the
SQL that orders rows by a rate: the functions the metric records of `stats.registry` name."""

from __future__ import annotations

from collections.abc import Callable

from beaconlake.stats.registry_types import Denominator, Row


def count(column: str) -> Callable[[Row], int]:
    return lambda row: int(row.get(column) or 0)


def bounce_rate(row: Row) -> int:
    visits = int(row.get("visits") or 0)
    return round(100 * int(row.get("bounces") or 0) / visits) if visits else 0


def visit_duration(row: Row) -> int:
    visits = int(row.get("visits") or 0)
    return round(int(row.get("duration_ms") or 0) / 1000 / visits) if visits else 0


def views_per_visit(row: Row) -> float:
    visits = int(row.get("visits") or 0)
    return round(int(row.get("session_pageviews") or 0) / visits, 2) if visits else 0.0


def share_of(denominator: Denominator) -> Callable[[Row], float]:
    def share(row: Row) -> float:
        total = int(row.get(denominator.value) or 0)
        return round(100 * int(row.get("visitors") or 0) / total, 1) if total else 0.0

    return share


def total_revenue(row: Row) -> float | None:
    revenue = row.get("revenue_sum")
    return float(revenue) if revenue is not None else None


def average_revenue(row: Row) -> float | None:
    count, revenue = int(row.get("revenue_count") or 0), row.get("revenue_sum")
    return round(float(revenue) / count, 2) if count and revenue is not None else None


def scroll_depth(row: Row) -> int | None:
    depth = row.get("scroll_depth_avg")
    return round(float(depth)) if depth is not None else None


def time_on_page(row: Row) -> int | None:
    engaged = row.get("engaged_ms_avg")
    return round(float(engaged) / 1000) if engaged is not None else None


def per_visit(column: str) -> str:
    return f"CAST({column} AS double) / nullif(visits, 0)"
