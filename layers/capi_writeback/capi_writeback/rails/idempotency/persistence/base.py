"""The ledger's persistence protocol and the record it stores.

Each method is one atomic operation: every "if" that must hold under concurrency is part of it (a
DynamoDB conditional write, a lock in memory), so the rules in `ledger.py` are the same whatever the
backend. Timestamps are unix seconds (float). A record whose TTL (`expiration`) has passed counts as
absent: DynamoDB deletes it only eventually (and moto never), so every backend checks it itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from capi_writeback.store._leased import IN_PROGRESS as IN_PROGRESS  # held under a lease (store/_leased.py)

# Record states (Powertools' names for the two it shares).
COMPLETED = "COMPLETED"
RELEASED = "RELEASED"  # an attempt ended failed/partially_failed: free to resume with the same key

# What `pin` found.
PINNED = "pinned"  # the record now names this payload (or already did)
OTHER_PAYLOAD = "other_payload"  # the record names another payload: nothing changed
NOT_OWNER = "not_owner"  # the attempt no longer holds the record: nothing changed


@dataclass(frozen=True)
class LedgerRecord:
    """One confirm idempotency record: (profile, key) → payload hash, state, lease, result.

    `owner` identifies the attempt holding the lease (changes on every claim); `generation`
    identifies the record's lifetime (kept across resumes, new when an expired record is replaced)
    so batch progress from an earlier lifetime is never mistaken for this one's.

    `fingerprint` identifies the request that created the record and `as_of` the time its selection
    was resolved at (both set once, at creation). `payload_hash` is empty until an attempt pins the
    payload it built (`pin`), which it does before sending anything: a record with batches always
    names its payload. Records written before fingerprints existed have none.
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
    fingerprint: str | None = None
    as_of: float | None = None


class LedgerStore(Protocol):
    """Persistence of the confirm ledger (`capi_writeback.rails.idempotency.ledger`)."""

    def create(self, record: LedgerRecord, now: float) -> LedgerRecord | None:
        """Write `record` if no live record has its id; None if written, else the live record."""

    def take_over(self, record: LedgerRecord, owner: str, lease_expires_at: float,
                  expiration: float) -> LedgerRecord | None:
        """Move `record` (as read: same owner and status) to IN_PROGRESS under `owner`; the new
        record, or None if it changed meanwhile."""

    def pin(self, record_id: str, owner: str, payload_hash: str, batch_count: int) -> str:
        """Name the payload of `owner`'s attempt: set payload_hash and batch_count if `owner` holds
        the record (IN_PROGRESS) and it names no payload yet or this one. PINNED, OTHER_PAYLOAD or
        NOT_OWNER."""

    def add_batch(self, record_id: str, generation: str, owner: str, index: int,
                  summary: Mapping[str, Any], lease_expires_at: float | None, expiration: float) -> bool:
        """Store batch `index` as done for this generation; with a `lease_expires_at`, also renew
        the lease if `owner` still holds it, and say whether it does (without one: True)."""

    def done_batches(self, record_id: str, generation: str, batch_count: int,
                     now: float) -> dict[int, dict[str, Any]]:
        """The batches stored as done for this generation (index → summary)."""

    def close(self, record_id: str, owner: str, status: str, last_status: str,
              result: Mapping[str, Any] | None, expiration: float) -> bool:
        """End `owner`'s attempt: status COMPLETED (with the result to replay) or RELEASED; False if
        `owner` no longer holds the record. ValueError if `result` is too large to keep."""

    def get(self, record_id: str, now: float) -> LedgerRecord | None:
        """The live record with this id (expired ones read as absent), without changing anything."""
