"""The confirm ledger in memory: the semantics of `dynamodb.py` under one lock (logic tests, local
tools that need no AWS)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from capi_writeback.rails.idempotency.persistence.base import (
    IN_PROGRESS,
    NOT_OWNER,
    OTHER_PAYLOAD,
    PINNED,
    LedgerRecord,
)
from capi_writeback.store._leased import MemoryLeasedRecords
from capi_writeback.store._memory import json_copy


class MemoryLedgerStore(MemoryLeasedRecords[LedgerRecord]):
    """LedgerStore in a dict."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: dict[tuple[str, int], tuple[str, float, dict[str, Any]]] = {}

    def pin(self, record_id: str, owner: str, payload_hash: str, batch_count: int) -> str:
        with self._lock:
            current = self.records.get(record_id)
            if current is None or current.owner != owner or current.status != IN_PROGRESS:
                return NOT_OWNER
            if current.payload_hash not in ("", payload_hash):
                return OTHER_PAYLOAD
            self.records[record_id] = dataclasses.replace(current, payload_hash=payload_hash,
                                                          batch_count=batch_count)
            return PINNED

    def add_batch(self, record_id: str, generation: str, owner: str, index: int,
                  summary: Mapping[str, Any], lease_expires_at: float | None, expiration: float) -> bool:
        with self._lock:
            self.batches[(record_id, index)] = (generation, expiration, json_copy(dict(summary)))
        if lease_expires_at is None:
            return True
        return self._if_owner(record_id, owner, lease_expires_at=lease_expires_at, expiration=expiration)

    def done_batches(self, record_id: str, generation: str, batch_count: int,
                     now: float) -> dict[int, dict[str, Any]]:
        with self._lock:
            done: dict[int, dict[str, Any]] = {}
            for index in range(batch_count):
                entry = self.batches.get((record_id, index))
                if entry is not None and entry[0] == generation and entry[1] > now:
                    done[index] = json_copy(entry[2])
            return done

    def close(self, record_id: str, owner: str, status: str, last_status: str,
              result: Mapping[str, Any] | None, expiration: float) -> bool:
        kept = {"result": json_copy(dict(result))} if result is not None else {}
        return self._if_owner(record_id, owner, status=status, last_status=last_status,
                              expiration=expiration, **kept)
