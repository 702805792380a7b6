"""Settings, read once from the environment. The one place that knows the variable names."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from beaconlake.domains import normalise_domain


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _sites(raw: str) -> frozenset[str]:
    return frozenset(normalise_domain(s) for s in raw.split(",") if s.strip())


@dataclass(frozen=True)
class Settings:
    backend: str = "local"
    data_dir: Path = Path("./data")
    sites: frozenset[str] = field(default_factory=lambda: frozenset({"example.com"}))
    honour_dnt: bool = True
    drop_localhost: bool = True
    flush_rows: int = 5000
    flush_seconds: int = 5
    duckdb_memory_limit: str = "256MB"
    client_ip_header: str = ""
    # AWS back end
    firehose_stream: str = ""
    salt_parameter_prefix: str = "/beaconlake/salts"
    keys_table: str = ""
    athena_workgroup: str = ""
    athena_database: str = ""
    athena_table: str = "events"

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
            duckdb_memory_limit=env("BEACONLAKE_DUCKDB_MEMORY_LIMIT", "256MB"),
            client_ip_header=env("BEACONLAKE_CLIENT_IP_HEADER", "").lower(),
            firehose_stream=env("BEACONLAKE_FIREHOSE_STREAM", ""),
            salt_parameter_prefix=env("BEACONLAKE_SALT_PREFIX", "/beaconlake/salts"),
            keys_table=env("BEACONLAKE_KEYS_TABLE", ""),
            athena_workgroup=env("BEACONLAKE_ATHENA_WORKGROUP", ""),
            athena_database=env("BEACONLAKE_ATHENA_DATABASE", ""),
            athena_table=env("BEACONLAKE_ATHENA_TABLE", "events"),
        )
