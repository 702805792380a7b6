"""Settings, read once from the environment. The one place that knows the variable names."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from beaconlake.domains import normalise_domain

# Where Firehose writes the events in the bucket (the CDK imports it from here).
EVENTS_PREFIX = "events/"
# Where exports are written in the Athena results bucket (the CDK imports it from here: a
# lifecycle rule deletes them after a day).
EXPORTS_PREFIX = "exports/"
# Goals per site as JSON (beaconlake.stats.goals reads it, before `<data_dir>/goals.json`);
# on AWS the CDK sets it on the stats function from the `goals` deploy setting.
GOALS_VARIABLE = "BEACONLAKE_GOALS"
# "false" keeps the collector's BeaconsDropped counters out of CloudWatch (beaconlake.telemetry
# reads it; the CDK sets it from the `drop_metrics` deploy setting, docs/COST.md).
DROP_METRICS_VARIABLE = "BEACONLAKE_DROP_METRICS"
# days of raw events kept (downsampled retention, beaconlake.erasure); on AWS the CDK sets it
# on the daily job from the `retention_days` deploy setting (0: keep everything)
RETENTION_DAYS_VARIABLE = "BEACONLAKE_RETENTION_DAYS"


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _sites(raw: str) -> frozenset[str]:
    return frozenset(normalise_domain(s) for s in raw.split(",") if s.strip())


# `BEACONLAKE_PRIVACY`: "standard" (the default) or "minimal" (docs/PRIVACY.md); the CDK sets
# it on the collector and the stats function from the `privacy` deploy setting.
PRIVACY_VARIABLE = "BEACONLAKE_PRIVACY"
PRIVACY_MODES = ("standard", "minimal")


@dataclass(frozen=True)
class Privacy:
    """What the collector coarsens or leaves out (docs/PRIVACY.md, "Minimal mode"). Each flag
    has its own variable (PRIVACY_FLAG_VARIABLES); minimal mode switches on all but
    `no_visitor_id`, and a flag set explicitly wins over the mode."""

    hourly_timestamps: bool = False
    no_versions: bool = False
    no_device: bool = False
    country_only: bool = False
    referrer_host_only: bool = False
    no_visitor_id: bool = False
    truncate_addresses: bool = False

    @classmethod
    def minimal(cls) -> Privacy:
        return cls(True, True, True, True, True, False, True)

    @classmethod
    def from_env(cls) -> Privacy:
        mode = (os.environ.get(PRIVACY_VARIABLE) or "standard").strip().lower()
        if mode not in PRIVACY_MODES:
            raise ValueError(
                f"{PRIVACY_VARIABLE} must be one of {', '.join(PRIVACY_MODES)}, not {mode!r}"
            )
        base = cls.minimal() if mode == "minimal" else cls()
        flags = {name: _bool(var, getattr(base, name)) for name, var in PRIVACY_FLAG_VARIABLES}
        return cls(**flags)


PRIVACY_FLAG_VARIABLES: tuple[tuple[str, str], ...] = (
    ("hourly_timestamps", "BEACONLAKE_PRIVACY_HOURLY_TIMESTAMPS"),
    ("no_versions", "BEACONLAKE_PRIVACY_NO_VERSIONS"),
    ("no_device", "BEACONLAKE_PRIVACY_NO_DEVICE"),
    ("country_only", "BEACONLAKE_PRIVACY_COUNTRY_ONLY"),
    ("referrer_host_only", "BEACONLAKE_PRIVACY_REFERRER_HOST_ONLY"),
    ("no_visitor_id", "BEACONLAKE_PRIVACY_NO_VISITOR_ID"),
    ("truncate_addresses", "BEACONLAKE_TRUNCATE_ADDRESSES"),
)


@dataclass(frozen=True)
class Settings:
    backend: str = "local"
    data_dir: Path = Path("./data")
    sites: frozenset[str] = field(default_factory=lambda: frozenset({"example.com"}))
    honour_dnt: bool = True
    drop_localhost: bool = True
    flush_rows: int = 5000
    flush_seconds: int = 5
    # N: fdatasync the spool every N ms; 0: before each 202 (docs/RELIABILITY.md)
    spool_sync_ms: int = 20
    duckdb_memory_limit: str = "256MB"
    client_ip_header: str = ""
    user_id_sites: frozenset[str] = frozenset()
    dashboard_password_hash: str = ""
    # abuse limits (docs/SECURITY.md); a rate of 0 switches that limit off
    check_origin: bool = False
    ingest_ip_rate: float = 20.0
    ingest_ip_burst: int = 200
    ingest_site_rate: float = 2000.0
    ingest_site_burst: int = 20000
    auth_failures_per_minute: float = 10.0
    auth_failures_burst: int = 10
    # AWS back end
    firehose_stream: str = ""
    salt_parameter_prefix: str = "/beaconlake/salts"
    keys_table: str = ""
    athena_workgroup: str = ""
    athena_database: str = ""
    sessions_table: str = ""
    # the site catalogue and the collector's sightings (DynamoDB); the sessions table if unset
    catalogue_table: str = ""
    user_id_parameter_prefix: str = "/beaconlake/user-id-secrets"
    events_bucket: str = ""
    events_prefix: str = EVENTS_PREFIX
    firehose_buffer_seconds: int = 300  # as cdk.json's firehose_buffer_seconds
    results_bucket: str = ""  # Athena's results bucket: exports are written under EXPORTS_PREFIX
    export_link_seconds: int = 900  # how long an export's download links are valid
    # downsampled retention: raw events kept N days, their daily rollups after that
    retention_days: int = 395
    # ... and their daily rollups M more days, per-month rollups after that (docs/PRIVACY.md)
    daily_rollup_days: int = 365
    # privacy modes (docs/PRIVACY.md): the collector coarsens, the stats API says what is lost
    privacy: Privacy = field(default_factory=Privacy)

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get
        return cls(
            backend=env("BEACONLAKE_BACKEND", "local"),
            data_dir=Path(env("BEACONLAKE_DATA_DIR", "./data")),
            sites=_sites(env("BEACONLAKE_SITES", "example.com")),
            honour_dnt=_bool("BEACONLAKE_HONOUR_DNT", True),
            drop_localhost=_bool("BEACONLAKE_DROP_LOCALHOST", True),
            flush_rows=_int("BEACONLAKE_FLUSH_ROWS", 5000),
            flush_seconds=_int("BEACONLAKE_FLUSH_SECONDS", 5),
            spool_sync_ms=_int("BEACONLAKE_SPOOL_SYNC_MS", 20),
            duckdb_memory_limit=env("BEACONLAKE_DUCKDB_MEMORY_LIMIT", "256MB"),
            client_ip_header=env("BEACONLAKE_CLIENT_IP_HEADER", "").lower(),
            user_id_sites=_sites(env("BEACONLAKE_USER_ID_SITES", "")),
            dashboard_password_hash=env("BEACONLAKE_DASHBOARD_PASSWORD_HASH", ""),
            check_origin=_bool("BEACONLAKE_CHECK_ORIGIN", False),
            ingest_ip_rate=_float("BEACONLAKE_INGEST_IP_RATE", 20.0),
            ingest_ip_burst=_int("BEACONLAKE_INGEST_IP_BURST", 200),
            ingest_site_rate=_float("BEACONLAKE_INGEST_SITE_RATE", 2000.0),
            ingest_site_burst=_int("BEACONLAKE_INGEST_SITE_BURST", 20000),
            auth_failures_per_minute=_float("BEACONLAKE_AUTH_FAILURES_PER_MINUTE", 10.0),
            auth_failures_burst=_int("BEACONLAKE_AUTH_FAILURES_BURST", 10),
            firehose_stream=env("BEACONLAKE_FIREHOSE_STREAM", ""),
            salt_parameter_prefix=env("BEACONLAKE_SALT_PREFIX", "/beaconlake/salts"),
            keys_table=env("BEACONLAKE_KEYS_TABLE", ""),
            athena_workgroup=env("BEACONLAKE_ATHENA_WORKGROUP", ""),
            athena_database=env("BEACONLAKE_ATHENA_DATABASE", ""),
            sessions_table=env("BEACONLAKE_SESSIONS_TABLE", ""),
            catalogue_table=env("BEACONLAKE_CATALOGUE_TABLE", ""),
            user_id_parameter_prefix=env(
                "BEACONLAKE_USER_ID_PARAMETER_PREFIX", "/beaconlake/user-id-secrets"
            ),
            events_bucket=env("BEACONLAKE_EVENTS_BUCKET", ""),
            events_prefix=env("BEACONLAKE_EVENTS_PREFIX", EVENTS_PREFIX),
            firehose_buffer_seconds=_int("BEACONLAKE_FIREHOSE_BUFFER_SECONDS", 300),
            results_bucket=env("BEACONLAKE_RESULTS_BUCKET", ""),
            export_link_seconds=_int("BEACONLAKE_EXPORT_LINK_SECONDS", 900),
            retention_days=_int(RETENTION_DAYS_VARIABLE, 395),
            daily_rollup_days=_int("BEACONLAKE_DAILY_ROLLUP_DAYS", 365),
            privacy=Privacy.from_env(),
        )
