"""E-mail reports and traffic-spike alerts on AWS (beaconlake.reports): EventBridge calls this
with {"kind": "reports"} every hour (a site's weekly and monthly reports go out at 07:00 in its
time zone) and {"kind": "alerts"} every 5 minutes; mail goes out through SES from the stack's
`report_sender` identity."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from beaconlake.wiring import run_report_job

logger = Logger(service="beaconlake-reports")


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_report_job("alerts" if event.get("kind") == "alerts" else "reports")
