"""The daily job on AWS (beaconlake.stats.rollup_job): every hour (EventBridge), each site's
past days compacted into one Parquet file and rolled up into the `session_rollup` and
`page_rollup` tables, late deliveries and erasures within the lookback taken in; then
retention deletes the raw events of days past the stack's `retention_days`, keeping their
rollups (downsampled retention: docs/DEPLOY.md)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from beaconlake.wiring import run_daily_job, run_retention

logger = Logger(service="beaconlake-rollups")


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = run_daily_job()
    return {**report, "retention": run_retention()}
