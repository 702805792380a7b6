"""AWS UserIdSecrets: one SecureString parameter `<prefix>/<site_id>` per site in SSM.

Created on first use (see `SecretParameters`), cached for the life of the container. Unlike the daily
salts it is long-lived by design: the same user must hash to the same id across days."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from beaconlake.adapters.aws import SecretParameters
from beaconlake.ports import SinkUnavailable

logger = Logger(service="beaconlake-aws")


class ParameterUserIdSecrets:
    def __init__(self, prefix: str, client: Any = None) -> None:
        self.parameters = SecretParameters(
            prefix, "Beaconlake per-site key of the user-id hash; keep it secret", client
        )
        self._cache: dict[str, bytes] = {}

    def secret_for(self, site_id: str) -> bytes:
        if site_id in self._cache:
            return self._cache[site_id]
        try:
            secret = self.parameters.get_or_create(site_id)
        except (ClientError, BotoCoreError) as exc:
            logger.error("user-id secret store unreachable", extra={"error": type(exc).__name__})
            raise SinkUnavailable("the user-id secret store cannot be reached") from exc
        self._cache[site_id] = secret
        return secret
