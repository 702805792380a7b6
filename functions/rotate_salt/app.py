"""Salt rotation Lambda. Creates the day's random salt and deletes those older than 48 h, so
yesterday's visitor hashes can never be recomputed. It is the only writer of salts (the
collector only reads them) and runs at 00:00 UTC (EventBridge), at 23:55 UTC for the next
day (EventBridge Scheduler, AHEAD_OF_MIDNIGHT) and once at each deploy (a CDK trigger)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from beaconlake.wiring import ports

logger = Logger(service="beaconlake-rotate-salt")

# The schedule ahead of midnight sends {"rotation": AHEAD_OF_MIDNIGHT} (infra_cdk.api):
# rotate as of LEAD later, i.e. for the day about to start.
AHEAD_OF_MIDNIGHT = "ahead-of-midnight"
LEAD = timedelta(minutes=15)


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = datetime.now(UTC)
    if event.get("rotation") == AHEAD_OF_MIDNIGHT:
        now += LEAD
    salts = ports().salts
    salts.rotate(now)
    days = salts.days()
    logger.info("salts rotated", extra={"days": days, "as_of": now.isoformat()})
    return {"days": days}
