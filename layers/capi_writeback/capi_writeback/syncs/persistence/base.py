"""The syncs' persistence protocols: definitions, runs (with their parts and per-row outcomes), and
the insert-only ledger of keys.

Each method is one atomic operation per item: every "if" that must hold while other runs write the
same items is part of it (a DynamoDB conditional write, a lock in memory). Items whose TTL has passed
read as absent in every backend (DynamoDB deletes them only eventually, moto never).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

# Ledger states of a key.
CLAIMED = "claimed"  # a run holds it while it sends (until lease_expires_at)
SENT = "sent"  # Meta accepted it: never sent again by this sync
RELEASED = "released"  # Meta refused it or sending failed: a later run may claim it again

RUN_STATE = ("active_run", "active_run_until", "last_run")  # kept by the runs, not by definition edits
RUN_TTL_SECONDS = 30 * 86400  # a run, its work items and its per-row outcomes are kept 30 days


@dataclass(frozen=True)
class KeyEntry:
    """One key of a sync's ledger. `owner` is the run item (run id + part) that claimed or sent it."""

    key: str
    state: str
    owner: str
    run_id: str
    lease_expires_at: float
    expires_at: float
    attempts: int = 1
    reason: str | None = None


class KeyLedgerStore(Protocol):
    """Persistence of the insert-only ledger (`capi_writeback.syncs.ledger`)."""

    def get_many(self, sync_id: str, keys: Sequence[str], now: float) -> dict[str, KeyEntry]:
        """The live entries among `keys` (absent and expired keys are left out)."""

    def claim_many(self, sync_id: str, keys: Sequence[str], *, owner: str, run_id: str,
                   lease_expires_at: float, expires_at: float,
                   now: float) -> tuple[set[str], dict[str, KeyEntry | None]]:
        """Claim each key for `owner`: one conditional write per key, succeeding when the key is
        absent or expired, released, claimed by `owner` itself, or claimed under a lease that is
        over. (claimed keys, refused key -> the entry that refused it, None when unknown)."""

    def mark_sent(self, sync_id: str, keys: Sequence[str], *, owner: str, run_id: str, now: float,
                  expires_at: float) -> None:
        """Record the keys as sent (Meta accepted them): whoever holds them now, they are sent."""

    def release(self, sync_id: str, keys: Sequence[str], *, owner: str, reason: str, now: float) -> None:
        """Release `owner`'s claims on the keys (others' claims and sent keys are left alone)."""


class SyncStore(Protocol):
    """Persistence of sync definitions, per profile. Items are JSON-like dicts with `profile_id`,
    `sync_id` and `version` (the optimistic-concurrency counter of updates)."""

    def create(self, item: Mapping[str, Any]) -> None:
        """Write a new definition (its sync_id is fresh: a conflict is a bug and raises)."""

    def get(self, profile_id: str, sync_id: str) -> dict[str, Any] | None: ...

    def list(self, profile_id: str) -> list[dict[str, Any]]:
        """The profile's syncs, by sync id."""

    def replace(self, item: Mapping[str, Any], expected_version: int) -> bool:
        """Write `item` if the stored version is still `expected_version`; False if it moved on."""

    def delete(self, profile_id: str, sync_id: str) -> bool:
        """Delete the definition; False if there was none."""

    def lock_run(self, profile_id: str, sync_id: str, run_id: str, until: float,
                 now: float) -> str | None:
        """Mark `run_id` as the sync's running run unless another unexpired run holds it: None when
        `run_id` holds it now, else the holder's run id (`""` when the sync does not exist)."""

    def unlock_run(self, profile_id: str, sync_id: str, run_id: str) -> None:
        """Clear the running run if it is still `run_id`."""

    def record_last_run(self, profile_id: str, sync_id: str, summary: Mapping[str, Any]) -> None:
        """Keep `summary` (run_id, status, mode, started_at, finished_at) as the sync's `last_run`,
        unless a later run (by run id, which sorts by start time) is there already."""


class RunStore(Protocol):
    """Persistence of runs: the run record, one part record per work item, and per-row outcome
    pages. Everything of a run expires together (`ttl`)."""

    def create_run(self, record: Mapping[str, Any]) -> bool:
        """Write a new run record; False if the run exists already (a retried start)."""

    def get_run(self, sync_id: str, run_id: str) -> dict[str, Any] | None: ...

    def update_run(self, sync_id: str, run_id: str, changes: Mapping[str, Any], *,
                   only_status: str | None = None) -> bool:
        """Set `changes` on the run; with `only_status`, only while its status is that one (False
        when it is not)."""

    def list_runs(self, sync_id: str, limit: int, before: str | None = None) -> list[dict[str, Any]]:
        """Newest first, run ids below `before` only."""

    def put_part(self, sync_id: str, run_id: str, part: Mapping[str, Any]) -> None:
        """Write (or overwrite, for a retried item) the record of one work item (`part["item"]`)."""

    def list_parts(self, sync_id: str, run_id: str) -> list[dict[str, Any]]: ...

    def put_outcomes(self, sync_id: str, run_id: str, item: int, page: int,
                     rows: Sequence[Sequence[Any]]) -> None:
        """Write (or overwrite) one page of per-row outcomes of a work item."""

    def outcome_pages(self, sync_id: str, run_id: str, after: tuple[int, int] | None,
                      limit: int) -> list[tuple[int, int, list[list[Any]]]]:
        """Up to `limit` pages (item, page, rows) in order, those after `after` only."""
