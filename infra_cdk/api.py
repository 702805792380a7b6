"""The Lambdas (collect, stats, rotate_salt, rollups), their schedules, the collector's function
URL (the ingest origin) and the HTTP API in front of the stats function.

Beacons never pass API Gateway: at $1 a million requests it would be half the bill of a busy
site (docs/COST.md). The collector is reached through its Lambda function URL, with auth NONE:
CloudFront's origin access control for function URLs needs every POST signed with its body's
SHA-256 (`x-amz-content-sha256`), which `navigator.sendBeacon` cannot send, and the collector
checks every beacon itself (sites, payload limits, per-client and per-site rate limits)."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Annotations, Aws, Duration, triggers
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from constructs import Construct

from beaconlake.config import (
    DROP_METRICS_VARIABLE,
    GOALS_VARIABLE,
    PRIVACY_VARIABLE,
    RETENTION_DAYS_VARIABLE,
)
from beaconlake.keys import SEEN_PREFIX
from beaconlake.telemetry import NAMESPACE as METRICS_NAMESPACE
from infra_cdk.catalog import Catalog
from infra_cdk.common import log_group
from infra_cdk.delivery import Delivery
from infra_cdk.layers import (
    PYTHON_VERSION,
    ROOT,
    dependency_layer,
    package_layer,
    without_bytecode_warning,
)
from infra_cdk.settings import DeploySettings
from infra_cdk.storage import Storage

RUNTIME: lambda_.Runtime = getattr(lambda_.Runtime, "PYTHON_" + PYTHON_VERSION.replace(".", "_"))
ARCHITECTURE = lambda_.Architecture.ARM_64
# A function's own folder: source only (the development venv's bytecode is for its Python).
# A layer keeps the bytecode infra_cdk.layers compiled for the runtime.
ASSET_EXCLUDE = ["__pycache__", "*.pyc"]
LAYER_EXCLUDE = [".complete"]
# No IP address, no User-Agent, no query string (the pixel's page URL): only what operators
# need to see traffic and failures.
HEALTH_PATH = "/health"
ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","time":"$context.requestTime",'
    '"route":"$context.routeKey","status":"$context.status",'
    '"latencyMs":"$context.responseLatency","integrationLatencyMs":"$context.integrationLatency",'
    '"bytes":"$context.responseLength","error":"$context.integrationErrorMessage"}'
)
# What the schedule ahead of midnight sends functions/rotate_salt (its AHEAD_OF_MIDNIGHT):
# rotate for the day about to start, so its salt exists before that day's first beacon.
AHEAD_OF_MIDNIGHT_INPUT = {"rotation": "ahead-of-midnight"}
# The daily job (functions/rollups) runs every hour at minute 20: past days are compacted and
# rolled up after midnight UTC, with twenty minutes' grace for Firehose's last deliveries, and
# days that changed since (late deliveries, erasures) are written again within the hour.
ROLLUPS_SCHEDULE = {"minute": "20"}
INGEST_PATHS = ("/api/event", "/e.gif")


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: DeploySettings,
        storage: Storage,
        catalog: Catalog,
        delivery: Delivery,
    ) -> None:
        super().__init__(scope, id)
        self.salt_prefix = f"/{settings.stack_name.lower()}/salts"
        self.user_id_prefix = f"/{settings.stack_name.lower()}/user-id-secrets"
        deps_dir = (
            Path(settings.dependency_layer_dir)
            if settings.dependency_layer_dir
            else dependency_layer(PYTHON_VERSION)
        )
        warning = without_bytecode_warning(PYTHON_VERSION)
        if warning:
            Annotations.of(self).add_warning_v2("beaconlake:layers-without-bytecode", warning)
        layers = [
            self._layer("Dependencies", deps_dir, "Third-party packages (pyproject.toml)"),
            self._layer("Package", package_layer(), "The beaconlake package"),
        ]
        environment = {
            "BEACONLAKE_BACKEND": "aws",
            "BEACONLAKE_SITES": ",".join(settings.sites),
            "BEACONLAKE_HONOUR_DNT": str(settings.honour_dnt).lower(),
            "BEACONLAKE_CHECK_ORIGIN": str(settings.check_origin).lower(),
            "BEACONLAKE_USER_ID_SITES": ",".join(settings.user_id_sites),
            "BEACONLAKE_USER_ID_PARAMETER_PREFIX": self.user_id_prefix,
            # Behind CloudFront the source address is an edge server's; the viewer's is here.
            "BEACONLAKE_CLIENT_IP_HEADER": "cloudfront-viewer-address"
            if settings.cloudfront
            else "",
            "BEACONLAKE_FIREHOSE_STREAM": delivery.stream_name,
            # how late today's rows can be (wiring.late_events_note, Athena result reuse)
            "BEACONLAKE_FIREHOSE_BUFFER_SECONDS": str(settings.firehose_buffer_seconds),
            "BEACONLAKE_SALT_PREFIX": self.salt_prefix,
            "BEACONLAKE_KEYS_TABLE": storage.keys.table_name,
            "BEACONLAKE_SESSIONS_TABLE": storage.sessions.table_name,
            "BEACONLAKE_CATALOGUE_TABLE": storage.catalogue.table_name,
            "BEACONLAKE_ATHENA_WORKGROUP": catalog.workgroup_name,
            "BEACONLAKE_ATHENA_DATABASE": catalog.database_name,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "LOG_LEVEL": settings.log_level,
            # the collector coarsens, the stats function says what that makes unavailable
            PRIVACY_VARIABLE: settings.privacy,
        }
        if settings.dashboard_password_hash:
            environment["BEACONLAKE_DASHBOARD_PASSWORD_HASH"] = settings.dashboard_password_hash
        self.layers, self.environment, self.settings = layers, environment, settings

        # Goals reach the stats function as BEACONLAKE_GOALS, as they can locally.
        goals = {GOALS_VARIABLE: settings.goals} if settings.goals else {}
        self.rotate_salt = self.function("rotate_salt", 256, 60)
        self.collect = self.function(
            "collect",
            settings.collector_memory_mb,
            10,
            # BeaconsDropped counters only with `drop_metrics` (beaconlake.metrics, COST.md)
            {DROP_METRICS_VARIABLE: str(settings.drop_metrics).lower()},
            reserved=settings.reserved_concurrency or None,  # 0 reserves none
        )
        # Exports are UNLOADed under exports/ in Athena's results bucket and linked from there
        # (its role reads and writes that bucket: _grant); the daily job UNLOADs under
        # staging/ there. The stats function reads the job's state under rollups/_state/.
        buckets = {
            "BEACONLAKE_RESULTS_BUCKET": storage.athena_results.bucket_name,
            "BEACONLAKE_EVENTS_BUCKET": storage.events.bucket_name,
        }
        self.stats = self.function("stats", settings.stats_memory_mb, 29, {**goals, **buckets})
        # One run at a time: two runs compacting the same day could both put their file.
        # the daily job also deletes raw events past retention, keeping their rollups
        retention = {RETENTION_DAYS_VARIABLE: str(settings.retention_days)}
        self.rollups = self.function("rollups", 512, 900, {**buckets, **retention}, reserved=1)
        self.functions = (self.collect, self.stats, self.rotate_salt, self.rollups)
        self._grant(storage, catalog, delivery)
        self._schedule_salts()
        events.Rule(
            self,
            "HourlyRollups",
            description="Compact past days' event files and write their rollups, every hour",
            schedule=events.Schedule.cron(**ROLLUPS_SCHEDULE),
            targets=[targets.LambdaFunction(self.rollups, retry_attempts=2)],
        )
        self.ingest_url = self.collect.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.NONE,
            cors=lambda_.FunctionUrlCorsOptions(
                allowed_origins=list(settings.allowed_origins),
                allowed_methods=[lambda_.HttpMethod.POST, lambda_.HttpMethod.GET],
                allowed_headers=["content-type"],
                max_age=Duration.days(1),
            ),
        )

        self.http_api = apigw.HttpApi(
            self,
            "HttpApi",
            api_name=settings.stack_name,
            description="Beaconlake: the stats API, query API and dashboard (/api/*, /health)",
            create_default_stage=False,
            cors_preflight=apigw.CorsPreflightOptions(
                allow_origins=list(settings.allowed_origins),
                allow_methods=[
                    apigw.CorsHttpMethod.GET,
                    apigw.CorsHttpMethod.POST,
                    apigw.CorsHttpMethod.DELETE,
                    apigw.CorsHttpMethod.OPTIONS,
                ],
                allow_headers=["content-type", "authorization"],
                max_age=Duration.days(1),
            ),
        )
        self.stage = apigw.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(
                rate_limit=settings.throttle_rate, burst_limit=settings.throttle_burst
            ),
        )
        access_logs = log_group(self, "access-logs", settings.log_retention_days)
        stage_resource = self.stage.node.default_child
        assert isinstance(stage_resource, apigw.CfnStage)
        stage_resource.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=access_logs.log_group_arn, format=ACCESS_LOG_FORMAT
        )
        stats = integrations.HttpLambdaIntegration("Stats", self.stats)
        self.stats_routes = [
            *self.http_api.add_routes(
                path="/api/{proxy+}",
                methods=[apigw.HttpMethod.GET, apigw.HttpMethod.POST, apigw.HttpMethod.DELETE],
                integration=stats,
            ),
            # the health check (beaconlake.health), for load balancers and deploy scripts
            *self.http_api.add_routes(
                path=HEALTH_PATH, methods=[apigw.HttpMethod.GET], integration=stats
            ),
        ]
        self.endpoint = f"{self.http_api.api_id}.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}"

    def _schedule_salts(self) -> None:
        """rotate_salt runs at 00:00 UTC (the day's salt, deletions), at 23:55 UTC (the next
        day's salt, so no beacon after midnight waits for it) and once at each deploy that
        changes it, before the collector exists (the first day's salt)."""
        events.Rule(
            self,
            "DailySaltRotation",
            description="New visitor-hash salt at 00:00 UTC; salts older than 48 h deleted",
            schedule=events.Schedule.cron(minute="0", hour="0"),
            targets=[targets.LambdaFunction(self.rotate_salt, retry_attempts=4)],
        )
        # CDK grants the scheduler's role invoke on the function and its versions (`:*`).
        self.next_day_salt_role = iam.Role(
            self, "NextDaySaltRole", assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com")
        )
        scheduler.Schedule(
            self,
            "NextDaySalt",
            description="The next day's visitor-hash salt, five minutes before 00:00 UTC",
            schedule=scheduler.ScheduleExpression.cron(minute="55", hour="23"),
            target=scheduler_targets.LambdaInvoke(
                self.rotate_salt,
                input=scheduler.ScheduleTargetInput.from_object(AHEAD_OF_MIDNIGHT_INPUT),
                retry_attempts=4,
                max_event_age=Duration.minutes(4),
                role=self.next_day_salt_role,
            ),
        )
        # Both grants cover the function's versions (`:*`); CDK warns about resource policies.
        Annotations.of(self.rotate_salt).acknowledge_warning(
            "@aws-cdk/aws-lambda:addPermissionsToVersionOrAlias",
            "Invoked by identity policies that cover its versions; no resource policy is used.",
        )
        self.first_salt = triggers.Trigger(
            self,
            "FirstSalt",
            handler=self.rotate_salt,
            timeout=Duration.minutes(1),
            execute_before=[self.collect],
        )

    def function(
        self,
        name: str,
        memory: int,
        timeout: int,
        own: dict[str, str] | None = None,
        reserved: int | None = None,
        *,
        scope: Construct | None = None,
        description: str | None = None,
    ) -> lambda_.Function:
        """One of the stack's functions (functions/<name>/app.py): the layers, the shared
        environment plus its own, JSON logs, tracing per the settings. Built in `scope`
        (default: this construct) so other constructs (infra_cdk.reports) build theirs alike."""
        settings = self.settings
        return lambda_.Function(
            scope or self,
            name.title().replace("_", ""),
            description=description or f"Beaconlake {name}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="app.handler",
            code=lambda_.Code.from_asset(str(ROOT / "functions" / name), exclude=ASSET_EXCLUDE),
            layers=self.layers,
            memory_size=memory,
            timeout=Duration.seconds(timeout),
            # off by default: X-Ray's default sampling traces the first beacon each second
            # and 5 % of the rest, $5 a million (docs/COST.md)
            tracing=lambda_.Tracing.ACTIVE if settings.tracing else lambda_.Tracing.DISABLED,
            environment={
                **self.environment,
                **(own or {}),
                "POWERTOOLS_SERVICE_NAME": f"beaconlake-{name}",
            },
            log_group=log_group(scope or self, f"{name}-logs", settings.log_retention_days),
            # JSON logs; no START/END/REPORT lines (their cost per event: docs/COST.md)
            logging_format=lambda_.LoggingFormat.JSON,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            reserved_concurrent_executions=reserved,
        )

    def _layer(self, id: str, directory: Path, description: str) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            self,
            id,
            code=lambda_.Code.from_asset(str(directory), exclude=LAYER_EXCLUDE),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description=description,
        )

    def _grant(self, storage: Storage, catalog: Catalog, delivery: Delivery) -> None:
        salts = f"arn:{Aws.PARTITION}:ssm:{Aws.REGION}:{Aws.ACCOUNT_ID}:parameter{self.salt_prefix}"
        user_ids = salts.replace(self.salt_prefix, self.user_id_prefix)
        self.collect.add_to_role_policy(
            iam.PolicyStatement(
                actions=["firehose:PutRecord", "firehose:PutRecordBatch"],
                resources=[delivery.stream_arn],
            )
        )
        # Salts are read-only to the public-facing collector: only rotate_salt creates them.
        self.collect.add_to_role_policy(
            iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[f"{salts}/*"])
        )
        # A site's user-id secret is created the first time that site sends a user id.
        self.collect.add_to_role_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParameter", "ssm:PutParameter"], resources=[f"{user_ids}/*"]
            )
        )
        self.rotate_salt.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "ssm:GetParameter",
                    "ssm:GetParametersByPath",
                    "ssm:PutParameter",
                    "ssm:DeleteParameters",
                ],
                resources=[salts, f"{salts}/*"],
            )
        )
        queries = [
            "athena:StartQueryExecution",
            "athena:GetQueryExecution",
            "athena:GetQueryResults",
            "athena:StopQueryExecution",
        ]
        for fn, extra in ((self.stats, ["athena:GetWorkGroup"]), (self.rollups, [])):
            fn.add_to_role_policy(
                iam.PolicyStatement(actions=queries + extra, resources=[catalog.workgroup_arn])
            )
            # every table a statement may read: events and the daily job's rollups
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
        storage.events.grant_read(self.stats)
        storage.keys.grant_read_data(self.stats)
        storage.sessions.grant_read_write_data(self.stats)
        # the site catalogue: the stats function manages it; the collector reads the sites
        # (a Scan a minute per container) and writes its sightings and the configured seed;
        # the daily job reads the sites it rolls up
        storage.catalogue.grant_read_write_data(self.stats)
        self.collect.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Scan", "dynamodb:PutItem"],
                resources=[storage.catalogue.table_arn],
            )
        )
        # server-side senders: the collector reads an ingest key, and records each signature
        # it accepts (a conditional put) so a replay is refused in every container; it may
        # write only those records, never a key
        self.collect.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[storage.keys.table_arn])
        )
        self.collect.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem"],
                resources=[storage.keys.table_arn],
                conditions={
                    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{SEEN_PREFIX}*"]}
                },
            )
        )
        self.rollups.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:Scan"], resources=[storage.catalogue.table_arn])
        )
        # the job replaces a day's small files by one and rewrites rollups: read, write, delete
        storage.events.grant_read_write(self.rollups)
