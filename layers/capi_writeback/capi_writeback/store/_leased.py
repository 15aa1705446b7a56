"""Records held under a lease, the part the confirm ledger and the event ledger share: a record is
created once (or over an expired one), read while unexpired, taken over from the owner and status
it was read with, and closed only by the owner that holds it while it is IN_PROGRESS. Each ledger
adds its own fields and steps (`rails/idempotency`, `rails/event_ledger`).

In DynamoDB every transition is one conditional write on the item `id` (Powertools' layout: TTL
`expiration`); in memory, the same rules under one lock.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import Any, Generic, Protocol, TypeVar

from capi_writeback.store._dynamo import Backend, is_condition_failure, num

IN_PROGRESS = "INPROGRESS"
NAMES = {"#status": "status", "#owner": "owner", "#exp": "expiration"}


class Leased(Protocol):
    """The fields every leased record has (both ledgers' records are frozen dataclasses)."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def expiration(self) -> float: ...
    @property
    def attempts(self) -> int: ...


R = TypeVar("R", bound=Leased)


class MemoryLeasedRecords(Generic[R]):
    """Leased records in a dict, under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: dict[str, R] = {}

    def create(self, record: R, now: float) -> R | None:
        with self._lock:
            old = self.records.get(record.id)
            if old is not None and old.expiration > now:
                return old
            self.records[record.id] = record
            return None

    def get(self, record_id: str, now: float) -> R | None:
        with self._lock:
            record = self.records.get(record_id)
            return record if record is not None and record.expiration > now else None

    def take_over(self, record: R, owner: str, lease_expires_at: float, expiration: float) -> R | None:
        with self._lock:
            current = self.records.get(record.id)
            if current is None or current.owner != record.owner or current.status != record.status:
                return None
            new = dataclasses.replace(current, status=IN_PROGRESS, owner=owner,  # type: ignore[type-var]
                                      lease_expires_at=lease_expires_at, expiration=expiration,
                                      attempts=current.attempts + 1)
            self.records[record.id] = new
            return new

    def _if_owner(self, record_id: str, owner: str, **changes: Any) -> bool:
        """Apply `changes` if `owner` holds the record IN_PROGRESS; False if it does not."""
        with self._lock:
            current = self.records.get(record_id)
            if current is None or current.owner != owner or current.status != IN_PROGRESS:
                return False
            self.records[record_id] = dataclasses.replace(current, **changes)  # type: ignore[type-var]
            return True


class DynamoLeasedRecords(Backend, Generic[R]):
    """Leased records as DynamoDB items; a subclass says how a record maps to an item and back."""

    def _item(self, record: R) -> dict[str, Any]:
        raise NotImplementedError

    def _record(self, item: Mapping[str, Any]) -> R:
        raise NotImplementedError

    def create(self, record: R, now: float) -> R | None:
        try:
            self.ddb.put_item(
                TableName=self.table, Item=self._item(record),
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
        return self._record(old)

    def get(self, record_id: str, now: float) -> R | None:
        item = self.ddb.get_item(TableName=self.table, Key={"id": {"S": record_id}},
                                 ConsistentRead=True).get("Item")
        record = self._record(item) if item else None
        return record if record is not None and record.expiration > now else None  # TTL may lag

    def take_over(self, record: R, owner: str, lease_expires_at: float, expiration: float) -> R | None:
        try:
            response = self.ddb.update_item(
                TableName=self.table, Key={"id": {"S": record.id}},
                UpdateExpression="SET #status = :running, #owner = :new, lease_expires_at = :lease, "
                                 "#exp = :exp ADD attempts :one",
                ConditionExpression="#owner = :old AND #status = :was",
                ExpressionAttributeNames=NAMES,
                ExpressionAttributeValues={
                    ":running": {"S": IN_PROGRESS}, ":new": {"S": owner}, ":old": {"S": record.owner},
                    ":was": {"S": record.status}, ":lease": num(lease_expires_at),
                    ":exp": num(int(expiration)), ":one": {"N": "1"}},
                ReturnValues="ALL_NEW")
        except Exception as exc:
            if is_condition_failure(exc):
                return None
            raise
        return self._record(response["Attributes"])

    def _if_owner(self, record_id: str, owner: str, update: str, names: Mapping[str, str],
                  values: Mapping[str, Any]) -> bool:
        """`update` if `owner` holds the record IN_PROGRESS; False if it does not."""
        try:
            self.ddb.update_item(
                TableName=self.table, Key={"id": {"S": record_id}}, UpdateExpression=update,
                ConditionExpression="#owner = :owner AND #status = :running",
                ExpressionAttributeNames={**NAMES, **names},
                ExpressionAttributeValues={**values, ":owner": {"S": owner}, ":running": {"S": IN_PROGRESS}})
        except Exception as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True
