"""The event ledger in memory: the semantics of `dynamodb.py` under one lock (logic tests, local
tools that need no AWS)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import Any

from capi_writeback.rails.event_ledger.persistence.base import IN_PROGRESS, EventRecord
from capi_writeback.store._memory import json_copy


class MemoryEventLedgerStore:
    """EventLedgerStore in a dict."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: dict[str, EventRecord] = {}

    def create(self, record: EventRecord, now: float) -> EventRecord | None:
        with self._lock:
            old = self.records.get(record.id)
            if old is not None and old.expiration > now:
                return old
            self.records[record.id] = record
            return None

    def get(self, record_id: str, now: float) -> EventRecord | None:
        with self._lock:
            record = self.records.get(record_id)
            return record if record is not None and record.expiration > now else None

    def take_over(self, record: EventRecord, owner: str, lease_expires_at: float,
                  expiration: float) -> EventRecord | None:
        with self._lock:
            current = self.records.get(record.id)
            if current is None or current.owner != record.owner or current.status != record.status:
                return None
            new = dataclasses.replace(current, status=IN_PROGRESS, owner=owner,
                                      lease_expires_at=lease_expires_at, expiration=expiration,
                                      attempts=current.attempts + 1)
            self.records[record.id] = new
            return new

    def close(self, record_id: str, owner: str, status: str, result: Mapping[str, Any] | None,
              expiration: float) -> bool:
        stored = json_copy(dict(result)) if result is not None else None
        with self._lock:
            current = self.records.get(record_id)
            if current is None or current.owner != owner or current.status != IN_PROGRESS:
                return False
            self.records[record_id] = dataclasses.replace(current, status=status, expiration=expiration,
                                                          result=stored)
            return True
