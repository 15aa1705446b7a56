"""The event ledger in memory: the semantics of `dynamodb.py` under one lock (logic tests, local
tools that need no AWS)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from capi_writeback.rails.event_ledger.persistence.base import EventRecord
from capi_writeback.store._leased import MemoryLeasedRecords
from capi_writeback.store._memory import json_copy


class MemoryEventLedgerStore(MemoryLeasedRecords[EventRecord]):
    """EventLedgerStore in a dict."""

    def close(self, record_id: str, owner: str, status: str, result: Mapping[str, Any] | None,
              expiration: float) -> bool:
        kept = {"result": json_copy(dict(result))} if result is not None else {}
        return self._if_owner(record_id, owner, status=status, expiration=expiration, **kept)
