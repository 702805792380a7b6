"""The daily job's sites are the catalogue's, on both back ends: a site added is rolled up, a
site removed no longer is (its files stay)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from beaconlake import wiring
from beaconlake.adapters.aws_days import S3DayFiles
from beaconlake.config import Settings
from beaconlake.sites import Catalogue, MemoryRecords


def test_the_local_job_follows_the_catalogue(local_env: Path) -> None:
    for site in ("example.com", "later.org"):
        (local_env / "events" / f"site_id={site}" / "dt=2026-03-01").mkdir(parents=True)
    job = wiring.rollup_job(Settings.from_env())
    assert job.files.sites() == ["example.com"]  # shop.test is a site, but has no files
    catalogue = wiring.catalogue_for(Settings.from_env())
    catalogue.add_site("later.org")
    assert job.files.sites() == ["example.com", "later.org"]
    catalogue.remove_site("example.com")
    assert job.files.sites() == ["later.org"]


def test_the_aws_job_follows_the_catalogue(fake_aws_credentials: None) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bl-events")
        for site in ("example.com", "later.org"):
            s3.put_object(Bucket="bl-events", Key=f"events/site_id={site}/dt=2026-03-01/a.parquet")
        catalogue = Catalogue(MemoryRecords(), seed_sites=["example.com"])
        athena: Any = None
        files = S3DayFiles(
            "bl-events",
            "events/",
            athena,
            "results",
            sites=wiring.catalogue_sites(catalogue),
            s3=s3,
        )
        assert files.sites() == ["example.com"]
        catalogue.add_site("later.org")
        assert files.sites() == ["example.com", "later.org"]
