"""Make moto apply each DynamoDB request atomically, as DynamoDB does.

In-process moto can interleave two threads inside one UpdateItem or conditional PutItem and lose a
write (seen in a 20-thread trial). The service's own guarantees (conditional writes, atomic
appends) are what the idempotency ledger and the breaker rely on, so every place that runs our code
on moto (tests, the embedded stack behind `serve` and `make demo`) serializes moto's DynamoDB
request handling through one lock. The patch is process-wide and idempotent.
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
