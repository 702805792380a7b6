"""Build the adapters the settings ask for. The only module that branches on the back end."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from beaconlake.config import Settings
from beaconlake.ingest.service import CollectPolicy, CountryLookup
from beaconlake.ports import KeyStore, QueryEngine, SaltStore, Sink


@dataclass
class Ports:
    settings: Settings
    sink: Sink
    salts: SaltStore
    keys: KeyStore
    country_lookup: CountryLookup | None

    @property
    def policy(self) -> CollectPolicy:
        s = self.settings
        return CollectPolicy(
            sites=s.sites, honour_dnt=s.honour_dnt, drop_localhost=s.drop_localhost
        )


def build_ports(settings: Settings) -> Ports:
    if settings.backend == "aws":
        from beaconlake.adapters import aws

        return Ports(
            settings,
            sink=aws.FirehoseSink(settings.firehose_stream),
            salts=aws.ParameterSaltStore(settings.salt_parameter_prefix),
            keys=aws.DynamoKeyStore(settings.keys_table),
            country_lookup=None,
        )
    if settings.backend == "local":
        from beaconlake.adapters.file_keys import FileKeyStore
        from beaconlake.adapters.file_salts import FileSaltStore
        from beaconlake.adapters.geoip import geoip_country
        from beaconlake.adapters.parquet_sink import ParquetSink

        return Ports(
            settings,
            sink=ParquetSink(settings.data_dir, settings.flush_rows, settings.flush_seconds),
            salts=FileSaltStore(settings.data_dir / "salts.json"),
            keys=FileKeyStore(settings.data_dir / "keys.json"),
            country_lookup=geoip_country,
        )
    raise ValueError(f"BEACONLAKE_BACKEND must be 'local' or 'aws', not {settings.backend!r}")


def build_engine(settings: Settings) -> QueryEngine:
    if settings.backend == "aws":
        from beaconlake.adapters import aws

        return aws.AthenaEngine(settings.athena_workgroup, settings.athena_database)
    from beaconlake.adapters.duckdb_engine import DuckDBEngine

    return DuckDBEngine(settings.data_dir, settings.duckdb_memory_limit)


@lru_cache(maxsize=1)
def ports() -> Ports:
    """The process-wide ports (one per Lambda container or local server)."""
    return build_ports(Settings.from_env())


@lru_cache(maxsize=1)
def engine() -> QueryEngine:
    return build_engine(Settings.from_env())


def reset() -> None:
    """Forget the process-wide ports (tests and the local server's shutdown)."""
    if ports.cache_info().currsize:
        ports().sink.close()
    ports.cache_clear()
    engine.cache_clear()
