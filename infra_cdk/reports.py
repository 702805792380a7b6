"""E-mail reports and traffic-spike alerts (functions/reports, beaconlake.reports), deployed
only when the `report_sender` setting names the SES identity they are sent from: one function,
run by EventBridge every hour for the weekly and monthly reports (each sent at 07:00 in its
site's time zone) and every 5 minutes for the alerts, allowed ses:SendEmail on that identity
only."""

from __future__ import annotations

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra_cdk import nag
from infra_cdk.api import Api
from infra_cdk.catalog import Catalog
from infra_cdk.settings import DeploySettings
from infra_cdk.storage import Storage

# every hour: a report goes out at 07:00 in each site's time zone once its week (Monday) or
# month (the 1st) has ended there; each is sent once, so the other runs send nothing
REPORTS_SCHEDULE = {"minute": "0"}
ALERTS_EVERY = Duration.minutes(5)
QUERIES = [
    "athena:StartQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:StopQueryExecution",
]


def identity_arns(sender: str) -> list[str]:
    """The SES identities a sender may be verified as: the address itself or its domain."""
    base = f"arn:{Aws.PARTITION}:ses:{Aws.REGION}:{Aws.ACCOUNT_ID}:identity/"
    return [base + sender, base + sender.rpartition("@")[2]]


class Reports(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: DeploySettings,
        api: Api,
        storage: Storage,
        catalog: Catalog,
    ) -> None:
        super().__init__(scope, id)
        self.function = api.function(
            "reports",
            512,
            300,
            {
                "BEACONLAKE_RESULTS_BUCKET": storage.athena_results.bucket_name,
                "BEACONLAKE_EVENTS_BUCKET": storage.events.bucket_name,
                "BEACONLAKE_REPORT_SENDER": settings.report_sender,
            },
            reserved=1,  # one run at a time: a report is sent once
            scope=self,
            description="Beaconlake reports: e-mail summaries and traffic-spike alerts",
        )
        self._rule("HourlyReports", events.Schedule.cron(**REPORTS_SCHEDULE), "reports")
        self._rule("Alerts", events.Schedule.rate(ALERTS_EVERY), "alerts")
        self._grant(settings, storage, catalog)

    def _rule(self, name: str, schedule: events.Schedule, kind: str) -> None:
        events.Rule(
            self,
            name,
            description=f"Beaconlake {kind}: {name}",
            schedule=schedule,
            targets=[
                targets.LambdaFunction(
                    self.function,
                    event=events.RuleTargetInput.from_object({"kind": kind}),
                    retry_attempts=0 if kind == "alerts" else 2,
                )
            ],
        )

    def _grant(self, settings: DeploySettings, storage: Storage, catalog: Catalog) -> None:
        fn = self.function
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["ses:SendEmail"], resources=identity_arns(settings.report_sender)
            )
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(actions=QUERIES, resources=[catalog.workgroup_arn])
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "glue:GetDatabase",
                    "glue:GetTable",
                    "glue:GetPartition",
                    "glue:GetPartitions",
                ],
                resources=[catalog.catalog_arn, catalog.database_arn, *catalog.table_arns],
            )
        )
        storage.athena_results.grant_read_write(fn)
        storage.events.grant_read(fn)
        # the report settings and what was sent live in the sessions table's record kinds;
        # the sites (and their time zones) are read from the catalogue
        storage.sessions.grant_read_write_data(fn)
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Scan", "dynamodb:GetItem", "dynamodb:Query"],
                resources=[storage.catalogue.table_arn],
            )
        )
        stack = Stack.of(self)
        nag.acknowledge_role(
            stack,
            fn,
            basic_role=True,
            xray=True,
            buckets=(storage.events, storage.athena_results),
        )
        nag.ack(fn, "L1", nag.WHY_RUNTIME)
