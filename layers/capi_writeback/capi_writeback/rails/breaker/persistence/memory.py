"""The breaker windows in memory: the semantics of `dynamodb.py` under one lock."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from capi_writeback.rails.breaker.persistence.base import EMPTY, FailureLog


class MemoryBreakerStore:
    """BreakerStore in a dict."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.logs: dict[str, FailureLog] = {}

    def get(self, profile_id: str) -> FailureLog:
        with self._lock:
            return self.logs.get(profile_id, EMPTY)

    def append(self, profile_id: str, at: float, ttl: float) -> FailureLog:
        with self._lock:
            old = self.logs.get(profile_id, EMPTY)
            new = FailureLog((*old.failures, round(at, 3)), old.version + 1)
            self.logs[profile_id] = new
            return new

    def replace(self, profile_id: str, failures: Sequence[float], version: int) -> bool:
        with self._lock:
            old = self.logs.get(profile_id, EMPTY)
            if old.version != version:
                return False
            self.logs[profile_id] = FailureLog(tuple(failures), version + 1)
            return True

    def clear(self, profile_id: str, only_if_any: bool = False) -> None:
        with self._lock:
            old = self.logs.get(profile_id, EMPTY)
            if only_if_any and not old.failures:
                return
            self.logs[profile_id] = FailureLog((), old.version + 1)
