"""The event ledger on IDEMPOTENCY_TABLE, beside the confirm ledger's records: items whose id starts
with `event#` (the confirm's start with `confirm#`, so the two never meet, and IAM can grant the
events function the `event#` items only). The confirm ledger's attribute names (Powertools' `id`,
`status`, `validation` = content hash, `data` = result (zlib JSON), TTL `expiration`), plus `owner`,
`lease_expires_at`, `attempts`. Every transition is one conditional write."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from capi_writeback.rails.event_ledger.persistence.base import IN_PROGRESS, EventRecord
from capi_writeback.store._dynamo import Backend, is_condition_failure, num, pack, unpack

_NAMES = {"#status": "status", "#owner": "owner", "#exp": "expiration"}


def _item(record: EventRecord) -> dict[str, Any]:
    return {
        "id": {"S": record.id},
        "pixel_id": {"S": record.pixel_id},
        "event_name": {"S": record.event_name},
        "event_id": {"S": record.event_id},
        "validation": {"S": record.content_hash},
        "status": {"S": record.status},
        "owner": {"S": record.owner},
        "lease_expires_at": num(record.lease_expires_at),
        "expiration": num(int(record.expiration)),
        "attempts": num(record.attempts),
    }


def _record(item: Mapping[str, Any]) -> EventRecord:
    return EventRecord(
        id=item["id"]["S"],
        pixel_id=item["pixel_id"]["S"],
        event_name=item["event_name"]["S"],
        event_id=item["event_id"]["S"],
        content_hash=item["validation"]["S"],
        status=item["status"]["S"],
        owner=item["owner"]["S"],
        lease_expires_at=float(item["lease_expires_at"]["N"]),
        expiration=float(item["expiration"]["N"]),
        attempts=int(item.get("attempts", {"N": "1"})["N"]),
        result=unpack(item["data"]["B"]) if "data" in item else None,
    )


class DynamoEventLedgerStore(Backend):
    """EventLedgerStore on IDEMPOTENCY_TABLE."""

    env_var = "IDEMPOTENCY_TABLE"

    def create(self, record: EventRecord, now: float) -> EventRecord | None:
        try:
            self.ddb.put_item(
                TableName=self.table, Item=_item(record),
                ConditionExpression="attribute_not_exists(#id) OR #exp <= :now",
                ExpressionAttributeNames={"#id": "id", "#exp": "expiration"},
                ExpressionAttributeValues={":now": num(int(now))},
                ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return None
        except Exception as exc:
            if not is_condition_failure(exc):
                raise
            old = getattr(exc, "response", {}).get("Item")
        if not old:  # pragma: no cover - DynamoDB returns ALL_OLD here; be safe anyway
            found = self.get(record.id, now)
            return found if found is not None else self.create(record, now)
        return _record(old)

    def get(self, record_id: str, now: float) -> EventRecord | None:
        item = self.ddb.get_item(TableName=self.table, Key={"id": {"S": record_id}},
                                 ConsistentRead=True).get("Item")
        record = _record(item) if item else None
        return record if record is not None and record.expiration > now else None  # TTL may lag

    def take_over(self, record: EventRecord, owner: str, lease_expires_at: float,
                  expiration: float) -> EventRecord | None:
        try:
            response = self.ddb.update_item(
                TableName=self.table, Key={"id": {"S": record.id}},
                UpdateExpression="SET #status = :running, #owner = :new, lease_expires_at = :lease, "
                                 "#exp = :exp ADD attempts :one",
                ConditionExpression="#owner = :old AND #status = :was",
                ExpressionAttributeNames=_NAMES,
                ExpressionAttributeValues={
                    ":running": {"S": IN_PROGRESS}, ":new": {"S": owner}, ":old": {"S": record.owner},
                    ":was": {"S": record.status}, ":lease": num(lease_expires_at),
                    ":exp": num(int(expiration)), ":one": {"N": "1"}},
                ReturnValues="ALL_NEW")
        except Exception as exc:
            if is_condition_failure(exc):
                return None
            raise
        return _record(response["Attributes"])

    def close(self, record_id: str, owner: str, status: str, result: Mapping[str, Any] | None,
              expiration: float) -> bool:
        names = dict(_NAMES)
        values: dict[str, Any] = {":status": {"S": status}, ":exp": num(int(expiration)),
                                  ":owner": {"S": owner}, ":running": {"S": IN_PROGRESS}}
        update = "SET #status = :status, #exp = :exp"
        if result is not None:
            values[":data"] = {"B": pack(dict(result))}
            update += ", #data = :data"
            names["#data"] = "data"
        try:
            self.ddb.update_item(
                TableName=self.table, Key={"id": {"S": record_id}}, UpdateExpression=update,
                ConditionExpression="#owner = :owner AND #status = :running",
                ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        except Exception as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True
