"""Alarms (Firehose delivery, lost events, Lambda errors and throttles) and a dashboard."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra_cdk.api import METRICS_NAMESPACE
from infra_cdk.settings import DeploySettings

FIVE_MINUTES = Duration.minutes(5)


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
    ) -> None:
        super().__init__(scope, id)
        self.topic = sns.Topic(self, "Alarms", display_name="Beaconlake alarms", enforce_ssl=True)
        if settings.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
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

        rejected = cw.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name="EventsRejected",
            dimensions_map={"component": "collector"},
            statistic="Sum",
            period=FIVE_MINUTES,
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
            cw.Alarm(
                self,
                "EventsRejected",
                alarm_description="The collector answered 503: Firehose refused events after retries",
                metric=rejected,
                threshold=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            ),
        ]
        for fn in functions:
            name = fn.node.id
            for metric_name, metric in (
                ("Errors", fn.metric_errors(period=FIVE_MINUTES)),
                ("Throttles", fn.metric_throttles(period=FIVE_MINUTES)),
            ):
                alarms.append(
                    cw.Alarm(
                        self,
                        f"{name}{metric_name}",
                        alarm_description=f"Lambda {name}: {metric_name.lower()}",
                        metric=metric,
                        threshold=1,
                        comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                        evaluation_periods=1,
                        treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
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
