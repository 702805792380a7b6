"""AWS UserIdSecrets: one SecureString parameter `<prefix>/<site_id>` per site in SSM.

Created on first use (a random 256-bit secret, never overwritten: `Overwrite=False`, and a
concurrent creator's value wins), cached for the life of the container. Unlike the daily
salts it is long-lived by design: the same user must hash to the same id across days."""

from __future__ import annotations

import secrets
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from beaconlake.adapters.aws import CLIENT_CONFIG
from beaconlake.ports import SinkUnavailable

logger = Logger(service="beaconlake-aws")


class ParameterUserIdSecrets:
    def __init__(self, prefix: str, client: Any = None) -> None:
        self.prefix = prefix.rstrip("/")
        self.client = client or boto3.client("ssm", config=CLIENT_CONFIG)
        self._cache: dict[str, bytes] = {}

    def _name(self, site_id: str) -> str:
        return f"{self.prefix}/{site_id}"

    def secret_for(self, site_id: str) -> bytes:
        if site_id in self._cache:
            return self._cache[site_id]
        try:
            secret = self._read(site_id) or self._create(site_id)
        except (ClientError, BotoCoreError) as exc:
            logger.error("user-id secret store unreachable", extra={"error": type(exc).__name__})
            raise SinkUnavailable("the user-id secret store cannot be reached") from exc
        self._cache[site_id] = secret
        return secret

    def _read(self, site_id: str) -> bytes | None:
        try:
            reply = self.client.get_parameter(Name=self._name(site_id), WithDecryption=True)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ParameterNotFound":
                return None
            raise
        return bytes.fromhex(reply["Parameter"]["Value"])

    def _create(self, site_id: str) -> bytes:
        try:
            self.client.put_parameter(
                Name=self._name(site_id),
                Value=secrets.token_hex(32),
                Type="SecureString",
                Overwrite=False,
                Description="Beaconlake per-site key of the user-id hash; keep it secret",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ParameterAlreadyExists":
                raise
        secret = self._read(site_id)
        if secret is None:
            raise SinkUnavailable("the user-id secret could not be stored")
        return secret
