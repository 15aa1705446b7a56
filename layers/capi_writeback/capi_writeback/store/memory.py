"""In-memory backends of the store interfaces: same semantics as `dynamodb.py`, one lock per store.

For logic tests of the rails and the flow, and local tools that need no AWS. Values are copied in
and out through JSON, so callers can neither mutate stored state nor store what DynamoDB could not.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from capi_writeback.store.base import (
    IN_PROGRESS,
    AuditConflict,
    FailureLog,
    LedgerRecord,
    occurred_at_seconds,
)


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _copy_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = _copy(dict(value))
    return copied


class MemoryLedgerStore:
    """LedgerStore in a dict."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: dict[str, LedgerRecord] = {}
        self.batches: dict[tuple[str, int], tuple[str, float, dict[str, Any]]] = {}

    def create(self, record: LedgerRecord, now: float) -> LedgerRecord | None:
        with self._lock:
            old = self.records.get(record.id)
            if old is not None and old.expiration > now:
                return old
            self.records[record.id] = record
            return None

    def get(self, record_id: str, now: float) -> LedgerRecord | None:
        with self._lock:
            record = self.records.get(record_id)
            return record if record is not None and record.expiration > now else None

    def take_over(self, record: LedgerRecord, owner: str, lease_expires_at: float,
                  expiration: float) -> LedgerRecord | None:
        with self._lock:
            current = self.records.get(record.id)
            if current is None or current.owner != record.owner or current.status != record.status:
                return None
            new = dataclasses.replace(current, status=IN_PROGRESS, owner=owner,
                                      lease_expires_at=lease_expires_at, expiration=expiration,
                                      attempts=current.attempts + 1)
            self.records[record.id] = new
            return new

    def add_batch(self, record_id: str, generation: str, owner: str, index: int,
                  summary: Mapping[str, Any], lease_expires_at: float, expiration: float) -> bool:
        with self._lock:
            self.batches[(record_id, index)] = (generation, expiration, _copy(dict(summary)))
            current = self.records.get(record_id)
            if current is None or current.owner != owner or current.status != IN_PROGRESS:
                return False
            self.records[record_id] = dataclasses.replace(current, lease_expires_at=lease_expires_at,
                                                          expiration=expiration)
            return True

    def done_batches(self, record_id: str, generation: str, batch_count: int,
                     now: float) -> dict[int, dict[str, Any]]:
        with self._lock:
            done: dict[int, dict[str, Any]] = {}
            for index in range(batch_count):
                entry = self.batches.get((record_id, index))
                if entry is not None and entry[0] == generation and entry[1] > now:
                    done[index] = _copy(entry[2])
            return done

    def close(self, record_id: str, owner: str, status: str, last_status: str,
              result: Mapping[str, Any] | None, expiration: float) -> bool:
        stored = _copy(dict(result)) if result is not None else None
        with self._lock:
            current = self.records.get(record_id)
            if current is None or current.owner != owner or current.status != IN_PROGRESS:
                return False
            self.records[record_id] = dataclasses.replace(
                current, status=status, last_status=last_status, expiration=expiration,
                result=stored if stored is not None else current.result)
            return True


class MemoryBreakerStore:
    """BreakerStore in a dict."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.logs: dict[str, FailureLog] = {}

    def get(self, profile_id: str) -> FailureLog:
        with self._lock:
            return self.logs.get(profile_id, FailureLog((), 0))

    def append(self, profile_id: str, at: float, ttl: float) -> FailureLog:
        with self._lock:
            old = self.logs.get(profile_id, FailureLog((), 0))
            new = FailureLog((*old.failures, round(at, 3)), old.version + 1)
            self.logs[profile_id] = new
            return new

    def replace(self, profile_id: str, failures: Sequence[float], version: int) -> bool:
        with self._lock:
            old = self.logs.get(profile_id, FailureLog((), 0))
            if old.version != version:
                return False
            self.logs[profile_id] = FailureLog(tuple(failures), version + 1)
            return True

    def clear(self, profile_id: str, only_if_any: bool = False) -> None:
        with self._lock:
            old = self.logs.get(profile_id, FailureLog((), 0))
            if only_if_any and not old.failures:
                return
            self.logs[profile_id] = FailureLog((), old.version + 1)


class MemoryAuditStore:
    """AuditStore in a dict: put_new and query only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], dict[str, Any]] = {}

    def put_new(self, item: Mapping[str, Any]) -> None:
        key = (str(item["profile_id"]), str(item["sk"]))
        with self._lock:
            if key in self._rows:
                raise AuditConflict(f"audit row {key[1]!r} already exists")
            self._rows[key] = _copy(dict(item))

    def query(self, profile_id: str, limit: int, before_sk: str | None) -> list[dict[str, Any]]:
        with self._lock:
            sks = sorted((sk for (pid, sk) in self._rows if pid == profile_id and
                          (before_sk is None or sk < before_sk)), reverse=True)
            return [_copy(self._rows[(profile_id, sk)]) for sk in sks[:limit]]


class MemoryConversionStore:
    """ConversionStore in a dict."""

    def __init__(self, clock: Callable[[], float] = time.time, ttl_seconds: float = 90 * 86400) -> None:
        self.clock = clock
        self.ttl_seconds = ttl_seconds
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], tuple[float, float, dict[str, Any]]] = {}

    def put_rows(self, profile_id: str, rows: Iterable[Mapping[str, Any]]) -> int:
        now = self.clock()
        staged: dict[str, tuple[float, float, dict[str, Any]]] = {}
        for row in rows:
            conversion_id = row.get("conversion_id")
            if conversion_id is None or isinstance(conversion_id, bool) or str(conversion_id) == "":
                raise ValueError("every stored row needs a conversion_id")
            staged[str(conversion_id)] = (occurred_at_seconds(row.get("occurred_at")),
                                          now + self.ttl_seconds, _copy(dict(row)))
        with self._lock:
            for conversion_id, entry in staged.items():
                self._rows[(profile_id, conversion_id)] = entry
        return len(staged)

    def query(self, profile_id: str, start: float, end: float,
              outcome_types: Iterable[str] | None = None) -> list[dict[str, Any]]:
        wanted = set(outcome_types) if outcome_types is not None else set()
        now = self.clock()
        with self._lock:
            found = [(at, cid, row) for (pid, cid), (at, ttl, row) in self._rows.items()
                     if pid == profile_id and start <= at <= end and ttl > now
                     and (not wanted or row.get("outcome_type") in wanted)]
        found.sort(key=lambda entry: (entry[0], entry[1]))
        return [_copy(row) for _, _, row in found]


class MemoryDirectoryStore:
    """DirectoryStore in dicts."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.workspaces: dict[tuple[str, str], dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.profiles: dict[str, dict[str, Any]] = {}

    def get_token(self, token_hash: str) -> dict[str, Any] | None:
        item = self.tokens.get(token_hash)
        if item is None or float(item["ttl"]) <= self.clock():
            return None
        return _copy_dict(item)

    def get_workspace_settings(self, workspace_id: str) -> dict[str, Any] | None:
        item = self.workspaces.get((workspace_id, "SETTINGS"))
        return _copy_dict(item) if item else None

    def get_member_role(self, workspace_id: str, user_id: str) -> str | None:
        item = self.workspaces.get((workspace_id, f"MEMBER#{user_id}"))
        return str(item["role"]) if item else None

    def get_profile(self, profile_id: str) -> dict[str, Any] | None:
        item = self.profiles.get(profile_id)
        return _copy_dict(item) if item else None

    def put_workspace(self, workspace_id: str, *, name: str, writeback_enabled: bool = False) -> None:
        self.workspaces[(workspace_id, "SETTINGS")] = {
            "workspace_id": workspace_id, "sk": "SETTINGS", "name": name,
            "writeback_enabled": bool(writeback_enabled)}

    def put_member(self, workspace_id: str, user_id: str, role: str) -> None:
        self.workspaces[(workspace_id, f"MEMBER#{user_id}")] = {
            "workspace_id": workspace_id, "sk": f"MEMBER#{user_id}", "user_id": user_id, "role": role}

    def put_token(self, token_hash: str, *, workspace_id: str, user_id: str, scopes: Iterable[str],
                  expires_at: float) -> None:
        if len(token_hash) != 64:
            raise ValueError("store the token's SHA-256 hex digest, never the token")
        self.tokens[token_hash] = {"token_hash": token_hash, "workspace_id": workspace_id,
                                   "user_id": user_id, "scopes": sorted(set(scopes)),
                                   "expires_at": int(expires_at), "ttl": int(expires_at)}

    def put_profile(self, profile_id: str, *, workspace_id: str, name: str,
                    settings: Mapping[str, Any] | None = None,
                    connection: Mapping[str, Any] | None = None) -> None:
        item: dict[str, Any] = {"profile_id": profile_id, "workspace_id": workspace_id, "name": name,
                                "settings": _copy(dict(settings or {}))}
        if connection is not None:
            item["connection"] = _copy(dict(connection))
        self.profiles[profile_id] = item
