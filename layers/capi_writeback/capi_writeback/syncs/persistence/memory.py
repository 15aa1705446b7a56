"""The syncs' stores in memory: the semantics of `dynamodb.py`, each method under one lock."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from capi_writeback.store._memory import json_copy, json_copy_dict
from capi_writeback.syncs.persistence.base import CLAIMED, RELEASED, RUN_STATE, SENT, KeyEntry


def _live(item: Mapping[str, Any] | None, now: float) -> bool:
    return item is not None and float(item.get("ttl") or now + 1) > now


class MemoryKeyLedgerStore:
    """KeyLedgerStore in a dict; `writes` counts the conditional writes (one per key claimed)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: dict[tuple[str, str], KeyEntry] = {}
        self.writes = 0

    def get_many(self, sync_id: str, keys: Sequence[str], now: float) -> dict[str, KeyEntry]:
        with self._lock:
            found = {k: self.entries.get((sync_id, k)) for k in keys}
        return {k: e for k, e in found.items() if e is not None and e.expires_at > now}

    def claim_many(self, sync_id: str, keys: Sequence[str], *, owner: str, run_id: str,
                   lease_expires_at: float, expires_at: float,
                   now: float) -> tuple[set[str], dict[str, KeyEntry | None]]:
        claimed: set[str] = set()
        refused: dict[str, KeyEntry | None] = {}
        with self._lock:
            for key in keys:
                self.writes += 1
                old = self.entries.get((sync_id, key))
                if old is not None and old.expires_at > now and not (
                        old.state == RELEASED or (old.state == CLAIMED and (
                            old.owner == owner or old.lease_expires_at <= now))):
                    refused[key] = old
                    continue
                attempts = (old.attempts + 1) if old is not None and old.expires_at > now else 1
                self.entries[(sync_id, key)] = KeyEntry(key, CLAIMED, owner, run_id, lease_expires_at,
                                                        expires_at, attempts)
                claimed.add(key)
        return claimed, refused

    def mark_sent(self, sync_id: str, keys: Sequence[str], *, owner: str, run_id: str, now: float,
                  expires_at: float) -> None:
        with self._lock:
            for key in keys:
                self.writes += 1
                old = self.entries.get((sync_id, key))
                attempts = old.attempts if old is not None else 1
                self.entries[(sync_id, key)] = KeyEntry(key, SENT, owner, run_id, now, expires_at, attempts)

    def release(self, sync_id: str, keys: Sequence[str], *, owner: str, reason: str, now: float) -> None:
        with self._lock:
            for key in keys:
                self.writes += 1
                old = self.entries.get((sync_id, key))
                if old is not None and old.state == CLAIMED and old.owner == owner:
                    self.entries[(sync_id, key)] = replace(old, state=RELEASED, reason=reason)


class MemorySyncStore:
    """SyncStore in a dict."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def create(self, item: Mapping[str, Any]) -> None:
        key = (str(item["profile_id"]), str(item["sync_id"]))
        with self._lock:
            if key in self.items:
                raise ValueError(f"sync {key[1]!r} exists")
            self.items[key] = json_copy_dict(item)

    def get(self, profile_id: str, sync_id: str) -> dict[str, Any] | None:
        with self._lock:
            item = self.items.get((profile_id, sync_id))
            return json_copy_dict(item) if item is not None else None

    def list(self, profile_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [json_copy_dict(v) for (p, _s), v in sorted(self.items.items()) if p == profile_id]

    def replace(self, item: Mapping[str, Any], expected_version: int) -> bool:
        key = (str(item["profile_id"]), str(item["sync_id"]))
        with self._lock:
            old = self.items.get(key)
            if old is None or int(old.get("version", 0)) != expected_version:
                return False
            kept: dict[str, Any] = {k: old[k] for k in RUN_STATE if k in old}
            self.items[key] = {**json_copy_dict(item), **kept}
            return True

    def delete(self, profile_id: str, sync_id: str) -> bool:
        with self._lock:
            return self.items.pop((profile_id, sync_id), None) is not None

    def lock_run(self, profile_id: str, sync_id: str, run_id: str, until: float, now: float) -> str | None:
        with self._lock:
            item = self.items.get((profile_id, sync_id))
            if item is None:
                return ""
            holder = item.get("active_run")
            if holder and holder != run_id and float(item.get("active_run_until") or 0) > now:
                return str(holder)
            item["active_run"], item["active_run_until"] = run_id, until
            return None

    def unlock_run(self, profile_id: str, sync_id: str, run_id: str) -> None:
        with self._lock:
            item = self.items.get((profile_id, sync_id))
            if item is not None and item.get("active_run") == run_id:
                item.pop("active_run", None)
                item.pop("active_run_until", None)

    def record_last_run(self, profile_id: str, sync_id: str, summary: Mapping[str, Any]) -> None:
        with self._lock:
            item = self.items.get((profile_id, sync_id))
            if item is None:
                return
            last = item.get("last_run") or {}
            if str(last.get("run_id") or "") <= str(summary["run_id"]):
                item["last_run"] = json_copy_dict(summary)


class MemoryRunStore:
    """RunStore in dicts; expired runs (ttl) read as absent."""

    def __init__(self, clock: Any = None) -> None:
        import time

        self._clock = clock or time.time
        self._lock = threading.Lock()
        self.runs: dict[tuple[str, str], dict[str, Any]] = {}
        self.parts: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.pages: dict[tuple[str, str, int, int], list[Any]] = {}

    def create_run(self, record: Mapping[str, Any]) -> bool:
        key = (str(record["sync_id"]), str(record["run_id"]))
        with self._lock:
            if _live(self.runs.get(key), self._clock()):
                return False
            self.runs[key] = json_copy_dict(record)
            return True

    def get_run(self, sync_id: str, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            item = self.runs.get((sync_id, run_id))
            return json_copy_dict(item) if item is not None and _live(item, self._clock()) else None

    def update_run(self, sync_id: str, run_id: str, changes: Mapping[str, Any], *,
                   only_status: str | None = None) -> bool:
        with self._lock:
            item = self.runs.get((sync_id, run_id))
            if item is None or (only_status is not None and item.get("status") != only_status):
                return False
            item.update(json_copy_dict(changes))
            return True

    def list_runs(self, sync_id: str, limit: int, before: str | None = None) -> list[dict[str, Any]]:
        now = self._clock()
        with self._lock:
            ids = sorted((r for (s, r), item in self.runs.items() if s == sync_id and _live(item, now)
                          and (before is None or r < before)), reverse=True)
            return [json_copy_dict(self.runs[(sync_id, r)]) for r in ids[:limit]]

    def put_part(self, sync_id: str, run_id: str, part: Mapping[str, Any]) -> None:
        with self._lock:
            self.parts[(sync_id, run_id, int(part["item"]))] = json_copy_dict(part)

    def list_parts(self, sync_id: str, run_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [json_copy_dict(v) for (s, r, _i), v in sorted(self.parts.items())
                    if (s, r) == (sync_id, run_id)]

    def put_outcomes(self, sync_id: str, run_id: str, item: int, page: int,
                     rows: Sequence[Sequence[Any]]) -> None:
        with self._lock:
            self.pages[(sync_id, run_id, item, page)] = json_copy([list(r) for r in rows])

    def outcome_pages(self, sync_id: str, run_id: str, after: tuple[int, int] | None,
                      limit: int) -> list[tuple[int, int, list[list[Any]]]]:
        with self._lock:
            keys = sorted(k[2:] for k in self.pages if k[:2] == (sync_id, run_id)
                          and (after is None or k[2:] > after))
            return [(i, p, json_copy(self.pages[(sync_id, run_id, i, p)])) for i, p in keys[:limit]]
