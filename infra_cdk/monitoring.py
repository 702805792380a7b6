"""What tells an operator that data is being lost or answers fail, for as little as it costs.

Five alarms ($0.10 a month each, docs/COST.md), each on a metric AWS publishes for free and
each on a path with no other signal: Firehose cannot deliver to S3; Firehose cannot convert
records to Parquet (they wait under errors/); the collector answers 5xx (Firehose refused
events after retries, the day's salt is missing, the function failed or timed out: its
function URL's Url5xxCount counts them all); Lambda refuses beacons because the collector
is at its concurrency limit (429, which the 5xx count leaves out); the stats API answers 5xx
(a query failed or timed out, or the function failed).

The scheduled functions (rotate_salt, the daily job) tell the same SNS topic themselves: a run
that still fails after Lambda's two retries is sent there as an on-failure destination, so a
failing schedule costs an SNS message instead of an alarm a month.

The CloudWatch dashboard ($3 a month) is created only with the `dashboard` setting.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Annotations, Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra_cdk.settings import DeploySettings

FIVE_MINUTES = Duration.minutes(5)
NO_RECIPIENT_WARNING = (
    "setting 'alarm_email' is not set, so no one is told when an alarm fires (lost events, "
    "failed deliveries, failing queries); deploy with -c alarm_email=ops@example.com."
)
# Lambda's retries of an asynchronous invocation (an EventBridge schedule's) before the event
# goes to the on-failure destination.
SCHEDULED_RETRIES = 2


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: DeploySettings,
        collect: lambda_.Function,
        scheduled: tuple[lambda_.Function, ...],
        functions: tuple[lambda_.Function, ...],
        stream_name: str,
        api_id: str,
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
            return collect.metric(name, statistic="Sum", period=FIVE_MINUTES)

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

        self.alarms = [
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
            at_least_once(
                "FirehoseConversionFailing",
                "Firehose could not convert records to Parquet; they are under errors/ in the "
                "events bucket, kept 30 days for replay",
                firehose("FailedConversion.Records", "Sum"),
            ),
            at_least_once(
                "CollectorFailing",
                "The collector answered 5xx: Firehose refused events, the day's salt is "
                "missing, or the function failed (see its logs)",
                collector("Url5xxCount"),
            ),
            at_least_once(
                "CollectorThrottled",
                "Lambda refused beacons with 429: the collector is at its concurrency limit "
                "(reserved_concurrency, or the account's)",
                collector("Throttles"),
            ),
            at_least_once(
                "StatsApi5xx",
                "The stats API answered 5xx: a query failed or timed out, or the function "
                "failed (see the stats logs and the access log)",
                api("5xx"),
            ),
        ]
        for alarm in self.alarms:
            alarm.add_alarm_action(action)
        for fn in scheduled:
            fn.configure_async_invoke(
                on_failure=destinations.SnsDestination(self.topic),
                retry_attempts=SCHEDULED_RETRIES,
            )
        if settings.dashboard:
            self._dashboard(settings.stack_name, collector, firehose, api, functions)

    def _dashboard(
        self,
        name: str,
        collector: Callable[[str], cw.Metric],
        firehose: Callable[[str, str], cw.Metric],
        api: Callable[[str], cw.Metric],
        functions: tuple[lambda_.Function, ...],
    ) -> None:
        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=name)
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Beacons (collector function URL)",
                left=[collector("UrlRequestCount"), collector("Url4xxCount")],
                right=[collector("Url5xxCount")],
                width=8,
            ),
            cw.GraphWidget(
                title="Stats API (HTTP API)",
                left=[api("Count"), api("4xx"), api("5xx")],
                width=8,
            ),
            cw.GraphWidget(
                title="Firehose",
                left=[
                    firehose("IncomingRecords", "Sum"),
                    firehose("DeliveryToS3.Records", "Sum"),
                ],
                right=[firehose("DeliveryToS3.DataFreshness", "Maximum")],
                width=8,
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
        dashboard.add_widgets(cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24))
