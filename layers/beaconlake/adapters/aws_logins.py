"""AWS LoginStore: dashboard logins and shared links in DynamoDB (the sessions table).

Table: partition key `pk` (string, "<kind>#<id>"), TTL attribute `expires_at` (epoch
seconds). DynamoDB deletes expired items lazily, so reads check `expires_at` themselves.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr

from beaconlake.adapters.aws_keys import scan_all


class DynamoLoginStore:
    def __init__(self, table_name: str, client: Any = None) -> None:
        resource = client or boto3.resource("dynamodb")
        self.table = resource.Table(table_name)

    @staticmethod
    def _live(item: dict[str, Any], now: float) -> bool:
        expires = item.get("expires_at")
        return expires is None or int(expires) > now

    def put(self, kind: str, item_id: str, record: dict[str, Any], expires_at: int | None) -> None:
        item: dict[str, Any] = {
            "pk": f"{kind}#{item_id}",
            "kind": kind,
            "record": json.dumps(record),
        }
        if expires_at is not None:
            item["expires_at"] = expires_at
        self.table.put_item(Item=item)

    def get(self, kind: str, item_id: str) -> dict[str, Any] | None:
        item = self.table.get_item(Key={"pk": f"{kind}#{item_id}"}, ConsistentRead=True).get("Item")
        if item is None or not self._live(item, time.time()):
            return None
        return dict(json.loads(str(item["record"])))

    def delete(self, kind: str, item_id: str) -> bool:
        result = self.table.delete_item(Key={"pk": f"{kind}#{item_id}"}, ReturnValues="ALL_OLD")
        return "Attributes" in result

    def list(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        now = time.time()
        items = scan_all(self.table, FilterExpression=Attr("kind").eq(kind))
        prefix = f"{kind}#"
        return sorted(
            (str(i["pk"])[len(prefix) :], dict(json.loads(str(i["record"]))))
            for i in items
            if self._live(i, now)
        )
