"""Conversion rows in memory: the semantics of `dynamodb.py` (TTL, upsert, window order)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from capi_writeback.store._memory import json_copy
from capi_writeback.store.conversions.base import (
    TTL_SECONDS,
    conversion_id_of,
    in_time_order,
    occurred_at_seconds,
)


class MemoryConversionStore:
    """ConversionStore in a dict."""

    def __init__(self, clock: Callable[[], float] = time.time, ttl_seconds: float = TTL_SECONDS) -> None:
        self.clock = clock
        self.ttl_seconds = ttl_seconds
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], tuple[float, float, dict[str, Any]]] = {}

    def put_rows(self, profile_id: str, rows: Iterable[Mapping[str, Any]]) -> int:
        now = self.clock()
        staged: dict[str, tuple[float, float, dict[str, Any]]] = {}
        for row in rows:
            staged[conversion_id_of(row)] = (occurred_at_seconds(row.get("occurred_at")),
                                             now + self.ttl_seconds, json_copy(dict(row)))
        with self._lock:
            for conversion_id, entry in staged.items():
                self._rows[(profile_id, conversion_id)] = entry
        return len(staged)

    def query(self, profile_id: str, start: float, end: float,
              outcome_types: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        wanted = set(outcome_types) if outcome_types is not None else set()
        now = self.clock()
        with self._lock:
            found = [(at, row) for (pid, _cid), (at, ttl, row) in self._rows.items()
                     if pid == profile_id and start <= at <= end and ttl > now
                     and (not wanted or row.get("outcome_type") in wanted)]
        found.sort(key=lambda entry: entry[0])
        return in_time_order(json_copy(row) for _, row in found)
