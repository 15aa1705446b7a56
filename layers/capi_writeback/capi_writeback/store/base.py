"""The store interfaces the rails and the flow talk to, and the records they exchange.

Each interface is the smallest set of atomic operations its rail needs; every "if" that must hold
under concurrency is part of one operation (a DynamoDB conditional write in `dynamodb.py`, a lock in
`memory.py`), so the rules in `capi_writeback.rails` are the same whatever the backend.
Timestamps are unix seconds (float). Items whose TTL has passed count as absent: DynamoDB deletes
them only eventually (and moto never), so every backend checks the TTL itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

# Ledger record states (Powertools' names for the two it shares).
IN_PROGRESS = "INPROGRESS"
COMPLETED = "COMPLETED"
RELEASED = "RELEASED"  # an attempt ended failed/partially_failed: free to resume with the same key


def occurred_at_seconds(value: Any) -> float:
    """A stored row's occurred_at: unix seconds, as `rows.prepare_for_storage` leaves it (parsing
    other forms is the job of rows.py, in one place)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("a stored row's occurred_at must be unix seconds (use rows.prepare_for_storage)")
    return float(value)


@dataclass(frozen=True)
class LedgerRecord:
    """One confirm idempotency record: (profile, key) → payload hash, state, lease, result.

    `owner` identifies the attempt holding the lease (changes on every claim); `generation`
    identifies the record's lifetime (kept across resumes, new when an expired record is replaced)
    so batch progress from an earlier lifetime is never mistaken for this one's.
    """

    id: str
    profile_id: str
    idempotency_key: str
    payload_hash: str
    batch_count: int
    status: str
    owner: str
    generation: str
    lease_expires_at: float
    expiration: float
    attempts: int = 1
    last_status: str | None = None
    result: dict[str, Any] | None = None


class LedgerStore(Protocol):
    """Persistence of the confirm ledger (`capi_writeback.rails.idempotency`)."""

    def create(self, record: LedgerRecord, now: float) -> LedgerRecord | None:
        """Write `record` if no live record has its id; None if written, else the live record."""

    def take_over(self, record: LedgerRecord, owner: str, lease_expires_at: float,
                  expiration: float) -> LedgerRecord | None:
        """Move `record` (as read: same owner and status) to IN_PROGRESS under `owner`; the new
        record, or None if it changed meanwhile."""

    def add_batch(self, record_id: str, generation: str, owner: str, index: int,
                  summary: Mapping[str, Any], lease_expires_at: float, expiration: float) -> bool:
        """Store batch `index` as done for this generation, and renew the lease if `owner` still
        holds it; True if it does."""

    def done_batches(self, record_id: str, generation: str, batch_count: int,
                     now: float) -> dict[int, dict[str, Any]]:
        """The batches stored as done for this generation (index → summary)."""

    def close(self, record_id: str, owner: str, status: str, last_status: str,
              result: Mapping[str, Any] | None, expiration: float) -> bool:
        """End `owner`'s attempt: status COMPLETED (with the result to replay) or RELEASED; False if
        `owner` no longer holds the record."""

    def get(self, record_id: str, now: float) -> LedgerRecord | None:
        """The live record with this id (expired ones read as absent), without changing anything."""


@dataclass(frozen=True)
class FailureLog:
    """A profile's recorded confirm failures (timestamps, in write order) and the item version."""

    failures: tuple[float, ...]
    version: int


class BreakerStore(Protocol):
    """Persistence of the circuit breaker windows (`capi_writeback.rails.breaker`)."""

    def get(self, profile_id: str) -> FailureLog:
        """The profile's failures (empty when none)."""

    def append(self, profile_id: str, at: float, ttl: float) -> FailureLog:
        """Atomically append one failure; the log right after this append (it is the last entry)."""

    def replace(self, profile_id: str, failures: Sequence[float], version: int) -> bool:
        """Replace the failures if the log is still at `version`; False if it moved on."""

    def clear(self, profile_id: str, only_if_any: bool = False) -> None:
        """Forget every failure (with `only_if_any`, write nothing when there are none)."""


class AuditConflict(Exception):
    """An audit row with the same key already exists (audit rows are never overwritten)."""


class AuditStore(Protocol):
    """Persistence of the append-only audit log (`capi_writeback.rails.audit`). No update, no delete."""

    def put_new(self, item: Mapping[str, Any]) -> None:
        """Write a new row keyed by (profile_id, sk); AuditConflict if that key exists."""

    def query(self, profile_id: str, limit: int,
              before_sk: str | None) -> list[dict[str, Any]]:
        """Up to `limit` rows of the profile, newest (highest sk) first, all below `before_sk`."""


class ConversionStore(Protocol):
    """Stored conversion rows (already normalized and hashed: no raw PII)."""

    def put_rows(self, profile_id: str, rows: Iterable[Mapping[str, Any]]) -> int:
        """Upsert rows by conversion_id (the last of a repeated id wins); the number written."""

    def query(self, profile_id: str, start: float, end: float,
              outcome_types: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Rows with start <= occurred_at <= end (and outcome_type in `outcome_types` if given),
        oldest first."""


class DirectoryStore(Protocol):
    """Workspaces, members, API tokens and profiles: the reads every request does, plus seeding."""

    def get_token(self, token_hash: str) -> dict[str, Any] | None: ...

    def get_workspace_settings(self, workspace_id: str) -> dict[str, Any] | None: ...

    def get_member_role(self, workspace_id: str, user_id: str) -> str | None: ...

    def get_profile(self, profile_id: str) -> dict[str, Any] | None: ...

    def put_workspace(self, workspace_id: str, *, name: str, writeback_enabled: bool = False) -> None: ...

    def put_member(self, workspace_id: str, user_id: str, role: str) -> None: ...

    def put_token(self, token_hash: str, *, workspace_id: str, user_id: str, scopes: Iterable[str],
                  expires_at: float) -> None: ...

    def put_profile(self, profile_id: str, *, workspace_id: str, name: str,
                    settings: Mapping[str, Any] | None = None,
                    connection: Mapping[str, Any] | None = None) -> None: ...
