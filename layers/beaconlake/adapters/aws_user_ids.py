"""AWS UserIdSecrets: one SecureString parameter `<prefix>/<site_id>` per site in SSM.

Created on first use and cached for the life of the container (see `SecretParameters`).
Unlike the daily salts it is long-lived by design: the same user must hash to the same id
across days."""

from __future__ import annotations

from typing import Any

from beaconlake.adapters.aws import SecretParameters


class ParameterUserIdSecrets:
    def __init__(self, prefix: str, client: Any = None) -> None:
        self.parameters = SecretParameters(
            prefix,
            "Beaconlake per-site key of the user-id hash; keep it secret",
            "the user-id secret store",
            client,
        )

    def secret_for(self, site_id: str) -> bytes:
        return self.parameters.secret(site_id)
