"""Per-month rollups, the pure parts: which months a range touches, how a month's rows are
summed from its days' (visitors too), which queries monthly rows can answer, and the local
store's whole-month writes and erasure."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from beaconlake.adapters.monthly_local import LocalMonthly
from beaconlake.ports import MonthlyRollups, MonthlyTables
from beaconlake.stats import monthly
from beaconlake.stats.limits import FairEngine
from beaconlake.stats.query import DateRange, Filter, QueryError, StatsQuery

SITE = "example.com"
MONTHS = [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]


class FakeEngine:
    """Only what monthly.plan reads: the condensed months."""

    def __init__(self, months: list[date]) -> None:
        self.months = months

    def monthly_months(
        self, site_id: str, first: date, last: date, tables: MonthlyTables
    ) -> list[date]:
        return [m for m in self.months if first.replace(day=1) <= m <= last]


def q(first: date, last: date, **kw: Any) -> StatsQuery:
    metrics = kw.pop("metrics", ("visitors", "visits"))
    tz = kw.pop("timezone", "UTC")
    return StatsQuery(SITE, DateRange(first, last, timezone=tz), metrics, **kw)


def test_months_between_and_month_end() -> None:
    assert monthly.months_between(date(2023, 12, 15), date(2024, 2, 1)) == [
        date(2023, 12, 1),
        date(2024, 1, 1),
        date(2024, 2, 1),
    ]
    assert monthly.month_end(date(2024, 2, 1)) == date(2024, 2, 29)


def test_a_months_rows_sum_its_days_visitors_included() -> None:
    table = next(t for t in monthly.TABLES if t.name == "monthly_sources")
    rows = [
        {"k0": "2024-01-01", "k1": "Google", "visitors": 3, "visits": 4, "revenue_sum": None},
        {"k0": "2024-01-02", "k1": "Google", "visitors": 2, "visits": 2, "revenue_sum": 1},
        {"k0": "2024-01-02", "k1": "", "visitors": 5, "visits": 6, "revenue_sum": None},
    ]
    out = monthly.month_rows(rows, table, first_key=1)
    google = next(r for r in out if r["source"] == "Google")
    assert google["visitors"] == 5 and google["visits"] == 6 and google["revenue_sum"] == 1
    direct = next(r for r in out if r["source"] == "")
    assert direct["visitors"] == 5 and direct["revenue_sum"] is None


def test_the_plan_answers_whole_utc_months_and_names_the_rest() -> None:
    eng = FakeEngine(MONTHS)
    assert isinstance(eng, MonthlyRollups)
    p = monthly.plan(eng, q(date(2024, 1, 1), date(2024, 5, 10)))  # type: ignore[arg-type]
    assert p is not None and p.table.name == "monthly_visitors"
    assert p.rest is not None and p.rest.date_range.first == date(2024, 4, 1)
    assert p.meta() == {"answered_from": "monthly_rollups", "rollup_months": ["2024-01", "2024-03"]}
    fair = FairEngine(eng, "test")  # type: ignore[arg-type]  # what the stats routes wrap
    whole = monthly.plan(fair, q(date(2024, 1, 1), date(2024, 3, 31)))
    assert whole is not None and whole.rest is None
    assert monthly.plan(eng, q(date(2024, 4, 1), date(2024, 5, 1))) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "says"),
    [
        (q(date(2024, 1, 2), date(2024, 4, 1)), "start on 2024-01-01 or 2024-02-01"),
        (q(date(2024, 1, 1), date(2024, 3, 30)), "end on 2024-03-31 or 2024-02-29"),
        (q(date(2024, 1, 1), date(2024, 4, 1), timezone="Europe/Berlin"), "UTC months"),
        (q(date(2024, 1, 1), date(2024, 4, 1), dimensions=("time:week",)), "time:month"),
        (
            q(date(2024, 1, 1), date(2024, 4, 1), dimensions=("visit:source", "visit:device")),
            "no table with visit:device, visit:source",
        ),
        (
            q(
                date(2024, 1, 1),
                date(2024, 4, 1),
                filters=(Filter("visit:source", "is", ("Google", "Bing")),),
            ),
            "visitors of several visit:source values",
        ),
    ],
)
def test_what_monthly_rows_cannot_answer_is_refused(query: StatsQuery, says: str) -> None:
    with pytest.raises(QueryError) as err:
        monthly.plan(FakeEngine(MONTHS), query)  # type: ignore[arg-type]
    assert err.value.rule == "raw_data_expired" and err.value.field == "date_range"
    assert says in str(err.value)


def test_visits_of_several_values_and_visitors_of_one_are_answered() -> None:
    eng = FakeEngine(MONTHS)
    several = (Filter("visit:source", "is", ("Google", "Bing")),)
    visits = q(date(2024, 1, 1), date(2024, 4, 1), metrics=("visits",), filters=several)
    assert monthly.plan(eng, visits) is not None  # type: ignore[arg-type]
    one = (Filter("visit:source", "is", ("Google",)),)
    visitors = q(date(2024, 1, 1), date(2024, 4, 1), filters=one)
    assert monthly.plan(eng, visitors) is not None  # type: ignore[arg-type]
    fixed = (Filter("visit:browser", "is", ("Firefox", "Chrome")),)  # one per visitor and day
    assert monthly.plan(eng, q(date(2024, 1, 1), date(2024, 4, 1), filters=fixed)) is not None  # type: ignore[arg-type]


def test_the_local_store_writes_a_month_whole_and_erases_it_whole(tmp_path) -> None:
    store = LocalMonthly(tmp_path)
    tables = monthly.table_columns()
    row = {"source": "Google", "visitors": 2, "visits": 3, "revenue_sum": Decimal("1.5")}
    store.write_month(SITE, date(2024, 1, 1), tables, {"monthly_sources": [row]})
    store.write_month(SITE, date(2024, 2, 1), tables, {})
    assert store.months(SITE) == [date(2024, 1, 1), date(2024, 2, 1)]
    month_dir = tmp_path / "monthly" / f"site_id={SITE}" / "dt=2024-01-01"
    assert sorted(p.name for p in month_dir.iterdir()) == sorted(f"{t}.parquet" for t in tables)
    assert not list((tmp_path / "monthly" / f"site_id={SITE}").glob(".partial-*"))
    assert store.erase_months(SITE, date(2024, 1, 31), date(2024, 1, 31)) == 1
    assert store.months(SITE) == [date(2024, 2, 1)]
    assert all("read_parquet" in v for v in store.views_sql(tables))
    assert all("WHERE false" in v for v in LocalMonthly(tmp_path / "none").views_sql(tables))
