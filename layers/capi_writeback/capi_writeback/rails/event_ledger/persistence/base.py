"""The event ledger's persistence protocol and the record it stores.

Each method is one atomic operation (a DynamoDB conditional write, a lock in memory), so the rules
in `ledger.py` hold the same on every backend. Timestamps are unix seconds. A record whose TTL
(`expiration`) has passed counts as absent: DynamoDB deletes it only eventually (and moto never), so
every backend checks it itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from capi_writeback.store._leased import IN_PROGRESS as IN_PROGRESS  # held under a lease (store/_leased.py)

# Record states (the confirm ledger's names).
COMPLETED = "COMPLETED"
RELEASED = "RELEASED"  # the send failed: the next call with this event sends it again


@dataclass(frozen=True)
class EventRecord:
    """One live send of an event: (pixel, event_name, event_id) → content hash, state, lease, result.

    `owner` identifies the call holding the lease (new on every claim); `attempts` counts claims.
    """

    id: str
    pixel_id: str
    event_name: str
    event_id: str
    content_hash: str
    status: str
    owner: str
    lease_expires_at: float
    expiration: float
    attempts: int = 1
    result: dict[str, Any] | None = None


class EventLedgerStore(Protocol):
    """Persistence of the event ledger (`capi_writeback.rails.event_ledger.ledger`)."""

    def create(self, record: EventRecord, now: float) -> EventRecord | None:
        """Write `record` if no live record has its id; None if written, else the live record."""

    def take_over(self, record: EventRecord, owner: str, lease_expires_at: float,
                  expiration: float) -> EventRecord | None:
        """Move `record` (as read: same owner and status) to IN_PROGRESS under `owner`; the new
        record, or None if it changed meanwhile."""

    def close(self, record_id: str, owner: str, status: str, result: Mapping[str, Any] | None,
              expiration: float) -> bool:
        """End `owner`'s send: COMPLETED (with the result to replay) or RELEASED; False if `owner`
        no longer holds the record."""

    def get(self, record_id: str, now: float) -> EventRecord | None:
        """The live record with this id (expired ones read as absent), changing nothing."""
