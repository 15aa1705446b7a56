"""DynamoDB backends of the store interfaces (`store.base`), over one boto3 client per process.

Nothing touches AWS at import time: boto3 is imported and the client built on first use (cold
start, and a client built before moto starts would talk to real AWS). Table names come from the
environment variables of docs/architecture.md, read on first use too. Every rule that must hold
under concurrency is a single conditional write here; items whose TTL has passed are treated as
absent (DynamoDB deletes them only eventually, moto never).
"""

from __future__ import annotations

import json
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from capi_writeback.store.base import (
    IN_PROGRESS,
    AuditConflict,
    FailureLog,
    LedgerRecord,
    occurred_at_seconds,
)

_CLIENT: Any = None
_CLIENT_LOCK = threading.Lock()
MAX_RESULT_BYTES = 350_000  # a DynamoDB item holds 400 KB; leave room for the other attributes


def client() -> Any:
    """The process-wide DynamoDB client (created on first call; thread-safe to share)."""
    global _CLIENT
    if _CLIENT is None:
        with _CLIENT_LOCK:
            if _CLIENT is None:
                import boto3
                from botocore.config import Config

                _CLIENT = boto3.client("dynamodb", config=Config(
                    retries={"mode": "standard", "max_attempts": 4},
                    connect_timeout=3, read_timeout=10, max_pool_connections=32))
    return _CLIENT


def reset_client() -> None:
    """Forget the shared client (tests: a new moto mock; local tools: a new endpoint)."""
    global _CLIENT
    with _CLIENT_LOCK:
        _CLIENT = None


def _is_condition_failure(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code == "ConditionalCheckFailedException"


class _Table:
    """A table name (from `env_var` unless given) and a client (the shared one unless given)."""

    env_var = ""

    def __init__(self, table_name: str | None = None, client: Any = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._table_name = table_name
        self._client = client
        self.clock = clock

    @property
    def table(self) -> str:
        if self._table_name is None:
            name = os.environ.get(self.env_var)
            if not name:
                raise RuntimeError(f"environment variable {self.env_var} (table name) is not set")
            self._table_name = name
        return self._table_name

    @property
    def ddb(self) -> Any:
        return self._client if self._client is not None else client()


# --- attribute values -------------------------------------------------------------------------

def _num(value: float | int) -> dict[str, str]:
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def _to_number(text: str) -> int | float:
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else float(number)


def _pack(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8"))


def _unpack(blob: Any) -> Any:
    return json.loads(zlib.decompress(bytes(blob)).decode("utf-8"))


def _plain(value: Any) -> Any:
    """Deserialized DynamoDB values → JSON types (Decimal → int/float, sets → sorted lists)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_plain(v) for v in value)
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return value


def _dynamo_ready(value: Any) -> Any:
    """JSON-like values → what TypeSerializer accepts (float → Decimal; NaN/inf refused)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("NaN and infinity cannot be stored")
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(k): _dynamo_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_dynamo_ready(v) for v in value]
    return value


def _serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {k: serializer.serialize(_dynamo_ready(v)) for k, v in item.items() if v is not None}


def _deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {k: _plain(deserializer.deserialize(v)) for k, v in item.items()}


# --- idempotency ledger -----------------------------------------------------------------------

_LEDGER_NAMES = {"#id": "id", "#status": "status", "#owner": "owner", "#exp": "expiration"}


def _ledger_item(record: LedgerRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": {"S": record.id},
        "profile_id": {"S": record.profile_id},
        "idempotency_key": {"S": record.idempotency_key},
        "validation": {"S": record.payload_hash},
        "batch_count": _num(record.batch_count),
        "status": {"S": record.status},
        "owner": {"S": record.owner},
        "generation": {"S": record.generation},
        "lease_expires_at": _num(record.lease_expires_at),
        "expiration": _num(int(record.expiration)),
        "attempts": _num(record.attempts),
    }
    return item


def _ledger_record(item: Mapping[str, Any]) -> LedgerRecord:
    return LedgerRecord(
        id=item["id"]["S"],
        profile_id=item["profile_id"]["S"],
        idempotency_key=item["idempotency_key"]["S"],
        payload_hash=item["validation"]["S"],
        batch_count=int(item["batch_count"]["N"]),
        status=item["status"]["S"],
        owner=item["owner"]["S"],
        generation=item["generation"]["S"],
        lease_expires_at=float(item["lease_expires_at"]["N"]),
        expiration=float(item["expiration"]["N"]),
        attempts=int(item.get("attempts", {"N": "1"})["N"]),
        last_status=item["last_status"]["S"] if "last_status" in item else None,
        result=_unpack(item["data"]["B"]) if "data" in item else None,
    )


def _batch_id(record_id: str, index: int) -> str:
    return f"{record_id}#batch#{index}"


class DynamoIdempotencyStore(_Table):
    """LedgerStore on IDEMPOTENCY_TABLE: one record item per key plus one item per accepted batch
    (`<record id>#batch#<index>`, tagged with the record's generation)."""

    env_var = "IDEMPOTENCY_TABLE"

    def create(self, record: LedgerRecord, now: float) -> LedgerRecord | None:
        try:
            self.ddb.put_item(
                TableName=self.table, Item=_ledger_item(record),
                ConditionExpression="attribute_not_exists(#id) OR #exp <= :now",
                ExpressionAttributeNames={"#id": "id", "#exp": "expiration"},
                ExpressionAttributeValues={":now": _num(int(now))},
                ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return None
        except Exception as exc:
            if not _is_condition_failure(exc):
                raise
            old = getattr(exc, "response", {}).get("Item")
        if not old:  # pragma: no cover - DynamoDB always returns ALL_OLD here; be safe anyway
            old = self.ddb.get_item(TableName=self.table, Key={"id": {"S": record.id}},
                                    ConsistentRead=True).get("Item")
            if not old:
                return self.create(record, now)
        return _ledger_record(old)

    def get(self, record_id: str, now: float) -> LedgerRecord | None:
        item = self.ddb.get_item(TableName=self.table, Key={"id": {"S": record_id}},
                                 ConsistentRead=True).get("Item")
        record = _ledger_record(item) if item else None
        return record if record is not None and record.expiration > now else None  # TTL may lag

    def take_over(self, record: LedgerRecord, owner: str, lease_expires_at: float,
                  expiration: float) -> LedgerRecord | None:
        try:
            response = self.ddb.update_item(
                TableName=self.table, Key={"id": {"S": record.id}},
                UpdateExpression="SET #status = :running, #owner = :new, lease_expires_at = :lease, "
                                 "#exp = :exp ADD attempts :one",
                ConditionExpression="#owner = :old AND #status = :was",
                ExpressionAttributeNames={"#status": "status", "#owner": "owner", "#exp": "expiration"},
                ExpressionAttributeValues={
                    ":running": {"S": IN_PROGRESS}, ":new": {"S": owner}, ":old": {"S": record.owner},
                    ":was": {"S": record.status}, ":lease": _num(lease_expires_at),
                    ":exp": _num(int(expiration)), ":one": {"N": "1"}},
                ReturnValues="ALL_NEW")
        except Exception as exc:
            if _is_condition_failure(exc):
                return None
            raise
        return _ledger_record(response["Attributes"])

    def add_batch(self, record_id: str, generation: str, owner: str, index: int,
                  summary: Mapping[str, Any], lease_expires_at: float, expiration: float) -> bool:
        # The batch item is a fact (Meta accepted it) whoever holds the lease, so it is written
        # unconditionally; only the lease renewal depends on still being the owner.
        self.ddb.put_item(TableName=self.table, Item={
            "id": {"S": _batch_id(record_id, index)},
            "generation": {"S": generation},
            "batch_index": _num(index),
            "summary": {"B": _pack(dict(summary))},
            "expiration": _num(int(expiration)),
        })
        try:
            self.ddb.update_item(
                TableName=self.table, Key={"id": {"S": record_id}},
                UpdateExpression="SET lease_expires_at = :lease, #exp = :exp",
                ConditionExpression="#owner = :owner AND #status = :running",
                ExpressionAttributeNames={"#status": "status", "#owner": "owner", "#exp": "expiration"},
                ExpressionAttributeValues={":lease": _num(lease_expires_at), ":exp": _num(int(expiration)),
                                           ":owner": {"S": owner}, ":running": {"S": IN_PROGRESS}})
        except Exception as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def done_batches(self, record_id: str, generation: str, batch_count: int,
                     now: float) -> dict[int, dict[str, Any]]:
        done: dict[int, dict[str, Any]] = {}
        ids = [_batch_id(record_id, i) for i in range(batch_count)]
        for start in range(0, len(ids), 100):
            pending: dict[str, Any] = {self.table: {
                "Keys": [{"id": {"S": i}} for i in ids[start:start + 100]], "ConsistentRead": True}}
            for attempt in range(10):
                response = self.ddb.batch_get_item(RequestItems=pending)
                for item in response.get("Responses", {}).get(self.table, []):
                    if item["generation"]["S"] == generation and float(item["expiration"]["N"]) > now:
                        done[int(item["batch_index"]["N"])] = _unpack(item["summary"]["B"])
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                time.sleep(min(1.0, 0.05 * 2 ** attempt))
            else:
                raise RuntimeError("DynamoDB kept returning unprocessed keys for the batch progress")
        return done

    def close(self, record_id: str, owner: str, status: str, last_status: str,
              result: Mapping[str, Any] | None, expiration: float) -> bool:
        names = {"#status": "status", "#owner": "owner", "#exp": "expiration"}
        values: dict[str, Any] = {":status": {"S": status}, ":last": {"S": last_status},
                                  ":exp": _num(int(expiration)), ":owner": {"S": owner},
                                  ":running": {"S": IN_PROGRESS}}
        update = "SET #status = :status, last_status = :last, #exp = :exp"
        if result is not None:
            blob = _pack(dict(result))
            if len(blob) > MAX_RESULT_BYTES:
                raise ValueError(f"confirm result too large to store ({len(blob)} bytes compressed)")
            values[":data"] = {"B": blob}
            update += ", #data = :data"
            names["#data"] = "data"
        try:
            self.ddb.update_item(
                TableName=self.table, Key={"id": {"S": record_id}}, UpdateExpression=update,
                ConditionExpression="#owner = :owner AND #status = :running",
                ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        except Exception as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True


# --- circuit breaker --------------------------------------------------------------------------

def _failure_log(item: Mapping[str, Any] | None) -> FailureLog:
    if not item:
        return FailureLog(failures=(), version=0)
    failures = tuple(float(v["N"]) for v in item.get("failures", {}).get("L", []))
    return FailureLog(failures=failures, version=int(item.get("version", {}).get("N", "0")))


class DynamoBreakerStore(_Table):
    """BreakerStore on BREAKER_TABLE: one item per profile {failures: [N...], version, ttl}."""

    env_var = "BREAKER_TABLE"

    def get(self, profile_id: str) -> FailureLog:
        response = self.ddb.get_item(TableName=self.table, Key={"profile_id": {"S": profile_id}},
                                     ConsistentRead=True)
        return _failure_log(response.get("Item"))

    def append(self, profile_id: str, at: float, ttl: float) -> FailureLog:
        response = self.ddb.update_item(
            TableName=self.table, Key={"profile_id": {"S": profile_id}},
            UpdateExpression="SET failures = list_append(if_not_exists(failures, :empty), :at), "
                             "#ttl = :ttl ADD version :one",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={":empty": {"L": []}, ":at": {"L": [_num(round(at, 3))]},
                                       ":ttl": _num(int(ttl) + 1), ":one": {"N": "1"}},
            ReturnValues="ALL_NEW")
        return _failure_log(response["Attributes"])

    def replace(self, profile_id: str, failures: Sequence[float], version: int) -> bool:
        try:
            self.ddb.update_item(
                TableName=self.table, Key={"profile_id": {"S": profile_id}},
                UpdateExpression="SET failures = :failures ADD version :one",
                ConditionExpression="version = :version",
                ExpressionAttributeValues={":failures": {"L": [_num(round(t, 3)) for t in failures]},
                                           ":version": _num(version), ":one": {"N": "1"}})
        except Exception as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def clear(self, profile_id: str, only_if_any: bool = False) -> None:
        kwargs: dict[str, Any] = {}
        values: dict[str, Any] = {":empty": {"L": []}, ":one": {"N": "1"}}
        if only_if_any:
            kwargs["ConditionExpression"] = "attribute_exists(failures) AND size(failures) > :zero"
            values[":zero"] = {"N": "0"}
        try:
            self.ddb.update_item(
                TableName=self.table, Key={"profile_id": {"S": profile_id}},
                UpdateExpression="SET failures = :empty ADD version :one",
                ExpressionAttributeValues=values, **kwargs)
        except Exception as exc:
            if not _is_condition_failure(exc):
                raise


# --- audit ------------------------------------------------------------------------------------

class DynamoAuditStore(_Table):
    """AuditStore on AUDIT_TABLE: conditional PutItem and Query only (no update/delete exists)."""

    env_var = "AUDIT_TABLE"

    def put_new(self, item: Mapping[str, Any]) -> None:
        try:
            self.ddb.put_item(TableName=self.table, Item=_serialize(item),
                              ConditionExpression="attribute_not_exists(profile_id)")
        except Exception as exc:
            if _is_condition_failure(exc):
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
            rows.extend(_deserialize(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return rows


# --- conversions ------------------------------------------------------------------------------

CONVERSION_TTL_SECONDS = 90 * 86400


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class DynamoConversionStore(_Table):
    """ConversionStore on CONVERSIONS_TABLE. The row is kept as JSON (exact round trip, no Decimal
    surprises) beside the key and index attributes; windows are a Query on GSI `by_occurred_at`."""

    env_var = "CONVERSIONS_TABLE"
    index_name = "by_occurred_at"

    def __init__(self, table_name: str | None = None, client: Any = None,
                 clock: Callable[[], float] = time.time, ttl_seconds: float = CONVERSION_TTL_SECONDS,
                 page_size: int | None = None) -> None:
        super().__init__(table_name, client, clock)
        self.ttl_seconds = ttl_seconds
        self.page_size = page_size  # items per Query page (None: DynamoDB's 1 MB pages)

    def put_rows(self, profile_id: str, rows: Iterable[Mapping[str, Any]]) -> int:
        now = self.clock()
        by_id: dict[str, dict[str, Any]] = {}
        for row in rows:
            conversion_id = row.get("conversion_id")
            if not isinstance(conversion_id, str | int) or isinstance(conversion_id, bool) or \
                    str(conversion_id) == "":
                raise ValueError("every stored row needs a conversion_id")
            item: dict[str, Any] = {
                "profile_id": {"S": profile_id},
                "conversion_id": {"S": str(conversion_id)},
                "occurred_at": _num(occurred_at_seconds(row.get("occurred_at"))),
                "row": {"S": json.dumps(dict(row), separators=(",", ":"), sort_keys=True, default=str)},
                "stored_at": _num(int(now)),
                "ttl": _num(int(now + self.ttl_seconds)),
            }
            if isinstance(row.get("outcome_type"), str):
                item["outcome_type"] = {"S": row["outcome_type"]}
            by_id[str(conversion_id)] = item  # one write per key: BatchWriteItem refuses duplicates
        for chunk in _chunks(list(by_id.values()), 25):
            self._write_all([{"PutRequest": {"Item": item}} for item in chunk])
        return len(by_id)

    def _write_all(self, requests: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self.table: requests}
        for attempt in range(10):
            unprocessed = self.ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not unprocessed:
                return
            pending = unprocessed
            time.sleep(min(1.0, 0.05 * 2 ** attempt))
        raise RuntimeError("DynamoDB kept returning unprocessed conversion rows")

    def query(self, profile_id: str, start: float, end: float,
              outcome_types: Iterable[str] | None = None) -> list[dict[str, Any]]:
        wanted = sorted(set(outcome_types)) if outcome_types is not None else []
        names = {"#ttl": "ttl"}
        values: dict[str, Any] = {":p": {"S": profile_id}, ":start": _num(start), ":end": _num(end),
                                  ":now": _num(int(self.clock()))}
        live = "(attribute_not_exists(#ttl) OR #ttl > :now)"
        filters = [live]
        if wanted and len(wanted) <= 99:
            for i, outcome in enumerate(wanted):
                values[f":o{i}"] = {"S": outcome}
            filters.append(f"outcome_type IN ({', '.join(f':o{i}' for i in range(len(wanted)))})")
        kwargs: dict[str, Any] = {"Limit": self.page_size} if self.page_size else {}
        found: list[tuple[float, str, dict[str, Any]]] = []
        while True:
            response = self.ddb.query(
                TableName=self.table, IndexName=self.index_name,
                KeyConditionExpression="profile_id = :p AND occurred_at BETWEEN :start AND :end",
                FilterExpression=" AND ".join(filters), ExpressionAttributeNames=names,
                ExpressionAttributeValues=values, **kwargs)
            for item in response.get("Items", []):
                if wanted and item.get("outcome_type", {}).get("S") not in wanted:
                    continue
                found.append((float(item["occurred_at"]["N"]), item["conversion_id"]["S"],
                              json.loads(item["row"]["S"])))
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        found.sort(key=lambda entry: (entry[0], entry[1]))  # same rows → same order → same payload hash
        return [row for _, _, row in found]


# --- directory: workspaces, members, tokens, profiles -----------------------------------------

class DynamoDirectoryStore:
    """DirectoryStore over WORKSPACES_TABLE, TOKENS_TABLE and PROFILES_TABLE (reads + seeding)."""

    def __init__(self, workspaces_table: str | None = None, tokens_table: str | None = None,
                 profiles_table: str | None = None, client: Any = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._workspaces = _Table(workspaces_table, client)
        self._workspaces.env_var = "WORKSPACES_TABLE"
        self._tokens = _Table(tokens_table, client)
        self._tokens.env_var = "TOKENS_TABLE"
        self._profiles = _Table(profiles_table, client)
        self._profiles.env_var = "PROFILES_TABLE"

    @staticmethod
    def _get(table: _Table, key: Mapping[str, str]) -> dict[str, Any] | None:
        response = table.ddb.get_item(TableName=table.table, Key={k: {"S": v} for k, v in key.items()})
        item = response.get("Item")
        return _deserialize(item) if item else None

    def get_token(self, token_hash: str) -> dict[str, Any] | None:
        item = self._get(self._tokens, {"token_hash": token_hash})
        if item is None or ("ttl" in item and float(item["ttl"]) <= self.clock()):
            return None
        return item

    def get_workspace_settings(self, workspace_id: str) -> dict[str, Any] | None:
        return self._get(self._workspaces, {"workspace_id": workspace_id, "sk": "SETTINGS"})

    def get_member_role(self, workspace_id: str, user_id: str) -> str | None:
        item = self._get(self._workspaces, {"workspace_id": workspace_id, "sk": f"MEMBER#{user_id}"})
        role = item.get("role") if item else None
        return role if isinstance(role, str) else None

    def get_profile(self, profile_id: str) -> dict[str, Any] | None:
        return self._get(self._profiles, {"profile_id": profile_id})

    @staticmethod
    def _put(table: _Table, item: Mapping[str, Any]) -> None:
        table.ddb.put_item(TableName=table.table, Item=_serialize(item))

    def put_workspace(self, workspace_id: str, *, name: str, writeback_enabled: bool = False) -> None:
        self._put(self._workspaces, {"workspace_id": workspace_id, "sk": "SETTINGS", "name": name,
                                     "writeback_enabled": bool(writeback_enabled)})

    def put_member(self, workspace_id: str, user_id: str, role: str) -> None:
        self._put(self._workspaces, {"workspace_id": workspace_id, "sk": f"MEMBER#{user_id}",
                                     "user_id": user_id, "role": role})

    def put_token(self, token_hash: str, *, workspace_id: str, user_id: str, scopes: Iterable[str],
                  expires_at: float) -> None:
        if len(token_hash) != 64:
            raise ValueError("store the token's SHA-256 hex digest, never the token")
        self._put(self._tokens, {"token_hash": token_hash, "workspace_id": workspace_id,
                                 "user_id": user_id, "scopes": sorted(set(scopes)),
                                 "expires_at": int(expires_at), "ttl": int(expires_at)})

    def put_profile(self, profile_id: str, *, workspace_id: str, name: str,
                    settings: Mapping[str, Any] | None = None,
                    connection: Mapping[str, Any] | None = None) -> None:
        self._put(self._profiles, {"profile_id": profile_id, "workspace_id": workspace_id, "name": name,
                                   "settings": dict(settings or {}),
                                   "connection": dict(connection) if connection is not None else None})
