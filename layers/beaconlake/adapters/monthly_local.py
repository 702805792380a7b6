"""The local back end's per-month rollups (beaconlake.stats.monthly): one directory per site
and month, `monthly/site_id=<site>/dt=<YYYY-MM-01>/<table>.parquet`, written whole under a
hidden name and renamed into place, so a month is condensed entirely or not at all (a
reader sees the directory with every table, or no directory). Erasing any day of a month
deletes the month's directory. The query engine's views read the files; the tables' columns
are handed in (stats.monthly.table_columns): an adapter runs what it is given."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from beaconlake.adapters.compaction import make_private_dirs
from beaconlake.ports import MonthlyTables

MONTHLY_DIR = "monthly"
_ARROW = {"varchar": pa.string(), "bigint": pa.int64(), "decimal(38,4)": pa.decimal128(38, 4)}
_DUCK = {"varchar": "VARCHAR", "bigint": "BIGINT", "decimal(38,4)": "DECIMAL(38,4)"}


def _site_dir(root: Path, site_id: str) -> Path:
    return root / MONTHLY_DIR / f"site_id={site_id}"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _column(values: list[Any], kind: str) -> pa.Array:
    if kind == "decimal(38,4)":
        values = [None if v is None else Decimal(v).quantize(Decimal("0.0001")) for v in values]
    return pa.array(values, type=_ARROW[kind])


class LocalMonthly:
    """MonthlyStore over the data directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def months(self, site_id: str) -> list[date]:
        return sorted(
            date.fromisoformat(d.name.removeprefix("dt="))
            for d in _site_dir(self.root, site_id).glob("dt=*")
            if d.is_dir()
        )

    def write_month(
        self,
        site_id: str,
        month: date,
        tables: MonthlyTables,
        rows: Mapping[str, Sequence[Mapping[str, Any]]],
    ) -> None:
        site = _site_dir(self.root, site_id)
        target = site / f"dt={month.isoformat()}"
        if target.exists():
            return
        staging = site / f".partial-dt={month.isoformat()}"
        shutil.rmtree(staging, ignore_errors=True)
        make_private_dirs(staging)
        for name, columns in tables.items():
            stored = [(c, k) for c, k in columns if c != "dt"]
            table_rows = rows.get(name, [])
            arrays = [_column([r.get(c) for r in table_rows], k) for c, k in stored]
            table = pa.Table.from_arrays(arrays, names=[c for c, _ in stored])
            with open(staging / f"{name}.parquet", "wb") as f:
                pq.write_table(table, f)
                f.flush()
                os.fsync(f.fileno())
        os.replace(staging, target)

    def erase_months(self, site_id: str, first: date, last: date) -> int:
        gone = 0
        for month in self.months(site_id):
            next_month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
            if month <= last and first < next_month:
                shutil.rmtree(_site_dir(self.root, site_id) / f"dt={month.isoformat()}")
                gone += 1
        return gone

    def signature(self) -> str:
        """Which months exist (their directories never change once in place)."""
        dirs = sorted(str(p) for p in (self.root / MONTHLY_DIR).glob("site_id=*/dt=*"))
        return "|".join(dirs)

    def views_sql(self, tables: MonthlyTables) -> list[str]:
        """A view per monthly table: its files' rows (site_id and dt from the path), or typed
        and empty when it has none."""
        out = []
        base = self.root / MONTHLY_DIR
        for name, columns in tables.items():
            rest = [(c, k) for c, k in columns if c != "dt"]
            if any(base.glob(f"site_id=*/dt=*/{name}.parquet")):
                pattern = _literal(str(base / "site_id=*" / "dt=*" / f"{name}.parquet"))
                cols = ", ".join(["dt", *(c for c, _ in rest)])
                body = (
                    f"SELECT site_id, {cols} FROM read_parquet({pattern}, hive_partitioning = "
                    "true, hive_types = {'site_id': VARCHAR, 'dt': VARCHAR})"
                )
            else:
                cols = ", ".join(f"CAST(NULL AS {_DUCK[k]}) AS {c}" for c, k in columns)
                body = f"SELECT CAST(NULL AS VARCHAR) AS site_id, {cols} WHERE false"
            out.append(f"CREATE OR REPLACE VIEW {name} AS {body}")
        return out
