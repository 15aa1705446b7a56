"""The confirm's idempotency ledger (SPEC §6): one record per (profile, idempotency_key).

Why not Powertools' `@idempotent`: it fits a call that either finishes or may be re-run from
scratch. A confirm is neither: it sends up to 1,000 batches that Meta may partly accept, and a retry
must send only the batches not yet accepted. Powertools keeps no per-batch progress, deletes its
record when the handler raises (losing that progress and the payload hash), and has no state for
"failed, resumable with the same key". Wrapping it would leave us writing all of that anyway, plus
its import cost on every cold start. So this module keeps Powertools' attribute names (`id`,
`status` INPROGRESS/COMPLETED, `validation` = payload hash, `data` = saved result (zlib JSON), TTL
`expiration`) in the same table, and adds what the confirm needs: a lease (`owner`,
`lease_expires_at`) so a crashed attempt can be taken over, a RELEASED state for failed attempts,
one progress item per accepted batch, and the request's fingerprint, so a key is looked up BEFORE
anything is built (a replay or a key in use answers at once, whatever the payload's size).

A confirm takes the key in two steps: `claim` (by the request's fingerprint, before building), then
`pin` (by the payload hash, after building the whole payload and before sending any of it).

States and transitions (each one DynamoDB conditional write in the store):
  absent/expired ─claim→ INPROGRESS(owner A, fingerprint, as_of)   kind "new"
  INPROGRESS, lease live ─claim→ raises InProgress                   (nothing written)
  INPROGRESS, lease over │ RELEASED ─claim→ INPROGRESS(owner B)      kind "resume"
  COMPLETED, same fingerprint ─claim→ its result                     kind "replay" (nothing written)
  COMPLETED, other fingerprint ─claim→ its result and payload hash   kind "check" (nothing written)
  INPROGRESS(A), no payload or the same ─pin(hash)→ names the payload (+ done batches on a resume)
  INPROGRESS(A), another payload ─pin(hash)→ raises KeyReused, A releases the key
  "check" ─pin(hash)→ kind "replay" if it is the same payload, else raises KeyReused
  INPROGRESS(A) ─finish(succeeded)→ COMPLETED ; ─finish(failed|partially_failed)│release→ RELEASED
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from capi_writeback.rails.clock import Clock, system_clock
from capi_writeback.rails.idempotency.exceptions import InProgress, KeyReused, LeaseLost
from capi_writeback.rails.idempotency.persistence.base import (
    COMPLETED,
    IN_PROGRESS,
    NOT_OWNER,
    OTHER_PAYLOAD,
    RELEASED,
    LedgerRecord,
    LedgerStore,
)

ClaimKind = Literal["new", "resume", "replay", "check"]
FINAL_STATUSES = frozenset({"succeeded", "partially_failed", "failed"})
LEASE_SECONDS = 900  # without a deadline: Lambda's longest invocation (the confirm function's timeout)
# With a deadline, a lease never ends sooner than this after the last sign of life: longer than one
# batch can take (the Meta client gives up on a batch after 60 s of retries, plus a read timeout), so
# a live attempt does not lose its key between two recorded batches once past its deadline.
LEASE_FLOOR_SECONDS = 120
_CLAIM_ATTEMPTS = 5


def record_id(profile_id: str, idempotency_key: str) -> str:
    """The ledger id of (profile, key). The key is hashed: any printable text, fixed length, no '#'
    ambiguity, and the raw key stays out of the table's primary key."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()
    return f"confirm#{profile_id}#{digest}"


@dataclass
class Claim:
    """The caller's hold on a key: what to do (`kind`) and, once pinned, what is already done.

    `as_of`: the time to resolve the selection at: the record's own when the same request comes
    back (a retry of `last_days: 7` rebuilds the window and the age checks of its first attempt, so
    it rebuilds the same payload), else the claim's time. `payload_hash`: the record's pinned
    payload (empty until pinned). `result`: the stored result ("replay" and "check")."""

    kind: ClaimKind
    profile_id: str
    idempotency_key: str
    payload_hash: str
    batch_count: int
    record_id: str
    owner: str
    generation: str
    attempt: int
    lease_expires_at: float
    as_of: float
    fingerprint: str | None = None
    done_batches: dict[int, dict[str, Any]] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    deadline: float | None = None


class ConfirmLedger:
    """Claim a confirm key, record accepted batches as they finish, finish with a status.

    The lease of an attempt (how long no other attempt may take the key) follows its invocation, like
    Powertools' in-progress expiry: until the `deadline` given to `claim` (when the Lambda will be
    stopped), and never less than `lease_floor` after the last sign of life. Without a deadline
    (local tools, tests) it is `lease_seconds`, which must then exceed the longest gap between two
    recorded batches. Each record_batch renews it. `ttl_seconds`: how long a key is remembered after
    its last write.
    """

    def __init__(self, store: LedgerStore, clock: Clock = system_clock,
                 lease_seconds: float = LEASE_SECONDS, ttl_seconds: float = 7 * 86400, *,
                 lease_floor: float = LEASE_FLOOR_SECONDS) -> None:
        self.store = store
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.lease_floor = lease_floor
        self.ttl_seconds = ttl_seconds

    def lease_until(self, now: float, deadline: float | None) -> float:
        """When a lease taken or renewed at `now` ends, for an attempt that must end by `deadline`."""
        if deadline is None:
            return now + self.lease_seconds
        return max(deadline, now + self.lease_floor)

    def claim(self, profile_id: str, key: str, fingerprint: str, *, as_of: float,
              deadline: float | None = None) -> Claim:
        """Look the key up and take it for this attempt, before anything is built (see the module
        docstring). `fingerprint`: the request's (same request → same fingerprint); `as_of`: when
        this attempt resolves its selection; `deadline`: when its invocation will be stopped (None:
        not known). A "new" or "resume" claim holds the key: `pin`, then `finish`, or `release`."""
        rid = record_id(profile_id, key)
        for _ in range(_CLAIM_ATTEMPTS):
            now = self.clock()
            owner = uuid.uuid4().hex
            fresh = LedgerRecord(
                id=rid, profile_id=profile_id, idempotency_key=key, payload_hash="", batch_count=0,
                status=IN_PROGRESS, owner=owner, generation=uuid.uuid4().hex,
                lease_expires_at=self.lease_until(now, deadline), expiration=now + self.ttl_seconds,
                fingerprint=fingerprint, as_of=as_of)
            existing = self.store.create(fresh, now)
            if existing is None:
                return self._claim("new", fresh, fingerprint, as_of, deadline=deadline)
            same_request = existing.fingerprint == fingerprint
            if existing.status == COMPLETED:
                kind: ClaimKind = "replay" if same_request else "check"
                return self._claim(kind, existing, fingerprint, as_of, result=dict(existing.result or {}))
            if existing.status == IN_PROGRESS and existing.lease_expires_at > now:
                raise InProgress(details={
                    "idempotency_key": key,
                    "lease_expires_in": max(1, int(existing.lease_expires_at - now + 0.999))})
            taken = self.store.take_over(existing, owner, self.lease_until(now, deadline),
                                         now + self.ttl_seconds)
            if taken is not None:
                resolved = taken.as_of if same_request and taken.as_of is not None else as_of
                return self._claim("resume", taken, fingerprint, resolved, deadline=deadline)
            # Someone else moved the record between our read and our write: look again.
        raise InProgress(details={"idempotency_key": key})

    def pin(self, claim: Claim, payload_hash: str, batch_count: int) -> Claim:
        """Name the payload this attempt built (its hash, `batch_count` batches of 1,000) before it
        sends any of it. A "new"/"resume" claim comes back pinned, with the batches earlier
        attempts got accepted for this payload (`done_batches`); a "check" claim comes back as a
        "replay" when it is the payload that succeeded. KeyReused (the key is released) when the key
        names another payload; LeaseLost when another attempt took the key meanwhile."""
        if claim.kind in ("replay", "check"):
            if claim.payload_hash != payload_hash:
                raise KeyReused(details={"idempotency_key": claim.idempotency_key})
            return dataclasses.replace(claim, kind="replay")
        found = self.store.pin(claim.record_id, claim.owner, payload_hash, batch_count)
        if found == NOT_OWNER:
            raise LeaseLost()
        if found == OTHER_PAYLOAD:
            self.release(claim)
            raise KeyReused(details={"idempotency_key": claim.idempotency_key})
        done = {} if claim.kind == "new" else self.store.done_batches(
            claim.record_id, claim.generation, batch_count, self.clock())
        return dataclasses.replace(claim, payload_hash=payload_hash, batch_count=batch_count,
                                   done_batches=done)

    def release(self, claim: Claim) -> None:
        """Give the key back without a result (the attempt stopped before or while sending): a
        retry with the same key takes it at once; batches already accepted stay recorded."""
        self._require_owned(claim)
        self.store.close(claim.record_id, claim.owner, RELEASED, "released", None,
                         self.clock() + self.ttl_seconds)

    def stored(self, profile_id: str, key: str, fingerprint: str) -> Claim | None:
        """What `claim` would find for a succeeded key, read without claiming anything: a "replay"
        or "check" claim (see `claim`), or None when the key has not succeeded. Lets a replay be
        answered where a new attempt is refused (an open breaker)."""
        record = self.store.get(record_id(profile_id, key), self.clock())
        if record is None or record.status != COMPLETED:
            return None
        kind: ClaimKind = "replay" if record.fingerprint == fingerprint else "check"
        return self._claim(kind, record, fingerprint, self.clock(), result=dict(record.result or {}))

    def record_batch(self, claim: Claim, batch_index: int, batch_summary: Mapping[str, Any]) -> bool:
        """Remember that Meta accepted batch `batch_index`, so no retry sends it again. Safe from any
        thread. False when this attempt lost its lease (the batch is still remembered: Meta did
        accept it).

        The lease is renewed (and the key's ownership checked) only once it has less than half the
        lease floor left: until then no other attempt can have taken the key, so one write per
        batch is enough (a million events are a thousand batches)."""
        self._require_owned(claim)
        now = self.clock()
        summary = dict(batch_summary)
        claim.done_batches[int(batch_index)] = summary
        lease = self.lease_until(now, claim.deadline)
        renew = claim.lease_expires_at - now < self.lease_floor / 2
        kept = self.store.add_batch(claim.record_id, claim.generation, claim.owner, int(batch_index),
                                    summary, lease if renew else None, now + self.ttl_seconds)
        if kept and renew:
            claim.lease_expires_at = lease
        return kept

    def finish(self, claim: Claim, status: str, result: Mapping[str, Any]) -> None:
        """End the attempt. succeeded → COMPLETED (later claims replay `result`); failed or
        partially_failed → RELEASED (a retry with the same key resumes). LeaseLost if another
        attempt holds the key now."""
        self._require_owned(claim)
        if status not in FINAL_STATUSES:
            raise ValueError(f"unknown confirm status {status!r}")
        now = self.clock()
        succeeded = status == "succeeded"
        closed = self.store.close(claim.record_id, claim.owner, COMPLETED if succeeded else RELEASED,
                                  status, dict(result) if succeeded else None, now + self.ttl_seconds)
        if not closed:
            raise LeaseLost()

    @staticmethod
    def _require_owned(claim: Claim) -> None:
        if claim.kind in ("replay", "check"):
            raise ValueError("a replayed claim sends nothing: there is nothing to record or finish")

    @staticmethod
    def _claim(kind: ClaimKind, record: LedgerRecord, fingerprint: str, as_of: float, *,
               result: dict[str, Any] | None = None, deadline: float | None = None) -> Claim:
        return Claim(kind=kind, profile_id=record.profile_id, idempotency_key=record.idempotency_key,
                     payload_hash=record.payload_hash, batch_count=record.batch_count,
                     record_id=record.id, owner=record.owner, generation=record.generation,
                     attempt=record.attempts, lease_expires_at=record.lease_expires_at, as_of=as_of,
                     fingerprint=fingerprint, result=result, deadline=deadline)
