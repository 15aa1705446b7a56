"""The insert-only ledger of a sync (SPEC §10): each primary key is sent once.

Per (sync, key) one item: claimed before the send (a conditional write), marked sent after Meta
accepts it, released when Meta refused it or the send failed, so a later run claims and sends it
again, until the row is too old for Meta (the build skips it then) and the item's TTL removes it.

  absent | expired | released | claim with a lapsed lease | own claim ─claim→ CLAIMED(owner)
  CLAIMED(other, lease live) ─claim→ refused (another run is sending it)
  SENT ─claim→ refused (already sent; by this owner in an earlier attempt: counted as sent)
  CLAIMED(owner) ─mark→ SENT ; ─release→ RELEASED

Owner = the work item of a run (run id + item number): the same for every attempt of a child, so a
retried child takes its own claims back and skips what it already marked; another run's child is
someone else. Keys are stored as the first 128 bits of SHA-256 of the conversion id: fixed length,
and no raw value in the table whatever column the user picked as primary key.

Cost (a 200k-row export, all new): the claims are transactions of 100 conditional updates (2,000
calls; a transaction costs twice the write units of plain writes, but 100 times fewer round trips
than one conditional PutItem a row, which would not fit in a Lambda's 15 minutes); the marks are
unconditional BatchWriteItem puts of 25 (a key Meta accepted is sent whoever holds it; 8,000 calls,
one write unit each). Before claiming, the keys are read in batches of 100, so a re-exported file
whose keys are all sent costs reads only. `bench/bench_sync.py` counts the calls.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from capi_writeback.rails.clock import Clock, system_clock
from capi_writeback.syncs.persistence.base import CLAIMED, SENT, KeyEntry, KeyLedgerStore

WINDOW_DAYS = 62  # Meta takes physical_store events up to 62 days old, others up to 7
TTL_SECONDS = (WINDOW_DAYS + 1) * 86400  # past the window: a forgotten key could not be sent anyway


def key_of(conversion_id: str) -> str:
    """The ledger key of a conversion id."""
    return hashlib.sha256(conversion_id.encode("utf-8")).hexdigest()[:32]


@dataclass
class Decision:
    """What to do with each event of a chunk, by its position in the chunk."""

    new: list[int] = field(default_factory=list)  # claimed (or, in a dry run, not sent yet): send
    sent_before: list[int] = field(default_factory=list)  # sent by an earlier run: skip
    sent_by_owner: list[int] = field(default_factory=list)  # sent by an earlier attempt of this item
    busy: list[int] = field(default_factory=list)  # another run is sending it now: skip


class KeyLedger:
    """The rules above over a `KeyLedgerStore`."""

    def __init__(self, store: KeyLedgerStore, clock: Clock = system_clock) -> None:
        self.store = store
        self.clock = clock

    def claim(self, sync_id: str, owner: str, run_id: str, conversion_ids: Sequence[str],
              lease_until: float) -> Decision:
        """Claim the keys that no one sent or is sending; say what to do with each."""
        now = self.clock()
        keys = [key_of(c) for c in conversion_ids]
        entries = self.store.get_many(sync_id, sorted(set(keys)), now)
        candidates = sorted({k for k in keys if _claimable(entries.get(k), owner, now)})
        claimed, refused = self.store.claim_many(
            sync_id, candidates, owner=owner, run_id=run_id, lease_expires_at=lease_until,
            expires_at=now + TTL_SECONDS, now=now) if candidates else (set(), {})
        for key, entry in refused.items():
            if entry is not None:
                entries[key] = entry
        decision = Decision()
        for position, key in enumerate(keys):
            if key in claimed:
                decision.new.append(position)
                continue
            entry = entries.get(key)
            if entry is not None and entry.state == SENT:
                (decision.sent_by_owner if entry.owner == owner else decision.sent_before).append(position)
            else:
                decision.busy.append(position)
        return decision

    def unsent(self, sync_id: str, conversion_ids: Sequence[str]) -> Decision:
        """A dry run's view: which keys were sent already (nothing is claimed or written)."""
        keys = [key_of(c) for c in conversion_ids]
        entries = self.store.get_many(sync_id, sorted(set(keys)), self.clock())
        decision = Decision()
        for position, key in enumerate(keys):
            entry = entries.get(key)
            sent = entry is not None and entry.state == SENT
            (decision.sent_before if sent else decision.new).append(position)
        return decision

    def mark_sent(self, sync_id: str, owner: str, run_id: str, conversion_ids: Sequence[str]) -> None:
        if conversion_ids:
            now = self.clock()
            self.store.mark_sent(sync_id, [key_of(c) for c in conversion_ids], owner=owner, run_id=run_id,
                                 now=now, expires_at=now + TTL_SECONDS)

    def release(self, sync_id: str, owner: str, conversion_ids: Sequence[str], reason: str) -> None:
        if conversion_ids:
            self.store.release(sync_id, [key_of(c) for c in conversion_ids], owner=owner,
                               reason=reason[:200], now=self.clock())


def _claimable(entry: KeyEntry | None, owner: str, now: float) -> bool:
    if entry is None or entry.state not in (CLAIMED, SENT):
        return True
    if entry.state == SENT:
        return False
    return entry.owner == owner or entry.lease_expires_at <= now
