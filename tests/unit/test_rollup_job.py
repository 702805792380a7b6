"""The daily job's decisions (beaconlake.stats.rollup_job), over an in-memory DayFiles: which
days it compacts and rolls up, what it records, and what the recorded state lets statements
read from rollups. The SQL it writes and the answers it gives are tested end to end locally
(tests/unit/test_session_rollup.py) and on the AWS path (tests/aws_box/test_rollups.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest

from beaconlake.ports import Rollup, RollupState, Statements
from beaconlake.stats.rollup_job import RollupJob, rollup_columns, signed
from beaconlake.stats.sql import WHOLE_DAY

SITE = "example.com"
D1, D2, D3, D4, D5 = (date(2026, 3, 1) + timedelta(days=n) for n in range(5))


@dataclass
class Files:
    """A back end's days: each (site, day) has a list of file names; `busy` days change while
    they are compacted (a late delivery lands meanwhile)."""

    files: dict[tuple[str, date], list[str]] = field(default_factory=dict)
    rollups: dict[tuple[str, date], str] = field(default_factory=dict)
    states: dict[str, RollupState] = field(default_factory=dict)
    busy: set[date] = field(default_factory=set)
    written: list[tuple[str, date, tuple[str, ...]]] = field(default_factory=list)
    compacted: list[date] = field(default_factory=list)
    expired: set[tuple[str, date]] = field(default_factory=set)

    def sites(self) -> list[str]:
        return sorted({s for s, _ in self.files} | {s for s, _ in self.rollups})

    def days(self, site_id: str) -> list[date]:
        keys = {*self.files, *self.rollups}
        return sorted(d for s, d in keys if s == site_id)

    def signature(self, site_id: str, day: date) -> str | None:
        names = self.files.get((site_id, day))
        return ",".join(sorted(names)) if names else None

    def rows(self, site_id: str, day: date) -> int:
        return 0

    def compact(self, site_id: str, day: date) -> str | None:
        if day in self.busy:
            self.files[(site_id, day)].append("late")
            return None
        self.compacted.append(day)
        self.files[(site_id, day)] = [f"compacted-{day}"]
        return self.signature(site_id, day)

    def rollup_signature(self, site_id: str, day: date) -> str | None:
        return self.rollups.get((site_id, day))

    def write_rollups(
        self, site_id: str, day: date, tables: Mapping[str, Statements], signature: str
    ) -> None:
        self.written.append((site_id, day, tuple(tables)))
        self.rollups[(site_id, day)] = signature

    def drop_rollups(self, site_id: str, day: date) -> None:
        del self.rollups[(site_id, day)]

    def raw_expired(self, site_id: str, day: date) -> bool:
        return (site_id, day) in self.expired

    def state(self, site_id: str) -> RollupState | None:
        return self.states.get(site_id)

    def save_state(self, site_id: str, state: RollupState) -> None:
        self.states[site_id] = state


def days_of(files: Files, *days: date) -> Files:
    for day in days:
        files.files[(SITE, day)] = [f"firehose-{day}-1", f"firehose-{day}-2"]
    return files


def test_a_first_run_compacts_and_rolls_up_every_past_day_not_today() -> None:
    files = days_of(Files(), D1, D2, D3)
    report = RollupJob(files, compact=True).run(today=D3)
    assert files.compacted == [D1, D2]
    assert [(d, t) for _, d, t in files.written] == [
        (D1, ("page_rollup", "session_rollup")),
        (D2, ("page_rollup", "session_rollup")),
    ]
    assert files.states[SITE] == RollupState(D1, D2)
    assert report.days_rolled_up == 2 and report.days_compacted == 2


def test_a_day_is_written_again_only_when_its_files_or_the_sql_changed(monkeypatch) -> None:
    files = days_of(Files(), D1, D2)
    job = RollupJob(files, compact=True)
    job.run(today=D3)
    assert job.run(today=D3).days_rolled_up == 0
    files.files[(SITE, D2)].append("late")  # a late delivery
    report = job.run(today=D3)
    assert report.days_rolled_up == report.days_compacted == 1
    assert files.rollups[(SITE, D2)] == signed(files.signature(SITE, D2) or "")

    from beaconlake.stats import rollup_job

    monkeypatch.setattr(rollup_job, "rollup_sql_digest", lambda: "another version")
    assert job.run(today=D3).days_rolled_up == 2  # within the lookback window


def test_scheduled_runs_look_back_a_few_days_not_at_all_history() -> None:
    files = days_of(Files(), D1, D2, D3, D4)
    job = RollupJob(files, compact=True, lookback_days=1)
    job.run(today=D5)
    files.files[(SITE, D1)].append("very late")  # older than the lookback
    files.files[(SITE, D3)].append("late")
    report = job.run(today=D5)
    assert report.days_checked == 2  # D3 and D4
    assert files.rollups[(SITE, D1)] != signed(files.signature(SITE, D1) or "")


def test_a_day_that_changes_while_compacted_is_recorded_stale_and_retried() -> None:
    files = days_of(Files(), D1, D2)
    files.busy = {D2}
    report = RollupJob(files, compact=True).run(today=D3)
    assert report.stale == [f"{SITE} {D2}"]
    assert files.states[SITE] == RollupState(D1, D2, frozenset({D2}))
    assert files.states[SITE].covers(D1, D2) is None  # statements read events for D1..D2
    files.busy = set()
    RollupJob(files, compact=True).run(today=D3)
    assert files.states[SITE] == RollupState(D1, D2)


def test_stale_days_are_due_even_without_files_and_their_rollups_dropped() -> None:
    files = days_of(Files(), D1, D2, D3)
    job = RollupJob(files, compact=True, lookback_days=0)
    job.run(today=D4)
    del files.files[(SITE, D1)]  # erased: its events gone, the day marked stale
    files.states[SITE] = RollupState(D1, D3, frozenset({D1}))
    report = job.run(today=D4)
    assert report.days_dropped == 1 and (SITE, D1) not in files.rollups
    assert files.states[SITE] == RollupState(D1, D3)


def test_a_day_whose_events_retention_deleted_keeps_its_rollups() -> None:
    files = days_of(Files(), D1, D2, D3)
    job = RollupJob(files, compact=True, lookback_days=0)
    job.run(today=D4)
    written = files.rollups[(SITE, D1)]
    del files.files[(SITE, D1)], files.files[(SITE, D2)]
    files.expired.add((SITE, D1))  # retention: events gone, rollups kept
    files.states[SITE] = RollupState(D1, D3, frozenset({D1, D2}))
    report = job.run(today=D4)
    assert report.days_dropped == 1 and (SITE, D2) not in files.rollups  # D2 was erased
    assert files.rollups[(SITE, D1)] == written


def test_locally_nothing_is_compacted_and_ranges_are_refreshed_on_demand() -> None:
    files = days_of(Files(), D1, D2, D3)
    RollupJob(files, compact=False).refresh_range(SITE, D2, D3)
    assert files.compacted == []
    assert [d for _, d, _ in files.written] == [D2, D3]


@pytest.mark.parametrize(
    ("state", "first", "last", "covered"),
    [
        (RollupState(D2, D4), D1, D5, Rollup(D2, D4)),
        (RollupState(D2, D4), D3, D3, Rollup(D3, D3)),
        (RollupState(D2, D4), D5, D5, None),
        (RollupState(D2, D3, frozenset({D3})), D1, D5, None),
        (RollupState(D2, D4, frozenset({D4})), D1, D2, Rollup(D2, D2)),
    ],
)
def test_what_a_recorded_state_covers(state, first, last, covered) -> None:
    assert state.covers(first, last) == covered


def test_the_rollup_tables_columns_are_the_columns_their_statements_write(tmp_path) -> None:
    """The Glue tables (infra_cdk.catalog) are declared from rollup_columns: DuckDB, running
    each statement over an empty typed events view, must find the same names and types."""
    import duckdb

    from beaconlake.adapters.duckdb_sql import typed_empty_rows
    from beaconlake.sqldialect import athena_to_duckdb
    from beaconlake.stats.rollup_job import ROLLUP_STATEMENTS

    glue_to_duckdb = {
        "bigint": "BIGINT",
        "string": "VARCHAR",
        "timestamp": "TIMESTAMP",
        "boolean": "BOOLEAN",
        "decimal(38,4)": "DECIMAL(38,4)",
    }
    db = duckdb.connect()
    db.execute(f"CREATE VIEW events AS {typed_empty_rows()}")
    for table, statement in ROLLUP_STATEMENTS:
        st = statement(SITE, D1, WHOLE_DAY)
        result = db.execute(athena_to_duckdb(st.sql), list(st.params))
        # DuckDB sums integers into HUGEINT and keeps the events' millisecond timestamps;
        # Trino's sum of an integer is a bigint, its timestamp(3) is Glue's `timestamp`
        same = {"HUGEINT": "BIGINT", "TIMESTAMP_MS": "TIMESTAMP"}
        found = [(d[0], same.get(str(d[1]), str(d[1]))) for d in result.description]
        declared = [(n, glue_to_duckdb[t]) for n, t in rollup_columns()[table]]
        assert found == declared, table


def test_a_covered_day_stops_being_covered_before_it_is_rewritten() -> None:
    files = days_of(Files(), D1, D2)
    job = RollupJob(files, compact=True)
    job.run(today=D3)
    seen: list[RollupState] = []
    write = files.write_rollups

    def watching(site_id, day, tables, signature) -> None:
        seen.append(files.states[SITE])
        write(site_id, day, tables, signature)

    files.write_rollups = watching  # type: ignore[method-assign]
    files.files[(SITE, D2)].append("late")
    job.run(today=D3)
    assert seen == [RollupState(D1, D2, frozenset({D2}))]  # while D2 was rewritten
    assert files.states[SITE] == RollupState(D1, D2)
