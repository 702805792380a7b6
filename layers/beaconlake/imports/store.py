"""Where an import's files go: the data directory (local) or the events bucket (AWS, with
boto3; the Glue tables of infra_cdk/catalog.py read them). The same keys either way."""

from __future__ import annotations

from beaconlake.config import Settings
from beaconlake.imports import local
from beaconlake.imports.plausible import (
    IMPORTED_DIR,
    Stored,
    TableRows,
    object_key,
    overlap,
    parquet_bytes,
    without_days,
)


def store_s3(bucket: str, site: str, tables: list[TableRows]) -> list[Stored]:
    import boto3

    s3 = boto3.client("s3")
    for rows in tables:
        prefix = object_key(rows, site).rsplit("/", 1)[0] + "/"
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        existing = [o["Key"] for page in pages for o in page.get("Contents", [])]
        clash = overlap(rows, existing)
        if clash is not None:
            raise ValueError(f"{rows.table.name}: its days overlap an earlier import ({clash})")
    out = []
    for rows in tables:
        key = object_key(rows, site)
        s3.put_object(Bucket=bucket, Key=key, Body=parquet_bytes(rows))
        out.append(
            Stored(rows.table.name, f"s3://{bucket}/{key}", len(rows.rows), rows.first, rows.last)
        )
    return out


def _bucket(settings: Settings) -> str:
    if not settings.events_bucket:
        raise ValueError("set BEACONLAKE_EVENTS_BUCKET to the stack's events bucket")
    return settings.events_bucket


def store(settings: Settings, site: str, tables: list[TableRows]) -> list[Stored]:
    """Write the tables' files for `site`; nothing when one would overlap days already
    imported for its table (ValueError naming the file)."""
    if settings.backend == "aws":
        return store_s3(_bucket(settings), site, tables)
    return local.store(settings.data_dir, site, tables)


def erase_s3(bucket: str, site: str, first: str, last: str) -> int:
    import boto3

    s3 = boto3.client("s3")
    removed = 0
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=IMPORTED_DIR + "/")
    for key in [o["Key"] for page in pages for o in page.get("Contents", [])]:
        if f"/site_id={site}/" not in key:
            continue
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        data, count = without_days(body, first, last)
        removed += count
        if count and data is None:
            s3.delete_object(Bucket=bucket, Key=key)
        elif count and data is not None:
            s3.put_object(Bucket=bucket, Key=key, Body=data)
    return removed


def erase(settings: Settings, site: str, first: str, last: str) -> int:
    """Remove `site`'s imported rows of the days first..last (YYYY-MM-DD, the site's days):
    erasure reaches imported data too. The number of rows removed."""
    if settings.backend == "aws":
        return erase_s3(_bucket(settings), site, first, last)
    return local.erase(settings.data_dir, site, first, last)
