"""The single-event send's exactly-once ledger (SPEC §8): one record per (pixel, event_name, event_id).

Meta discards a repeated (event_name, event_id) of one pixel for 48 hours only; a backend or an AI
assistant that retries later would double-count. So a live send first claims its event here, and a
send of the same event while the record lives answers the first result instead (`replayed`).

States and transitions (each one conditional write in the store):
  absent/expired ─claim→ INPROGRESS(owner A)                       kind "new"
  INPROGRESS, lease live ─claim→ waits up to `wait_seconds` for it to end (then looks again),
                                 else raises EventInProgress       (nothing written)
  INPROGRESS, lease over │ RELEASED ─claim→ INPROGRESS(owner B)    kind "new" (sent again: a crashed
                                 call may have reached Meta, whose own dedup then drops the copy)
  COMPLETED ─claim→ the stored result                              kind "replay" (nothing written)
  INPROGRESS(A) ─finish→ COMPLETED(result) ; ─release→ RELEASED (the send failed: retry allowed)

Unlike the confirm ledger, a different content under the same key is no refusal: Meta itself would
drop it as a duplicate of the first, so the first result is replayed and `Claim.same_content` says
the content differed. A record lives until `keep_until` (the caller's: at least 7 days, and as long
as Meta would still accept the event).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from capi_writeback.rails.clock import Clock, system_clock
from capi_writeback.rails.event_ledger.exceptions import EventInProgress
from capi_writeback.rails.event_ledger.persistence.base import (
    COMPLETED,
    IN_PROGRESS,
    RELEASED,
    EventLedgerStore,
    EventRecord,
)

ClaimKind = Literal["new", "replay"]
LEASE_SECONDS = 120  # without a deadline: the Meta client's retry budget (60 s) plus a read timeout
LEASE_FLOOR_SECONDS = 20  # with a deadline, at least one request's read timeout past the claim
WAIT_SECONDS = 3.0  # how long a concurrent send of the same event waits for the first to finish
_POLL = (0.05, 0.1, 0.2, 0.4)  # seconds between looks while waiting (then 0.4 each)
_CLAIM_ATTEMPTS = 5


def record_id(pixel_id: str, event_name: str, event_id: str) -> str:
    """The ledger id of an event. Name and id are hashed together: any text, fixed length, no '#'
    ambiguity; the prefix keeps these items apart from the confirm ledger's in the same table."""
    digest = hashlib.sha256(f"{event_name}\x00{event_id}".encode()).hexdigest()
    return f"event#{pixel_id}#{digest}"


@dataclass(frozen=True)
class EventClaim:
    """The caller's hold on an event (`new`: send it) or the first send's result (`replay`)."""

    kind: ClaimKind
    record_id: str
    owner: str
    attempt: int
    result: dict[str, Any] | None = None
    same_content: bool = True


class EventLedger:
    """Claim an event before sending it; finish with the result, or release it when the send failed.

    The lease (how long no other call may take the event over) follows the invocation: until the
    `deadline` given to `claim`, and at least `lease_floor` after the claim; without a deadline it
    is `lease_seconds`. `sleep` is what waiting for a concurrent send uses (tests pass their own).
    """

    def __init__(self, store: EventLedgerStore, clock: Clock = system_clock, *,
                 lease_seconds: float = LEASE_SECONDS, lease_floor: float = LEASE_FLOOR_SECONDS,
                 wait_seconds: float = WAIT_SECONDS, sleep: Callable[[float], None] = time.sleep) -> None:
        self.store = store
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.lease_floor = lease_floor
        self.wait_seconds = wait_seconds
        self.sleep = sleep

    def lease_until(self, now: float, deadline: float | None) -> float:
        if deadline is None:
            return now + self.lease_seconds
        return max(deadline, now + self.lease_floor)

    def claim(self, pixel_id: str, event_name: str, event_id: str, content_hash: str, *,
              keep_until: float, deadline: float | None = None) -> EventClaim:
        """Take the event for this call, or replay the first send, or refuse (module docstring).
        `keep_until`: when the record may be forgotten; `deadline`: when this call will be stopped."""
        rid = record_id(pixel_id, event_name, event_id)
        waits = self._waits()
        for _ in range(_CLAIM_ATTEMPTS):
            now = self.clock()
            owner = uuid.uuid4().hex
            lease = self.lease_until(now, deadline)
            fresh = EventRecord(id=rid, pixel_id=pixel_id, event_name=event_name, event_id=event_id,
                                content_hash=content_hash, status=IN_PROGRESS, owner=owner,
                                lease_expires_at=lease, expiration=max(keep_until, lease))
            existing = self.store.create(fresh, now)
            if existing is None:
                return EventClaim("new", rid, owner, 1)
            existing = self._wait_while_running(existing, waits)
            if existing is None:
                continue  # it expired meanwhile: claim afresh
            if existing.status == COMPLETED:
                return EventClaim("replay", rid, existing.owner, existing.attempts,
                                  result=dict(existing.result or {}),
                                  same_content=existing.content_hash == content_hash)
            now = self.clock()
            if existing.status == IN_PROGRESS and existing.lease_expires_at > now:
                raise EventInProgress(details={
                    "event_id": event_id,
                    "lease_expires_in": max(1, int(existing.lease_expires_at - now + 0.999))})
            lease = self.lease_until(now, deadline)
            taken = self.store.take_over(existing, owner, lease, max(keep_until, lease))
            if taken is not None:
                return EventClaim("new", rid, owner, taken.attempts)
            # Another call moved the record between our read and our write: look again.
        raise EventInProgress(details={"event_id": event_id})

    def stored(self, pixel_id: str, event_name: str, event_id: str, content_hash: str) -> EventClaim | None:
        """The replay a claim would give (a completed send of this event), read without claiming:
        lets a replay be answered where a new send would be refused (an open breaker)."""
        record = self.store.get(record_id(pixel_id, event_name, event_id), self.clock())
        if record is None or record.status != COMPLETED:
            return None
        return EventClaim("replay", record.id, record.owner, record.attempts,
                          result=dict(record.result or {}), same_content=record.content_hash == content_hash)

    def finish(self, claim: EventClaim, result: Mapping[str, Any], *, keep_until: float) -> bool:
        """The send succeeded: later claims replay `result` until `keep_until`. False when another
        call took the event over meanwhile (this call outlived its lease)."""
        self._require_new(claim)
        return self.store.close(claim.record_id, claim.owner, COMPLETED, result, keep_until)

    def release(self, claim: EventClaim) -> bool:
        """The send failed: the next call with this event sends it again. False as for `finish`."""
        self._require_new(claim)
        now = self.clock()
        return self.store.close(claim.record_id, claim.owner, RELEASED, None, now + self.lease_seconds)

    def _waits(self) -> list[float]:
        """The pauses of one claim's wait for a concurrent send, `wait_seconds` in all."""
        pauses: list[float] = []
        left = self.wait_seconds
        step = 0
        while left > 0:
            pause = min(_POLL[min(step, len(_POLL) - 1)], left)
            pauses.append(pause)
            left -= pause
            step += 1
        return pauses

    def _wait_while_running(self, record: EventRecord, waits: list[float]) -> EventRecord | None:
        """While another call holds a live lease on the event, look again after each pause left
        (consistent reads, nothing written); the record as last seen (None: it expired)."""
        current: EventRecord | None = record
        while current is not None and current.status == IN_PROGRESS \
                and current.lease_expires_at > self.clock() and waits:
            self.sleep(waits.pop(0))
            current = self.store.get(record.id, self.clock())
        return current

    @staticmethod
    def _require_new(claim: EventClaim) -> None:
        if claim.kind != "new":
            raise ValueError("a replayed claim sent nothing: there is nothing to finish or release")
