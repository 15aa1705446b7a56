"""Make moto apply each DynamoDB request atomically, as DynamoDB does.

In-process moto can interleave two threads inside one UpdateItem or conditional PutItem and lose a
write (seen in a 20-thread trial). The service's own guarantees (conditional writes, atomic
appends) are what the idempotency ledger and the breaker rely on, so every place that runs our code
on moto (tests, the embedded stack behind `serve` and `make demo`) serializes moto's DynamoDB
request handling through one lock. The patch is process-wide and idempotent. (It also makes
TransactWriteItems snapshot only the items it touches for its rollback: see below.)
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_LOCK = threading.RLock()
_MARK = "_capi_writeback_serialized"


def serialize_moto_dynamodb() -> None:
    """Patch moto's DynamoDB request handler to run one request at a time (safe to call twice)."""
    from moto.dynamodb.responses import DynamoHandler

    original: Callable[[Any], Any] = DynamoHandler.call_action
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def call_action(handler: Any) -> Any:
        with _LOCK:
            return original(handler)

    setattr(call_action, _MARK, True)
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    _snapshot_touched_items()


def _snapshot_touched_items() -> None:
    """moto's TransactWriteItems deep-copies a whole table once per item of the transaction (its
    rollback snapshot): 100 copies of the table per call, which makes a ledger of a few thousand
    keys crawl. Snapshot the items the transaction touches instead, and put them back when it is
    cancelled: the same rollback (requests are serialized above, so nothing else changes the items
    meanwhile) at the cost of the transaction's own items."""
    import copy
    import types

    import moto.dynamodb.models as models

    original: Callable[..., Any] = models.DynamoDBBackend.transact_write_items

    def keep_table(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, models.Table) else copy.deepcopy(value, memo)

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: Any) -> Any:
        with _LOCK:
            touched: list[tuple[str, dict[str, Any], Any]] = []
            for entry in transact_items:
                _kind, op = next(iter(entry.items()))
                table_name = op.get("TableName")
                if table_name not in self.tables:
                    continue
                table = self.tables[table_name]
                if "Key" in op:
                    key = op["Key"]
                else:
                    attrs = op["Item"]
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                try:
                    current = self.get_item(table_name, key)
                except Exception:  # e.g. a malformed key: moto's own call reports it
                    continue
                touched.append((table_name, key, copy.deepcopy(current) if current is not None else None))
            models.copy = types.SimpleNamespace(deepcopy=keep_table)  # type: ignore[assignment]
            try:
                return original(self, transact_items)
            except Exception:
                for table_name, key, before in reversed(touched):
                    if before is None:
                        if self.get_item(table_name, key) is not None:
                            self.delete_item(table_name, key)
                    else:
                        self.put_item(table_name, before.to_json()["Attributes"])
                raise
            finally:
                models.copy = copy  # type: ignore[assignment]

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
