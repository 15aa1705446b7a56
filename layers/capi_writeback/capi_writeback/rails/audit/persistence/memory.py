"""The audit trail in memory: put_new and query only, under one lock."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from capi_writeback.rails.audit.exceptions import AuditConflict
from capi_writeback.store._memory import json_copy


class MemoryAuditStore:
    """AuditStore in a dict."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], dict[str, Any]] = {}

    def put_new(self, item: Mapping[str, Any]) -> None:
        key = (str(item["profile_id"]), str(item["sk"]))
        with self._lock:
            if key in self._rows:
                raise AuditConflict(f"audit row {key[1]!r} already exists")
            self._rows[key] = json_copy(dict(item))

    def query(self, profile_id: str, limit: int, before_sk: str | None) -> list[dict[str, Any]]:
        with self._lock:
            sks = sorted((sk for (pid, sk) in self._rows if pid == profile_id and
                          (before_sk is None or sk < before_sk)), reverse=True)
            return [json_copy(self._rows[(profile_id, sk)]) for sk in sks[:limit]]
