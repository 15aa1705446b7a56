"""The event ledger on IDEMPOTENCY_TABLE, beside the confirm ledger's records: items whose id starts
with `event#` (the confirm's start with `confirm#`, so the two never meet, and IAM can grant the
events function the `event#` items only). The confirm ledger's attribute names (Powertools' `id`,
`status`, `validation` = content hash, `data` = result (zlib JSON), TTL `expiration`), plus `owner`,
`lease_expires_at`, `attempts`. Every transition is one conditional write (`store/_leased.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from capi_writeback.rails.event_ledger.persistence.base import EventRecord
from capi_writeback.store._dynamo import num, pack, unpack
from capi_writeback.store._leased import DynamoLeasedRecords


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


class DynamoEventLedgerStore(DynamoLeasedRecords[EventRecord]):
    """EventLedgerStore on IDEMPOTENCY_TABLE."""

    env_var = "IDEMPOTENCY_TABLE"

    def _item(self, record: EventRecord) -> dict[str, Any]:
        return _item(record)

    def _record(self, item: Mapping[str, Any]) -> EventRecord:
        return _record(item)

    def close(self, record_id: str, owner: str, status: str, result: Mapping[str, Any] | None,
              expiration: float) -> bool:
        update, names = "SET #status = :status, #exp = :exp", {}
        values: dict[str, Any] = {":status": {"S": status}, ":exp": num(int(expiration))}
        if result is not None:
            values[":data"] = {"B": pack(dict(result))}
            update += ", #data = :data"
            names["#data"] = "data"
        return self._if_owner(record_id, owner, update, names, values)
