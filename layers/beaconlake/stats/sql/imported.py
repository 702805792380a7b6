"""Imported data (Plausible's CSV export, beaconlake.imports): the one table of which
imported table answers which dimensions and raw columns, and the statement that merges a
native aggregate with an imported one at the grouped level (a UNION ALL, summed per key).

Every imported table holds one row per site, day (`dt`, the site's own day) and its
dimension values, with counts that add up across rows, as Plausible's do: visitors are per
day, so a range's imported visitors are the sum of its days' (native visitor ids also live
one day, so the two add up the same way). A query merges when one imported table has every
dimension it groups or filters by (time keys by day, week or month) and every raw column its
metrics read; otherwise it answers from native data only, and `meta.imported` says why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from beaconlake.stats.query import And, StatsQuery
from beaconlake.stats.registry import DIMENSIONS, METRICS
from beaconlake.stats.sql import metrics
from beaconlake.stats.sql.builders import group_keys
from beaconlake.stats.sql.filters import FilterCompiler, dimensions_used, has_done
from beaconlake.stats.sql.statement import Params, Statement

DIRECT = "Direct / None"

# raw column → SQL over a table's rows, for the tables with visits (sessions)
_VISITS = {
    "visitors": "visitors",
    "visits": "visits",
    "pageviews": "pageviews",
    "bounces": "bounces",
    "duration_ms": "visit_duration * 1000",
    "session_pageviews": "pageviews",
}


@dataclass(frozen=True)
class ImportedTable:
    """One of Plausible's export files. `columns`: its CSV columns (name, Athena type) in the
    order Plausible writes them, `date` first; `dimensions`: a dimension → SQL over the
    columns giving the native column's value; `sums`: a raw column → SQL summed per group."""

    name: str
    columns: tuple[tuple[str, str], ...]
    dimensions: dict[str, str]
    sums: dict[str, str]

    @property
    def stored(self) -> tuple[tuple[str, str], ...]:
        """The stored columns: `dt` (the day as text, like the events' partitions) and every
        CSV column but `date`."""
        return (("dt", "varchar"), *(c for c in self.columns if c[0] != "date"))


_S, _N = "varchar", "bigint"


def _counts(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple((n, _N) for n in names)


_SESSION_COUNTS = _counts("visitors", "visits", "visit_duration", "bounces", "pageviews")

TABLES: tuple[ImportedTable, ...] = (
    ImportedTable(
        "imported_visitors",
        (("date", _S), *_counts("visitors", "pageviews", "bounces", "visits", "visit_duration")),
        {},
        _VISITS,
    ),
    ImportedTable(
        "imported_sources",
        (
            ("date", _S),
            ("source", _S),
            ("referrer", _S),
            *((f"utm_{t}", _S) for t in ("source", "medium", "campaign", "content", "term")),
            *_counts("pageviews", "visitors", "visits", "visit_duration", "bounces"),
        ),
        {
            "visit:source": f"CASE WHEN source = '' THEN '{DIRECT}' ELSE source END",
            "visit:referrer": "referrer",
            **{f"visit:utm_{t}": f"utm_{t}" for t in ("medium", "campaign", "content", "term")},
            "visit:utm_source": "utm_source",
        },
        _VISITS,
    ),
    ImportedTable(
        "imported_pages",
        (
            ("date", _S),
            ("hostname", _S),
            ("page", _S),
            *_counts("visits", "visitors", "pageviews"),
        ),
        {"event:page": "page", "event:hostname": "hostname"},
        {"visitors": "visitors", "pageviews": "pageviews"},
    ),
    ImportedTable(
        "imported_entry_pages",
        (
            ("date", _S),
            ("entry_page", _S),
            *_counts("visitors", "entrances", "visit_duration", "bounces", "pageviews"),
        ),
        {"visit:entry_page": "entry_page"},
        {**_VISITS, "visits": "entrances"},
    ),
    ImportedTable(
        "imported_exit_pages",
        (
            ("date", _S),
            ("exit_page", _S),
            *_counts("visitors", "visit_duration", "exits", "bounces", "pageviews"),
        ),
        {"visit:exit_page": "exit_page"},
        {**_VISITS, "visits": "exits"},
    ),
    ImportedTable(
        "imported_custom_events",
        (
            ("date", _S),
            ("name", _S),
            ("link_url", _S),
            ("path", _S),
            *_counts("visitors", "events"),
        ),
        {"event:name": "name"},
        {"visitors": "visitors", "events": "events"},
    ),
    ImportedTable(
        "imported_locations",
        (("date", _S), ("country", _S), ("region", _S), ("city", _N), *_SESSION_COUNTS),
        {"visit:country": "country"},
        _VISITS,
    ),
    ImportedTable(
        "imported_devices",
        (("date", _S), ("device", _S), *_SESSION_COUNTS),
        {"visit:device": "lower(device)"},
        _VISITS,
    ),
    ImportedTable(
        "imported_browsers",
        (("date", _S), ("browser", _S), ("browser_version", _S), *_SESSION_COUNTS),
        {"visit:browser": "browser", "visit:browser_version": "browser_version"},
        _VISITS,
    ),
    ImportedTable(
        "imported_operating_systems",
        (
            ("date", _S),
            ("operating_system", _S),
            ("operating_system_version", _S),
            *_SESSION_COUNTS,
        ),
        {"visit:os": "operating_system", "visit:os_version": "operating_system_version"},
        _VISITS,
    ),
)
TABLE = {t.name: t for t in TABLES}
IMPORTED_INTERVALS = ("day", "week", "month")


@dataclass(frozen=True)
class Choice:
    """The imported table that answers a query, or None and why not."""

    table: ImportedTable | None
    reason: str = ""


def choose(q: StatsQuery) -> Choice:
    """The first imported table with every dimension and raw column `q` reads."""
    if has_done(q):
        return Choice(None, "has_done filters have no imported equivalent")
    shares = [m for m in q.metrics if m in METRICS and METRICS[m].denominator]
    if shares:
        return Choice(None, f"{', '.join(shares)} cannot be computed over imported data")
    for dim in q.group_by():
        if dim.startswith("time:") and dim.split(":", 1)[1] not in IMPORTED_INTERVALS:
            return Choice(None, f"imported data is per day: {dim} is not available")
    dims = {d for d in dimensions_used(q) if not d.startswith("time:")}
    needed = metrics.raw_columns_needed(q)
    for table in TABLES:
        if dims <= table.dimensions.keys() and needed <= table.sums.keys():
            return Choice(table)
    return Choice(
        None,
        "imported data has no table with "
        + " and ".join(sorted(dims) or ["no dimension"])
        + " for "
        + ", ".join(q.metrics),
    )


def _imported_rows(table: ImportedTable, q: StatsQuery) -> tuple[str, Params]:
    """The table's rows of the site and range, with the native column names."""
    cols = [f"{sql} AS {DIMENSIONS[d].column}" for d, sql in table.dimensions.items()]
    raw = ", ".join(c for c, _ in table.stored if c != "dt")
    select = ", ".join(["dt", *cols, raw])
    sql = f"SELECT {select} FROM {table.name} WHERE site_id = ? AND dt BETWEEN ? AND ?"
    r = q.date_range
    return sql, (q.site_id, r.first.isoformat(), r.last.isoformat())


def imported_aggregate(table: ImportedTable, q: StatsQuery) -> tuple[str, Params]:
    """CTE `imported`: the imported rows, filtered and grouped like the native aggregate."""
    rows, args = _imported_rows(table, q)
    where, where_args = FilterCompiler(q.goals).compile(And(q.filters))
    keys = [f"k{i}" for i in range(len(q.group_by()))] or ["k0"]
    exprs = []
    for g in group_keys(q):
        if g.interval:
            g = replace(g, zone=None)  # an imported day is already the site's own day
            exprs.append(g.text("CAST(CAST(dt AS date) AS timestamp)"))
        else:
            exprs.append(g.column)
    select_keys = ", ".join(f"{e} AS {k}" for e, k in zip(exprs or ["''"], keys, strict=True))
    needed = metrics.raw_columns_needed(q)
    sums = ", ".join(f"sum({table.sums[c]}) AS {c}" for c in sorted(needed))
    positions = ", ".join(str(n + 1) for n in range(len(keys)))
    sql = f"""imported AS (
  SELECT {select_keys}, {sums}
  FROM ({rows}) r WHERE {where} GROUP BY {positions}
)"""
    return sql, args + where_args


def merged(native: Statement, table: ImportedTable, q: StatsQuery) -> Statement:
    """The native statement (unpaged, unordered) UNION ALL the imported aggregate, summed per
    key, then ordered and paged like the native one."""
    keys = [f"k{i}" for i in range(len(q.group_by()))] or ["k0"]
    needed = sorted(metrics.raw_columns_needed(q))
    imported, args = imported_aggregate(table, q)
    cols = ", ".join([*keys, *needed])
    sums = ", ".join(f"sum({c}) AS {c}" for c in needed)
    positions = ", ".join(str(n + 1) for n in range(len(keys)))
    others = ", ".join(
        f"{metrics.unused_value(c)} AS {c}" for c in metrics.RAW_COLUMNS if c not in needed
    )
    sql = f"""WITH native AS (
{native.sql}
),
{imported},
merged AS (
  SELECT {", ".join(keys)}, {sums}
  FROM (SELECT {cols} FROM native UNION ALL SELECT {cols} FROM imported) u
  GROUP BY {positions}
)
SELECT {", ".join(keys)}, {", ".join(needed)}{", " + others if others else ""},
  NULL AS total_visitors, count(*) OVER () AS total_rows,
  (SELECT count(*) FROM imported) AS imported_groups
FROM merged{metrics.order_by(q, keys)}"""
    if q.group_by():
        sql += f"\nOFFSET {int(q.offset)} LIMIT {int(q.limit)}"
    return Statement(sql, native.params + args)
