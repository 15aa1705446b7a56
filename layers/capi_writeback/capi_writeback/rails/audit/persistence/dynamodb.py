"""The audit trail on AUDIT_TABLE: conditional PutItem and Query only (the functions' IAM roles
grant nothing else on it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from capi_writeback.rails.audit.exceptions import AuditConflict
from capi_writeback.store._dynamo import Backend, deserialize, is_condition_failure, serialize


class DynamoAuditStore(Backend):
    """AuditStore on AUDIT_TABLE."""

    env_var = "AUDIT_TABLE"

    def put_new(self, item: Mapping[str, Any]) -> None:
        try:
            self.ddb.put_item(TableName=self.table, Item=serialize(item),
                              ConditionExpression="attribute_not_exists(profile_id)")
        except Exception as exc:
            if is_condition_failure(exc):
                raise AuditConflict(f"audit row {item.get('sk')!r} already exists") from exc
            raise

    def query(self, profile_id: str, limit: int, before_sk: str | None) -> list[dict[str, Any]]:
        condition = "profile_id = :p"
        values: dict[str, Any] = {":p": {"S": profile_id}}
        if before_sk is not None:
            condition += " AND sk < :before"
            values[":before"] = {"S": before_sk}
        rows: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while len(rows) < limit:
            response = self.ddb.query(TableName=self.table, KeyConditionExpression=condition,
                                      ExpressionAttributeValues=values, ScanIndexForward=False,
                                      ConsistentRead=True, Limit=limit - len(rows), **kwargs)
            rows.extend(deserialize(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return rows
