"""Alarms on every path that loses data or answers 5xx (Firehose delivery and format
conversion, refused events, missing salts, failed stats queries, API 5xx, Lambda errors and
throttles), all to one SNS topic, and a dashboard."""

from __future__ import annotations

from aws_cdk import Annotations, Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra_cdk.api import METRICS_NAMESPACE
from infra_cdk.settings import DeploySettings

FIVE_MINUTES = Duration.minutes(5)
NO_RECIPIENT_WARNING = (
    "setting 'alarm_email' is not set, so no one is told when an alarm fires (lost events, "
    "failed deliveries, failing queries); deploy with -c alarm_email=ops@example.com."
)
# The stats API logs this (ERROR) when the query engine fails or times out and it answers 503
# (beaconlake.stats.api); a metric filter turns those lines into a count to alarm on.
QUERY_FAILED_MESSAGE = "query failed"
QUERIES_FAILED_METRIC = "StatsQueriesFailed"


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: DeploySettings,
        functions: tuple[lambda_.Function, ...],
        stream_name: str,
        api_id: str,
        stats_logs: logs.ILogGroup,
    ) -> None:
        super().__init__(scope, id)
        self.topic = sns.Topic(self, "Alarms", display_name="Beaconlake alarms", enforce_ssl=True)
        if settings.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        else:
            Annotations.of(self).add_warning_v2(
                "beaconlake:no-alarm-recipient", NO_RECIPIENT_WARNING
            )
        action = cw_actions.SnsAction(self.topic)

        def firehose(name: str, statistic: str) -> cw.Metric:
            return cw.Metric(
                namespace="AWS/Firehose",
                metric_name=name,
                dimensions_map={"DeliveryStreamName": stream_name},
                statistic=statistic,
                period=FIVE_MINUTES,
            )

        def api(name: str) -> cw.Metric:
            return cw.Metric(
                namespace="AWS/ApiGateway",
                metric_name=name,
                dimensions_map={"ApiId": api_id},
                statistic="Sum",
                period=FIVE_MINUTES,
            )

        def collector(name: str) -> cw.Metric:
            return cw.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=name,
                dimensions_map={"component": "collector"},
                statistic="Sum",
                period=FIVE_MINUTES,
            )

        stats_logs.add_metric_filter(
            "QueriesFailed",
            filter_pattern=logs.FilterPattern.all(
                logs.FilterPattern.string_value("$.level", "=", "ERROR"),
                logs.FilterPattern.string_value("$.message", "=", QUERY_FAILED_MESSAGE),
            ),
            metric_namespace=METRICS_NAMESPACE,
            metric_name=QUERIES_FAILED_METRIC,
            metric_value="1",
            default_value=0,
        )
        queries_failed = cw.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=QUERIES_FAILED_METRIC,
            statistic="Sum",
            period=FIVE_MINUTES,
        )

        def at_least_once(alarm_id: str, description: str, metric: cw.Metric) -> cw.Alarm:
            return cw.Alarm(
                self,
                alarm_id,
                alarm_description=description,
                metric=metric,
                threshold=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )

        alarms = [
            cw.Alarm(
                self,
                "FirehoseDeliveryFailing",
                alarm_description="Firehose could not deliver to S3 (see its log group)",
                metric=firehose("DeliveryToS3.Success", "Minimum"),
                threshold=1,
                comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                evaluation_periods=3,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            ),
            cw.Alarm(
                self,
                "FirehoseDataStale",
                alarm_description="The oldest record in Firehose waited over 30 minutes",
                metric=firehose("DeliveryToS3.DataFreshness", "Maximum"),
                threshold=1800,
                evaluation_periods=2,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            ),
            at_least_once(
                "EventsRejected",
                "The collector answered 503: Firehose refused events after retries",
                collector("EventsRejected"),
            ),
            at_least_once(
                "FirehoseConversionFailing",
                "Firehose could not convert records to Parquet; they are under errors/ in the "
                "events bucket, kept 30 days for replay",
                firehose("FailedConversion.Records", "Sum"),
            ),
            at_least_once(
                "SaltMissing",
                "The collector answered 503: the day's salt is missing (see rotate_salt's logs)",
                collector("SaltMissing"),
            ),
            at_least_once(
                "StatsQueriesFailing",
                "The stats API answered 503: Athena failed or timed out (see the stats logs)",
                queries_failed,
            ),
            at_least_once(
                "Api5xx",
                "The HTTP API answered 5xx (stats API or collector; see the access log)",
                api("5xx"),
            ),
        ]
        for fn in functions:
            name = fn.node.id
            for metric_name, metric in (
                ("Errors", fn.metric_errors(period=FIVE_MINUTES)),
                ("Throttles", fn.metric_throttles(period=FIVE_MINUTES)),
            ):
                alarms.append(
                    at_least_once(
                        f"{name}{metric_name}", f"Lambda {name}: {metric_name.lower()}", metric
                    )
                )
        for alarm in alarms:
            alarm.add_alarm_action(action)

        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=settings.stack_name)
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Requests (HTTP API)",
                left=[api("Count"), api("4xx"), api("5xx")],
                width=12,
            ),
            cw.GraphWidget(
                title="Firehose",
                left=[
                    firehose("IncomingRecords", "Sum"),
                    firehose("DeliveryToS3.Records", "Sum"),
                ],
                right=[firehose("DeliveryToS3.DataFreshness", "Maximum")],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Lambda errors and throttles",
                left=[fn.metric_errors(period=FIVE_MINUTES) for fn in functions],
                right=[fn.metric_throttles(period=FIVE_MINUTES) for fn in functions],
                width=12,
            ),
            cw.GraphWidget(
                title="Lambda duration (p95)",
                left=[fn.metric_duration(period=FIVE_MINUTES, statistic="p95") for fn in functions],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cw.AlarmStatusWidget(title="Alarms", alarms=alarms, width=24),
        )
