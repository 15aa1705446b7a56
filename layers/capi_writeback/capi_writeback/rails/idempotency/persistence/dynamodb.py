"""The confirm ledger on IDEMPOTENCY_TABLE (Powertools' layout: `id`, `status`, `validation`,
`data`, TTL `expiration`), plus one item per accepted batch (`<record id>#batch#<index>`, tagged
with the record's generation). Every transition is one conditional write (the lease rules shared with
the event ledger: `store/_leased.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from capi_writeback.rails.idempotency.persistence.base import (
    IN_PROGRESS,
    NOT_OWNER,
    OTHER_PAYLOAD,
    PINNED,
    LedgerRecord,
)
from capi_writeback.store._dynamo import batch_get, is_condition_failure, num, pack, unpack
from capi_writeback.store._leased import DynamoLeasedRecords

MAX_RESULT_BYTES = 350_000  # a DynamoDB item holds 400 KB; leave room for the other attributes


def _item(record: LedgerRecord) -> dict[str, Any]:
    item = {
        "id": {"S": record.id},
        "profile_id": {"S": record.profile_id},
        "idempotency_key": {"S": record.idempotency_key},
        "batch_count": num(record.batch_count),
        "status": {"S": record.status},
        "owner": {"S": record.owner},
        "generation": {"S": record.generation},
        "lease_expires_at": num(record.lease_expires_at),
        "expiration": num(int(record.expiration)),
        "attempts": num(record.attempts),
    }
    if record.payload_hash:  # absent until an attempt pins its payload
        item["validation"] = {"S": record.payload_hash}
    if record.fingerprint is not None:
        item["fingerprint"] = {"S": record.fingerprint}
    if record.as_of is not None:
        item["as_of"] = num(record.as_of)
    return item


def _record(item: Mapping[str, Any]) -> LedgerRecord:
    return LedgerRecord(
        id=item["id"]["S"],
        profile_id=item["profile_id"]["S"],
        idempotency_key=item["idempotency_key"]["S"],
        payload_hash=item["validation"]["S"] if "validation" in item else "",
        batch_count=int(item["batch_count"]["N"]),
        status=item["status"]["S"],
        owner=item["owner"]["S"],
        generation=item["generation"]["S"],
        lease_expires_at=float(item["lease_expires_at"]["N"]),
        expiration=float(item["expiration"]["N"]),
        attempts=int(item.get("attempts", {"N": "1"})["N"]),
        last_status=item["last_status"]["S"] if "last_status" in item else None,
        result=unpack(item["data"]["B"]) if "data" in item else None,
        fingerprint=item["fingerprint"]["S"] if "fingerprint" in item else None,
        as_of=float(item["as_of"]["N"]) if "as_of" in item else None,
    )


def _batch_id(record_id: str, index: int) -> str:
    return f"{record_id}#batch#{index}"


class DynamoLedgerStore(DynamoLeasedRecords[LedgerRecord]):
    """LedgerStore on IDEMPOTENCY_TABLE."""

    env_var = "IDEMPOTENCY_TABLE"

    def _item(self, record: LedgerRecord) -> dict[str, Any]:
        return _item(record)

    def _record(self, item: Mapping[str, Any]) -> LedgerRecord:
        return _record(item)

    def pin(self, record_id: str, owner: str, payload_hash: str, batch_count: int) -> str:
        try:
            self.ddb.update_item(
                TableName=self.table, Key={"id": {"S": record_id}},
                UpdateExpression="SET #validation = :hash, batch_count = :count",
                ConditionExpression="#owner = :owner AND #status = :running AND "
                                    "(attribute_not_exists(#validation) OR #validation = :hash)",
                ExpressionAttributeNames={"#status": "status", "#owner": "owner",
                                          "#validation": "validation"},
                ExpressionAttributeValues={":hash": {"S": payload_hash}, ":count": num(batch_count),
                                           ":owner": {"S": owner}, ":running": {"S": IN_PROGRESS}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except Exception as exc:
            if not is_condition_failure(exc):
                raise
            old = getattr(exc, "response", {}).get("Item")
            if old is None:  # pragma: no cover - DynamoDB returns ALL_OLD here; be safe anyway
                old = self.ddb.get_item(TableName=self.table, Key={"id": {"S": record_id}},
                                        ConsistentRead=True).get("Item")
            if old and old["owner"]["S"] == owner and old["status"]["S"] == IN_PROGRESS:
                return OTHER_PAYLOAD
            return NOT_OWNER
        return PINNED

    def add_batch(self, record_id: str, generation: str, owner: str, index: int,
                  summary: Mapping[str, Any], lease_expires_at: float | None, expiration: float) -> bool:
        # The batch item is a fact (Meta accepted it) whoever holds the lease, so it is written
        # unconditionally; only the lease renewal depends on still being the owner.
        self.ddb.put_item(TableName=self.table, Item={
            "id": {"S": _batch_id(record_id, index)},
            "generation": {"S": generation},
            "batch_index": num(index),
            "summary": {"B": pack(dict(summary))},
            "expiration": num(int(expiration)),
        })
        if lease_expires_at is None:
            return True
        return self._if_owner(record_id, owner, "SET lease_expires_at = :lease, #exp = :exp", {},
                              {":lease": num(lease_expires_at), ":exp": num(int(expiration))})

    def done_batches(self, record_id: str, generation: str, batch_count: int,
                     now: float) -> dict[int, dict[str, Any]]:
        keys = [{"id": {"S": _batch_id(record_id, i)}} for i in range(batch_count)]
        return {int(item["batch_index"]["N"]): unpack(item["summary"]["B"])
                for item in batch_get(self.ddb, self.table, keys)
                if item["generation"]["S"] == generation and float(item["expiration"]["N"]) > now}

    def close(self, record_id: str, owner: str, status: str, last_status: str,
              result: Mapping[str, Any] | None, expiration: float) -> bool:
        update, names = "SET #status = :status, last_status = :last, #exp = :exp", {}
        values: dict[str, Any] = {":status": {"S": status}, ":last": {"S": last_status},
                                  ":exp": num(int(expiration))}
        if result is not None:
            blob = pack(dict(result))
            if len(blob) > MAX_RESULT_BYTES:
                raise ValueError(f"confirm result too large to store ({len(blob)} bytes compressed)")
            values[":data"] = {"B": blob}
            update += ", #data = :data"
            names["#data"] = "data"
        return self._if_owner(record_id, owner, update, names, values)
