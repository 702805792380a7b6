"""Small helpers the constructs share."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra_cdk.settings import LOG_RETENTION_DAYS

_RETENTION = dict(
    zip(
        LOG_RETENTION_DAYS,
        (
            logs.RetentionDays.ONE_DAY,
            logs.RetentionDays.THREE_DAYS,
            logs.RetentionDays.FIVE_DAYS,
            logs.RetentionDays.ONE_WEEK,
            logs.RetentionDays.TWO_WEEKS,
            logs.RetentionDays.ONE_MONTH,
            logs.RetentionDays.TWO_MONTHS,
            logs.RetentionDays.THREE_MONTHS,
            logs.RetentionDays.FOUR_MONTHS,
            logs.RetentionDays.FIVE_MONTHS,
            logs.RetentionDays.SIX_MONTHS,
            logs.RetentionDays.ONE_YEAR,
            logs.RetentionDays.THIRTEEN_MONTHS,
            logs.RetentionDays.EIGHTEEN_MONTHS,
            logs.RetentionDays.TWO_YEARS,
            logs.RetentionDays.FIVE_YEARS,
            logs.RetentionDays.TEN_YEARS,
        ),
        strict=True,
    )
)


def log_group(scope: Construct, id: str, retention_days: int) -> logs.LogGroup:
    return logs.LogGroup(
        scope, id, retention=_RETENTION[retention_days], removal_policy=RemovalPolicy.DESTROY
    )
