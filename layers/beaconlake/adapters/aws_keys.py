"""Stats API keys in DynamoDB (the key store of the AWS back end), and the scan both DynamoDB
stores use."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from beaconlake.adapters.aws import CLIENT_CONFIG
from beaconlake.keys import SEEN_PREFIX, stored_key
from beaconlake.ports import STATS_READ, ApiKey


def scan_all(table: Any, **args: Any) -> list[dict[str, Any]]:
    """Every item of a DynamoDB scan, following its pages."""
    items: list[dict[str, Any]] = []
    while True:
        page = table.scan(**args)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        args["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# Seen request signatures share the keys table: item `key_id` = SEEN_PREFIX + id, with the
# table's TTL attribute `expires_at` (DynamoDB deletes lazily, so the put checks it too).


class DynamoKeyStore:
    """API keys in DynamoDB (partition key `key_id`); only the secret's hash is stored."""

    def __init__(self, table_name: str, resource: Any = None) -> None:
        self.table_name = table_name
        self._resource = resource

    @cached_property
    def table(self) -> Any:
        """Built on first use: the collector never needs it, and boto3 resources load slowly."""
        resource = self._resource
        if resource is None:
            import boto3

            resource = boto3.resource("dynamodb", config=CLIENT_CONFIG)
        return resource.Table(self.table_name)

    @staticmethod
    def _key(item: dict[str, Any]) -> ApiKey:
        return stored_key(str(item["key_id"]), item)

    def add(
        self,
        key_id: str,
        secret_hash: str,
        sites: tuple[str, ...],
        label: str,
        scopes: tuple[str, ...] = (STATS_READ,),
    ) -> ApiKey:
        item = {
            "key_id": key_id,
            "hash": secret_hash,
            "sites": list(sites),
            "label": label,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "scopes": list(scopes),
        }
        self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(key_id)")
        return self._key(item)

    def secret_hash(self, key_id: str) -> tuple[ApiKey, str] | None:
        item = self.table.get_item(Key={"key_id": key_id}).get("Item")
        if item is None:
            return None
        return self._key(item), str(item["hash"])

    def list(self) -> list[ApiKey]:
        keys = (
            self._key(i)
            for i in scan_all(self.table)
            if not str(i["key_id"]).startswith(SEEN_PREFIX)
        )
        return sorted(keys, key=lambda k: k.key_id)

    def revoke(self, key_id: str) -> bool:
        reply = self.table.delete_item(Key={"key_id": key_id}, ReturnValues="ALL_OLD")
        return "Attributes" in reply

    def first_use(self, signature_id: str, expires_at: int) -> bool:
        """A conditional put: only one request with a signature wins, across containers."""
        try:
            self.table.put_item(
                Item={"key_id": SEEN_PREFIX + signature_id, "expires_at": expires_at},
                ConditionExpression="attribute_not_exists(key_id) OR expires_at < :now",
                ExpressionAttributeValues={":now": int(time.time())},
            )
        except self.table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True
