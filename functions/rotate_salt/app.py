"""Salt rotation Lambda: EventBridge, daily at 00:00 UTC. Creates the day's random salt and
deletes those older than 48 h, so yesterday's visitor hashes can never be recomputed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from beaconlake.wiring import ports

logger = Logger(service="beaconlake-rotate-salt")


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    salts = ports().salts
    salts.rotate(datetime.now(UTC))
    days = salts.days()
    logger.info("salts rotated", extra={"days": days})
    return {"days": days}
