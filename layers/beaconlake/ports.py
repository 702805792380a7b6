"""The ports: what the services need from the outside world. One adapter per back end
lives in beaconlake.adapters; `beaconlake.wiring` picks them. The core imports only these."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

from beaconlake.model import Event


class Sink(Protocol):
    """Where accepted events go (Firehose on AWS, Parquet files locally)."""

    def put(self, events: Sequence[Event]) -> None:
        """Accept events durably enough to answer 202, or raise SinkUnavailable."""

    def flush(self) -> None:
        """Write out anything buffered."""

    def close(self) -> None:
        """Flush and release resources."""

    def problem(self) -> str | None:
        """Why events cannot be accepted now (one sentence), or None: for `GET /health`."""
        ...


class SinkUnavailable(RuntimeError):
    """The sink cannot accept events now (disk full, stream throttled beyond retries)."""


@dataclass(frozen=True)
class Rollup:
    """Whole UTC days, first to last, whose sessions an engine keeps in a `session_rollup`
    table: one row per session (beaconlake.stats.sql.rollup_statement), partitioned by site_id
    and dt. Exact, because a visitor id is salted per day, so no session crosses midnight."""

    first: date
    last: date
    # the first and last of the days among them whose raw events retention deleted (only
    # their rollups are left: beaconlake.stats.expiry), or None
    raw_expired: tuple[date, date] | None = None


@dataclass(frozen=True)
class ExportFile:
    """One file of an export: a short-lived HTTPS GET link and its size in bytes."""

    url: str
    size: int


@dataclass(frozen=True)
class ExportFiles:
    """An export written to files (gzip-compressed CSV text) instead of streamed: `files` in
    the order to concatenate them (the header first), `rows` without the header, links
    valid until `expires_at` (UTC)."""

    rows: int
    files: tuple[ExportFile, ...]
    expires_at: datetime


class QueryEngine(Protocol):
    """Runs one Athena-dialect SELECT with positional `?` parameters."""

    def session_rollup(self, site_id: str, first: date, last: date) -> Rollup | None:
        """The days of first..last whose sessions are rolled up and current (the engine brings
        them up to date first), or None when it keeps no rollup."""
        ...

    def query(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]: ...

    @property
    def reads_imported(self) -> bool:
        """Whether its statements may read the imported tables (stats.sql.imported,
        docs/IMPORT.md); if not, queries answer from native data only."""
        ...

    def problem(self) -> str | None:
        """Why queries cannot be answered now (one sentence), or None: for `GET /health`."""
        ...

    def query_many(
        self, statements: Sequence[tuple[str, Sequence[Any]]]
    ) -> list[list[dict[str, Any]]]:
        """Several independent statements; adapters may run them concurrently."""
        ...

    def stream(
        self, sql: str, params: Sequence[Any], batch_rows: int = 10_000
    ) -> Iterator[list[dict[str, Any]]]:
        """A large result in batches, never all in memory (exports)."""
        ...

    def export(self, sql: str, params: Sequence[Any], header: Sequence[str]) -> ExportFiles | None:
        """Write the result of `sql`, one text column holding a finished CSV line per row,
        to gzip-compressed files after a file holding the `header` line, and return links to
        them; or None when this engine answers exports by `stream` (the caller streams)."""
        ...


@dataclass(frozen=True)
class RollupState:
    """What the daily job (beaconlake.stats.rollup_job) has done for one site, where a back
    end that runs it on a schedule keeps it: every past day from `first` to `through` has its
    rollups written from the day's files as they were then, except the `stale` days, whose
    files changed since (erasure, late data) and which the next run writes again. Statements
    read rollups only for days it covers and events for the others."""

    first: date
    through: date
    stale: frozenset[date] = frozenset()
    # the days whose raw events retention deleted, only their rollups kept (as read for
    # the stats function with the state: adapters.aws_days.RollupStateReader)
    raw_expired: frozenset[date] = frozenset()

    def covers(self, first: date, last: date) -> Rollup | None:
        """The days of first..last the rollups answer, or None (a stale day among them: the
        events answer them all, exactly, until the job has run)."""
        start, end = max(first, self.first), min(last, self.through)
        if start > end or any(start <= day <= end for day in self.stale):
            return None
        return Rollup(start, end)


Statements = Sequence[tuple[str, Sequence[Any]]]


class DayFiles(Protocol):
    """A back end's primitives for the daily job (beaconlake.stats.rollup_job), which is
    written once above them: a day's event files, and the rollup files written from them.
    Days are UTC days; a site's days are its `site_id=/dt=` partitions."""

    def sites(self) -> list[str]:
        """The sites that have event files or rollups."""
        ...

    def days(self, site_id: str) -> list[date]:
        """The days that have event files or rollups, oldest first."""
        ...

    def signature(self, site_id: str, day: date) -> str | None:
        """A digest of the day's event files as stored now (names and sizes or ETags), or
        None when it has none: it changes whenever a file is added, rewritten or removed."""
        ...

    def rows(self, site_id: str, day: date) -> int:
        """The day's events, to split its rollup into buckets of visitors; 0 when the back end
        needs no buckets (Athena spreads one statement over its workers)."""
        ...

    def compact(self, site_id: str, day: date) -> str | None:
        """Replace the day's event files with as few as the back end writes, the rows
        unchanged; the new signature, or None when the files changed meanwhile and nothing
        was replaced (the next run tries again)."""
        ...

    def rollup_signature(self, site_id: str, day: date) -> str | None:
        """The signature the day's rollups were written from, or None: none written."""
        ...

    def write_rollups(
        self, site_id: str, day: date, tables: Mapping[str, Statements], signature: str
    ) -> None:
        """Replace the day's files of each rollup table with the rows of its statements (in
        order, one visitor bucket each), then record `signature` for the day."""
        ...

    def drop_rollups(self, site_id: str, day: date) -> None:
        """Delete the day's rollups (its events are gone)."""
        ...

    def raw_expired(self, site_id: str, day: date) -> bool:
        """True when retention deleted the day's events and kept its rollups."""
        ...

    def state(self, site_id: str) -> RollupState | None:
        """What the job has recorded for the site (None: never run, or a back end that
        rolls up when asked instead)."""
        ...

    def save_state(self, site_id: str, state: RollupState) -> None: ...


# (site_id, day, bucket index, bucket count, source table) → (SQL, parameters)
DayStatement = Callable[[str, date, int, int, str], tuple[str, Sequence[Any]]]


@dataclass(frozen=True)
class LiveTable:
    """One rollup as the local engine keeps today's rows of it (beaconlake.stats.live_sql):
    its `rollup` view over past days' files and the `name` table of today's rows (site_id,
    dt, then `columns`), `view_select` the live rows as the view shows them, `statement` a
    day's rows from a source table, and how new rows merge into it (`merge_sql`, its rows
    matched on `merge_key`, with site_id and dt as parameters `merge_uses` times)."""

    name: str
    rollup: str
    columns: tuple[str, ...]
    view_select: str
    statement: DayStatement
    merge_sql: str
    merge_key: tuple[str, ...]
    merge_uses: int


@dataclass(frozen=True)
class LocalRollupSql:
    """The SQL of the local engine's rollups, written by the stats package and handed to the
    DuckDB adapter by wiring (an adapter runs the SQL it is given): the tables in the order
    they are written (the last one carries a day's signature), a whole day's WHERE clause,
    the statement counting events older than a visitor's last session (then the live day is
    computed again), and how many buckets of visitors a day of `rows` events needs."""

    tables: tuple[LiveTable, ...]
    day_where: Callable[[str, date], tuple[str, Sequence[Any]]]
    late_events: str
    bucket_count: Callable[[int, int], int]


class QueryFailed(RuntimeError):
    """The engine could not answer (Athena error, timeout): a 503."""


class QueryTooLarge(QueryFailed):
    """The query would read more than the engine allows (Athena's bytes-scanned cutoff): a
    400, since a shorter date range or fewer breakdowns will be answered."""


class SaltStore(Protocol):
    """Daily random salts, keyed by UTC date; deleted after 48 h."""

    def salt_for(self, day: str) -> bytes:
        """The salt of day 'YYYY-MM-DD', created if it does not exist yet."""
        ...

    def rotate(self, now: datetime) -> None:
        """Create today's salt and delete those older than 48 h."""
        ...

    def days(self) -> list[str]:
        """The days a salt is held for (for tests and operators; never the salts)."""
        ...


# What a key may do, named as Plausible names its key scopes: read stats, read the site
# catalogue (sites, goals, ...), change it. A key made before scopes existed reads stats only.
STATS_READ = "stats:read:*"
SITES_READ = "sites:read:*"
SITES_PROVISION = "sites:provision:*"
# send events from a server (POST /api/event with `Authorization: Bearer`; docs/SENDING.md)
EVENTS_SEND = "events:send:*"
ALL_SCOPES = (STATS_READ, SITES_READ, SITES_PROVISION, EVENTS_SEND)


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    sites: tuple[str, ...]
    label: str
    created: str
    scopes: tuple[str, ...] = (STATS_READ,)

    def allows(self, site_id: str) -> bool:
        return "*" in self.sites or site_id in self.sites

    def can(self, scope: str) -> bool:
        """`sites:provision:*` includes `sites:read:*`."""
        return scope in self.scopes or (scope == SITES_READ and SITES_PROVISION in self.scopes)


class KeyStore(Protocol):
    """Stats API keys, stored as hashes only."""

    def add(
        self,
        key_id: str,
        secret_hash: str,
        sites: tuple[str, ...],
        label: str,
        scopes: tuple[str, ...] = (STATS_READ,),
    ) -> ApiKey: ...

    def secret_hash(self, key_id: str) -> tuple[ApiKey, str] | None: ...

    def list(self) -> list[ApiKey]: ...

    def revoke(self, key_id: str) -> bool: ...

    def first_use(self, signature_id: str, expires_at: int) -> bool:
        """Remember a request signature until `expires_at` (epoch seconds): False if it was
        already seen and has not expired (a replay)."""
        ...


class LoginStore(Protocol):
    """Dashboard logins (a browser's log-in with a key, the operator password or a shared
    link) and shared links, each stored under the hash of its token only. `kind` is "session"
    (a login: the name its rows have always been stored under) or "share"; `expires_at`
    (epoch seconds) is a TTL, or None."""

    def put(
        self, kind: str, item_id: str, record: dict[str, Any], expires_at: int | None
    ) -> None: ...

    def get(self, kind: str, item_id: str) -> dict[str, Any] | None:
        """The record, or None if there is none or it has expired."""
        ...

    def delete(self, kind: str, item_id: str) -> bool: ...

    def list(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        """Every unexpired (id, record) of a kind (shared links: a handful per site)."""
        ...


class UserIdSecrets(Protocol):
    """One random secret per site, created on first use, that keys the user-id hash."""

    def secret_for(self, site_id: str) -> bytes: ...


@dataclass(frozen=True, order=True)
class Partition:
    site_id: str
    dt: str


@dataclass(frozen=True)
class StoreReport:
    """What an erasure or retention run did (counts only: safe to log)."""

    partitions: int = 0
    files_deleted: int = 0
    files_rewritten: int = 0
    rows_deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "partitions": self.partitions,
            "files_deleted": self.files_deleted,
            "files_rewritten": self.files_rewritten,
            "rows_deleted": self.rows_deleted,
        }


class EventStore(Protocol):
    """The stored events, for privacy operations (S3 prefixes on AWS, Parquet files locally).
    Changes are atomic per file: a reader sees a file before or after, never half of it."""

    def partitions(self) -> list[Partition]: ...

    def settle(self) -> None:
        """Make every accepted event visible to an erasure, or raise StoreBusy."""
        ...

    def drop(self, partitions: Sequence[Partition]) -> StoreReport:
        """Delete whole partitions."""
        ...

    def delete_rows(self, partitions: Sequence[Partition], column: str, value: str) -> StoreReport:
        """Rewrite the partitions' files without the rows where `column` equals `value`."""
        ...

    def expire(self, partitions: Sequence[Partition]) -> StoreReport:
        """Retention: delete whole partitions' events, keeping their days' rollups, marked
        as the only data left of those days."""
        ...

    def expired(self) -> list[Partition]:
        """The days whose events retention deleted and whose rollups are kept."""
        ...


class StoreBusy(RuntimeError):
    """Another process holds events not yet in the store (a running local server)."""


# ---- per-month rollups (beaconlake.stats.monthly, stats.monthly_job) --------------------------
# `tables`: each monthly table's stored columns and types (stats.monthly.table_columns).
MonthlyTables = Mapping[str, Sequence[tuple[str, str]]]


@runtime_checkable
class MonthlyRollups(Protocol):
    """A query engine that keeps per-month rollups: the months (their first days) touching
    first..last that only monthly rows answer, its views over `tables` made ready."""

    def monthly_months(
        self, site_id: str, first: date, last: date, tables: MonthlyTables
    ) -> list[date]: ...


@runtime_checkable
class MonthlyStore(Protocol):
    """Where per-month rollups are written: a month's rows of every table at once (all
    visible or none), listed, and erased."""

    def months(self, site_id: str) -> list[date]: ...

    def write_month(
        self,
        site_id: str,
        month: date,
        tables: MonthlyTables,
        rows: Mapping[str, Sequence[Mapping[str, Any]]],
    ) -> None: ...

    def erase_months(self, site_id: str, first: date, last: date) -> int:
        """Delete the months touching first..last; how many there were."""
        ...


# The generic store of (kind, id) → record the logins, shared links, the site catalogue
# (kinds "site", "goal", "funnel", "annotation", "segment", "seed") and the collector's
# sightings are kept in: a 0600 JSON file locally, a DynamoDB table on AWS. It is the
# LoginStore protocol under the name that says what it is.
RecordStore = LoginStore


@dataclass(frozen=True)
class Mail:
    """One e-mail, composed: a plain-text and an HTML body of the same content."""

    sender: str
    recipients: tuple[str, ...]
    subject: str
    text: str
    html: str


class Mailer(Protocol):
    """Sends mail: SMTP locally, SES on AWS. Raises MailFailed (one sentence, no secret)."""

    def send(self, mail: Mail) -> None: ...


class MailFailed(RuntimeError):
    """The mail server or service refused the message or could not be reached."""
