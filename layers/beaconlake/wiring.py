"""Build the adapters the settings ask for. The only module that branches on the back end."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from beaconlake.config import RETENTION_DAYS_VARIABLE, Settings
from beaconlake.ingest.service import CollectPolicy, CountryLookup
from beaconlake.model import Event
from beaconlake.ports import (
    EventStore,
    KeyStore,
    LoginStore,
    Mailer,
    QueryEngine,
    RecordStore,
    SaltStore,
    Sink,
    UserIdSecrets,
)
from beaconlake.site_ports import Goal, GoalStore, Sightings, SiteCatalogue

if TYPE_CHECKING:
    from beaconlake.adapters.duckdb_engine import DuckDBEngine
    from beaconlake.reports.job import ReportJob
    from beaconlake.sites import Catalogue
    from beaconlake.stats.rollup_job import RollupJob

T = TypeVar("T")


def _nothing_pending() -> Sequence[Event]:
    return ()


@dataclass
class Ports:
    settings: Settings
    sink: Sink
    salts: SaltStore
    keys: KeyStore
    country_lookup: CountryLookup | None
    user_ids: UserIdSecrets | None = None
    # accepted events not yet queryable (the local sink's buffer; Firehose's is out of reach)
    pending: Callable[[], Sequence[Event]] = _nothing_pending
    # the site catalogue (the collector asks it per beacon; its snapshot makes that free) and
    # what the collector saw per host ("verify installation")
    catalogue: Catalogue | None = None
    sightings: Sightings | None = None

    @property
    def policy(self) -> CollectPolicy:
        s = self.settings
        return CollectPolicy(
            sites=self.catalogue if self.catalogue is not None else s.sites,
            honour_dnt=s.honour_dnt,
            drop_localhost=s.drop_localhost,
            user_id_sites=s.user_id_sites,
            user_id_secret=self.user_ids.secret_for if self.user_ids else None,
            privacy=s.privacy,
        )


def build_ports(settings: Settings) -> Ports:
    if settings.backend == "aws":
        from beaconlake.adapters import aws
        from beaconlake.adapters.aws_keys import DynamoKeyStore
        from beaconlake.adapters.aws_user_ids import ParameterUserIdSecrets

        records = _aws_records(settings)
        return Ports(
            settings,
            sink=aws.FirehoseSink(settings.firehose_stream),
            salts=aws.ParameterSaltStore(settings.salt_parameter_prefix),
            keys=DynamoKeyStore(settings.keys_table),
            country_lookup=None,
            user_ids=ParameterUserIdSecrets(settings.user_id_parameter_prefix)
            if settings.user_id_sites
            else None,
            catalogue=build_catalogue(settings, records),
            sightings=build_sightings(records) if records is not None else None,
        )
    if settings.backend == "local":
        from beaconlake.adapters.file_keys import FileKeyStore
        from beaconlake.adapters.file_salts import FileSaltStore
        from beaconlake.adapters.file_user_ids import FileUserIdSecrets
        from beaconlake.adapters.geoip import geoip_country
        from beaconlake.adapters.parquet_sink import ParquetSink

        sink = ParquetSink(
            settings.data_dir,
            settings.flush_rows,
            settings.flush_seconds,
            spool_sync_ms=settings.spool_sync_ms,
        )
        return Ports(
            settings,
            sink=sink,
            salts=FileSaltStore(settings.data_dir / "salts.json"),
            keys=FileKeyStore(settings.data_dir / "keys.json"),
            country_lookup=geoip_country,
            user_ids=FileUserIdSecrets(settings.data_dir / "user_id_secrets.json"),
            pending=sink.pending,
            catalogue=build_catalogue(settings),
            sightings=build_sightings(record_store(settings, "sightings.json")),
        )
    raise ValueError(f"BEACONLAKE_BACKEND must be 'local' or 'aws', not {settings.backend!r}")


def record_store(settings: Settings, file_name: str = "catalogue.json") -> RecordStore:
    """The record store of the site catalogue and the sightings: on AWS the catalogue table
    (BEACONLAKE_CATALOGUE_TABLE; else the sessions table), locally a 0600 JSON file in the
    data directory."""
    if settings.backend == "aws":
        from beaconlake.adapters.aws_logins import DynamoLoginStore

        return DynamoLoginStore(settings.catalogue_table or settings.sessions_table)
    from beaconlake.adapters.file_logins import FileLoginStore

    return FileLoginStore(settings.data_dir / file_name)


def _file_version(path: Path) -> Callable[[], object]:
    def version() -> object:
        try:
            stat = path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    return version


def build_catalogue(
    settings: Settings, store: RecordStore | None = None, seed: bool = True
) -> Catalogue:
    """The site catalogue over the record store, seeded from BEACONLAKE_SITES (cdk.json's
    `sites`) and BEACONLAKE_GOALS / goals.json (`seed=False`: a reader that writes nothing,
    the daily job on AWS). Locally every read checks the file's modification time (a change
    made by another process is seen at once); on AWS the snapshot is read again after 60 s."""
    from beaconlake.sites import Catalogue, MemoryRecords
    from beaconlake.stats.goals import ConfiguredGoals

    goals = ConfiguredGoals(settings.data_dir).all if seed else _no_goals
    if settings.backend == "aws":
        seeded = seed or store is None  # a catalogue in memory holds the configuration
        return Catalogue(
            store or MemoryRecords(),
            seed_sites=settings.sites if seeded else (),
            seed_goals=goals,
            ttl_seconds=60.0,
        )
    path = settings.data_dir / "catalogue.json"
    return Catalogue(
        store or record_store(settings),
        seed_sites=settings.sites if seed else (),
        seed_goals=goals,
        ttl_seconds=None,
        version=_file_version(path),
    )


def catalogue_for(settings: Settings) -> Catalogue:
    """A catalogue of its own, built without the other ports (the CLI, beside a running
    server: the file or the table is shared, the snapshot is not). On AWS it seeds nothing:
    the functions seed the table from the stack's settings, not from this shell's."""
    if settings.backend == "aws":
        records = _aws_records(settings)
        if records is None:
            raise ValueError(
                "set BEACONLAKE_CATALOGUE_TABLE to the stack's SiteCatalogue table name"
            )
        return build_catalogue(settings, records, seed=False)
    return build_catalogue(settings)


def _no_goals() -> dict[str, tuple[Goal, ...]]:
    return {}


def build_sightings(store: RecordStore) -> Sightings:
    from beaconlake.adapters.record_sightings import RecordSightings

    return RecordSightings(store)


def build_engine(settings: Settings) -> QueryEngine:
    if settings.backend == "aws":
        from beaconlake.adapters import aws
        from beaconlake.adapters.aws_exports import ExportTarget

        # a result no older than Firehose's buffer is as fresh as the table: reuse it
        reuse_minutes = -(-settings.firehose_buffer_seconds // 60)
        from beaconlake.adapters.aws_days import RollupStateReader

        return aws.AthenaEngine(
            settings.athena_workgroup,
            settings.athena_database,
            result_reuse_minutes=reuse_minutes,
            exports=ExportTarget(settings.results_bucket, settings.export_link_seconds),
            rollup_state=RollupStateReader(settings.events_bucket)
            if settings.events_bucket
            else None,
        )
    from beaconlake.stats.limits import LIMITS

    return local_engine(
        settings.data_dir,
        memory_limit=settings.duckdb_memory_limit,
        query_seconds=LIMITS.query_seconds,
    )


def local_engine(
    data_dir: Path, rows_per_bucket: int | None = None, **options: Any
) -> DuckDBEngine:
    """DuckDB over the local Parquet tree, with the daily job (stats.rollup_job) attached: it
    brings past days' rollups up to date before a statement reads them. `options` are
    DuckDBEngine's; `rows_per_bucket` splits the job's days and the live day alike."""
    from beaconlake.adapters.duckdb_engine import DuckDBEngine
    from beaconlake.stats.live_sql import local_rollup_sql
    from beaconlake.stats.rollup_job import ROWS_PER_BUCKET, RollupJob

    rows_per_bucket = rows_per_bucket or ROWS_PER_BUCKET
    engine = DuckDBEngine(data_dir, local_rollup_sql(), rows_per_bucket=rows_per_bucket, **options)
    engine.refresh_days = RollupJob(
        engine, compact=False, rows_per_bucket=rows_per_bucket
    ).refresh_range
    from beaconlake.imports.local import views

    engine.extra_views = lambda: views(data_dir)  # imported tables (docs/IMPORT.md)
    return engine


def rollup_job(settings: Settings) -> RollupJob:
    """The daily job over the back end's day files: on AWS, S3 and Athena (it compacts);
    locally, the engine's Parquet tree (the sink's merges compact it)."""
    from beaconlake.stats.rollup_job import RollupJob

    if settings.backend == "aws":
        from beaconlake.adapters.aws import AthenaEngine
        from beaconlake.adapters.aws_days import S3DayFiles

        # the job waits for Athena longer than a dashboard would (Lambda: 900 s)
        athena = AthenaEngine(
            settings.athena_workgroup, settings.athena_database, timeout_seconds=600
        )
        files = S3DayFiles(
            settings.events_bucket,
            settings.events_prefix,
            athena,
            staging_bucket=settings.results_bucket,
            sites=catalogue_sites(build_catalogue(settings, _aws_records(settings), seed=False)),
        )
        return RollupJob(files, compact=True)
    engine = local_engine(settings.data_dir, memory_limit=settings.duckdb_memory_limit)
    engine.site_list = catalogue_sites(build_catalogue(settings))
    return RollupJob(engine, compact=False)


def _aws_records(settings: Settings) -> RecordStore | None:
    """Without a DynamoDB table (a bare test set-up) the configuration is the catalogue."""
    has_table = settings.catalogue_table or settings.sessions_table
    return record_store(settings) if has_table else None


def catalogue_sites(catalogue: SiteCatalogue) -> Callable[[], list[str]]:
    """The catalogue's domains, read when called (the daily job's list of sites)."""
    return lambda: [site.domain for site in catalogue.sites()]


def run_daily_job(now: datetime | None = None) -> dict[str, Any]:
    """The scheduled run (functions/rollups on AWS): every site's past days compacted and
    rolled up; what it did, as counts."""
    report = rollup_job(Settings.from_env()).run((now or datetime.now(UTC)).date())
    return report.as_dict()


def run_retention(now: datetime | None = None) -> dict[str, int]:
    """Downsampled retention after the scheduled run (functions/rollups): the events of the
    days before the last BEACONLAKE_RETENTION_DAYS deleted, each day's rollups brought up to
    date first and kept (erasure.apply_retention); nothing when the variable is unset or 0
    (the stack sets it from its `retention_days`, whose 0 keeps events)."""
    import os

    from beaconlake import erasure

    days = int(os.environ.get(RETENTION_DAYS_VARIABLE) or 0)
    if days < 1:
        return {}
    job = rollup_job(Settings.from_env())
    today = (now or datetime.now(UTC)).date()
    return erasure.apply_retention(event_store(), today, days, job.refresh).as_dict()


class Once(Generic[T]):
    """A value built on first use, exactly once even when threads ask for it at the same
    moment (functools.lru_cache may build it twice: two sinks would each hold events)."""

    def __init__(self, build: Callable[[], T]) -> None:
        self.build = build
        self._lock = threading.Lock()
        self._value: list[T] = []

    def __call__(self) -> T:
        if not self._value:
            with self._lock:
                if not self._value:
                    self._value.append(self.build())
        return self._value[0]

    @property
    def built(self) -> bool:
        return bool(self._value)

    def forget(self) -> None:
        with self._lock:
            self._value.clear()


@Once
def ports() -> Ports:
    """The process-wide ports (one per Lambda container or local server)."""
    return build_ports(Settings.from_env())


@Once
def engine() -> QueryEngine:
    return build_engine(Settings.from_env())


@Once
def login_store() -> LoginStore:
    """Dashboard logins and shared links (DynamoDB with TTL on AWS, a 0600 file locally)."""
    settings = Settings.from_env()
    if settings.backend == "aws":
        from beaconlake.adapters.aws_logins import DynamoLoginStore

        return DynamoLoginStore(settings.sessions_table)
    from beaconlake.adapters.file_logins import FileLoginStore

    return FileLoginStore(settings.data_dir / "dashboard.json")


def catalogue() -> SiteCatalogue:
    """The process's site catalogue (the one the collector asks)."""
    built = ports().catalogue
    assert built is not None  # build_ports always builds one
    return built


def sightings() -> Sightings:
    """What the collector saw per host (none kept without a record store: an empty one)."""
    built = ports().sightings
    if built is None:
        from beaconlake.sites import MemoryRecords

        built = build_sightings(MemoryRecords())
        ports().sightings = built
    return built


def goal_store() -> GoalStore:
    """The sites' goals: the catalogue's (seeded from BEACONLAKE_GOALS / goals.json)."""
    return catalogue()


def event_store() -> EventStore:
    """The stored events, for erasure and retention."""
    settings = Settings.from_env()
    if settings.backend == "local":
        from beaconlake.adapters.parquet_sink import ParquetEventStore

        return ParquetEventStore(settings.data_dir)
    if settings.backend == "aws":
        from beaconlake.adapters.aws_events import S3EventStore

        return S3EventStore(settings.events_bucket, settings.events_prefix)
    raise ValueError(f"BEACONLAKE_BACKEND must be 'local' or 'aws', not {settings.backend!r}")


def late_events_note(last_day: date) -> str | None:
    """A warning for the operator if events of days up to `last_day` may not be stored yet
    (Firehose's buffer, on AWS; the local erasure waits for its spool instead)."""
    settings = Settings.from_env()
    if settings.backend != "aws":
        return None
    from beaconlake.adapters.aws_events import late_events_note as note

    return note(last_day, datetime.now(UTC), settings.firehose_buffer_seconds)


def reset() -> None:
    """Forget the process-wide ports (tests and the local server's shutdown)."""
    if ports.built:
        ports().sink.close()
    ports.forget()
    engine.forget()
    login_store.forget()


def build_mailer(settings: Settings) -> tuple[Mailer, str] | None:
    """The mailer and the sender address, or None when no mail is configured: on AWS SES from
    the stack's `report_sender` identity (BEACONLAKE_REPORT_SENDER), locally SMTP from
    BEACONLAKE_SMTP_HOST, _PORT, _USER, _PASSWORD, _FROM and _STARTTLS."""
    import os

    if settings.backend == "aws":
        sender = os.environ.get("BEACONLAKE_REPORT_SENDER", "")
        if not sender:
            return None
        from beaconlake.adapters.mail import SesMailer

        return SesMailer(), sender
    host = os.environ.get("BEACONLAKE_SMTP_HOST", "")
    if not host:
        return None
    from beaconlake.adapters.mail import SmtpMailer

    user = os.environ.get("BEACONLAKE_SMTP_USER") or None
    sender = os.environ.get("BEACONLAKE_SMTP_FROM") or user or f"beaconlake@{host}"
    starttls = os.environ.get("BEACONLAKE_SMTP_STARTTLS", "true").lower() not in ("0", "false")
    port = os.environ.get("BEACONLAKE_SMTP_PORT", "").strip() or "587"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise SystemExit(f"BEACONLAKE_SMTP_PORT must be a port number, not {port!r}")
    mailer = SmtpMailer(
        host,
        int(port),
        user,
        os.environ.get("BEACONLAKE_SMTP_PASSWORD") or None,
        starttls,
    )
    return mailer, sender


def report_job(settings: Settings | None = None, standalone: bool = False) -> ReportJob | None:
    """The e-mail report job (its settings are record kinds of the login store), or None when
    no mail is configured: over this process's ports, or (`standalone`, the CLI beside a
    running server) over a catalogue and an engine of its own, without a sink."""
    from beaconlake.reports.book import ReportBook
    from beaconlake.reports.job import ReportJob

    settings = settings or Settings.from_env()
    mail = build_mailer(settings)
    if mail is None:
        return None
    book = ReportBook(login_store())
    if standalone:
        return ReportJob(build_engine(settings), catalogue_for(settings), book, *mail)
    return ReportJob(engine(), catalogue(), book, *mail, pending=ports().pending)


def run_report_job(kind: str, now: datetime | None = None) -> dict[str, Any]:
    """The scheduled run on AWS (functions/reports): "reports" or "alerts"; what it sent."""
    job = report_job(standalone=True)  # a Lambda has no sink to count pending events from
    if job is None:
        return {"sent": [], "reason": "no report sender configured"}
    moment = now or datetime.now(UTC)
    return {"sent": job.alerts(moment) if kind == "alerts" else job.scheduled(moment)}
