"""What every DynamoDB backend shares: one boto3 client per process, table names from the
environment, attribute codecs, the condition-failure check and the unprocessed-items retry.

Nothing touches AWS at import time: boto3 is imported and the client built on first use (cold
start, and a client built before moto starts would talk to real AWS). Table names come from the
environment variables of docs/architecture.md, read on first use too. Items whose TTL has passed
are treated as absent by every backend (DynamoDB deletes them only eventually, moto never).
"""

from __future__ import annotations

import json
import os
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

_CLIENT: Any = None
_CLIENT_LOCK = threading.Lock()
MAX_ROUNDS = 10  # batch calls retried this many times while DynamoDB returns unprocessed items


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


def is_condition_failure(exc: Exception) -> bool:
    """True when a conditional write was refused because its condition did not hold."""
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code == "ConditionalCheckFailedException"


class Table:
    """A table name (from `env_var` unless given) and a client (the shared one unless given)."""

    def __init__(self, env_var: str, table_name: str | None = None, client: Any = None) -> None:
        self.env_var = env_var
        self._table_name = table_name
        self._client = client

    @property
    def name(self) -> str:
        if self._table_name is None:
            name = os.environ.get(self.env_var)
            if not name:
                raise RuntimeError(f"environment variable {self.env_var} (table name) is not set")
            self._table_name = name
        return self._table_name

    @property
    def ddb(self) -> Any:
        return self._client if self._client is not None else client()


class Backend:
    """Base of a one-table DynamoDB backend: `self.table` (name from `env_var` unless given),
    `self.ddb` (the shared client unless given) and the clock its TTL checks read."""

    env_var = ""

    def __init__(self, table_name: str | None = None, client: Any = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._table = Table(self.env_var, table_name, client)
        self.clock = clock

    @property
    def table(self) -> str:
        return self._table.name

    @property
    def ddb(self) -> Any:
        return self._table.ddb


# --- attribute values -------------------------------------------------------------------------

def num(value: float | int) -> dict[str, str]:
    """A DynamoDB number attribute (floats keep their shortest exact repr)."""
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def pack(value: Any) -> bytes:
    """JSON → zlib bytes (a binary attribute: results and batch summaries stay small)."""
    return zlib.compress(json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8"))


def unpack(blob: Any) -> Any:
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


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-like item as DynamoDB attribute values (None values left out)."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {k: serializer.serialize(_dynamo_ready(v)) for k, v in item.items() if v is not None}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values as JSON types."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {k: _plain(deserializer.deserialize(v)) for k, v in item.items()}


# --- batch calls ------------------------------------------------------------------------------

def _backoff(attempt: int) -> None:
    time.sleep(min(1.0, 0.05 * 2 ** attempt))


def batch_write(ddb: Any, table: str, requests: list[dict[str, Any]]) -> None:
    """BatchWriteItem of up to 25 requests, resending unprocessed items with backoff."""
    pending: dict[str, Any] = {table: requests}
    for attempt in range(MAX_ROUNDS):
        unprocessed = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        if not unprocessed:
            return
        pending = unprocessed
        _backoff(attempt)
    raise RuntimeError(f"DynamoDB kept returning unprocessed items for {table}")


def batch_get(ddb: Any, table: str, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consistent BatchGetItem of any number of keys (100 per call), asking again for
    unprocessed keys with backoff; the items found, in no particular order."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), 100):
        pending: dict[str, Any] = {table: {"Keys": keys[start:start + 100], "ConsistentRead": True}}
        for attempt in range(MAX_ROUNDS):
            response = ddb.batch_get_item(RequestItems=pending)
            found.extend(response.get("Responses", {}).get(table, []))
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
            _backoff(attempt)
        else:
            raise RuntimeError(f"DynamoDB kept returning unprocessed keys for {table}")
    return found
