"""S3 buckets and DynamoDB tables: private, encrypted, TLS-only, with lifecycle rules."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from beaconlake.config import EVENTS_PREFIX, EXPORTS_PREFIX
from infra_cdk.settings import DeploySettings

ERRORS_PREFIX = "errors/"
RETENTION_BACKSTOP_DAYS = 30  # after the job's own retention (its hourly runs retry)


class Storage(Construct):
    def __init__(self, scope: Construct, id: str, *, settings: DeploySettings) -> None:
        super().__init__(scope, id)
        self._retain = settings.retain_data
        self.access_logs = self._bucket("AccessLogs", [_expire(90)], logs=None)
        event_rules = [
            _expire(30, "failed-records", ERRORS_PREFIX),
            s3.LifecycleRule(
                id="incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(1)
            ),
        ]
        if settings.retention_days:
            # The daily job deletes the events of days past retention_days and keeps their
            # rollups, marked under rollups/_expired/ (downsampled retention: functions/rollups),
            # so no rule here touches rollups/. This one is a backstop should the job fail for
            # weeks: it deletes what the job left, and those days' rollups go with them.
            event_rules.append(
                _expire(
                    settings.retention_days + RETENTION_BACKSTOP_DAYS, "retention", EVENTS_PREFIX
                )
            )
        self.events = self._bucket("Events", event_rules)
        # exports (UNLOADed CSV files, linked for 15 minutes) are deleted after a day
        self.athena_results = self._bucket(
            "AthenaResults",
            [_expire(settings.athena_results_days), _expire(1, "exports", EXPORTS_PREFIX)],
        )
        self.tracker = self._bucket("Tracker", []) if settings.cloudfront else None
        # stats keys, ingest keys and the signatures server-side senders used (which expire)
        self.keys = self._table("ApiKeys", "key_id", ttl="expires_at")
        self.sessions = self._table("DashboardSessions", "pk", ttl="expires_at")
        # the site catalogue (sites, goals, funnels, annotations, segments) and the collector's
        # sightings (which expire): beaconlake.sites, adapters/record_sightings.py
        self.catalogue = self._table("SiteCatalogue", "pk", ttl="expires_at")

    @property
    def _policy(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self._retain else RemovalPolicy.DESTROY

    def _bucket(self, id: str, rules: list[s3.LifecycleRule], logs: str | None = "") -> s3.Bucket:
        return s3.Bucket(
            self,
            id,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=None if logs is None else self.access_logs,
            server_access_logs_prefix=None if logs is None else f"{id.lower()}/",
            lifecycle_rules=rules or None,
            removal_policy=self._policy,
            auto_delete_objects=not self._retain,
        )

    def _table(self, id: str, key: str, ttl: str | None) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            id,
            partition_key=dynamodb.Attribute(name=key, type=dynamodb.AttributeType.STRING),
            time_to_live_attribute=ttl,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=self._policy,
        )


def _expire(days: int, id: str | None = None, prefix: str | None = None) -> s3.LifecycleRule:
    return s3.LifecycleRule(id=id, prefix=prefix, expiration=Duration.days(days))
