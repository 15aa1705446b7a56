"""The payload as Meta receives it: batches of at most 1,000 events, and the hash that pins it.

The payload hash is what `preview_id` pins, so a dry-run or confirm refuses a payload that changed
since its preview. It is defined over the stream of events, so a build can hash what it yields
without ever holding the whole payload:

    payload_hash = "sha256:" + hex(SHA-256(d_0 || d_1 || ... || d_k-1))
    d_i          = SHA-256(canonical_json(batch_i))      (the 32 raw bytes)
    batch_i      = events[1000 * i : 1000 * (i + 1)]     (Meta's batch limit: the batches confirm sends)

`canonical_json` is JSON with sorted keys, separators `,` and `:`, `ensure_ascii=False`, no NaN, in
UTF-8. The hash depends on the events and their order only: not on how a build was chunked, nor on
the machine. No events hash to SHA-256 of nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from capi_writeback.limits import MAX_BATCH_EVENTS  # Meta's per-request limit: one batch of the hash

_SLICE = 100  # events serialized at a time while hashing


def canonical_json(value: Any) -> bytes:
    """The one serialization hashes are computed over: sorted keys, compact, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


class PayloadHasher:
    """The payload hash of events fed in order, in slices of any size.

    A batch's canonical JSON `[e1,...,en]` is hashed as it arrives, slice by slice (for a slice of a
    list, `canonical_json(slice)` is the same text minus the brackets), so nothing is kept but the
    running digests."""

    __slots__ = ("_batch", "_ended", "_in_batch", "_outer")

    def __init__(self) -> None:
        self._outer = hashlib.sha256()
        self._batch = hashlib.sha256()
        self._in_batch = 0
        self._ended = False  # a short batch was added whole: it must be the last

    def update(self, events: Sequence[dict[str, Any]]) -> None:
        if self._ended and events:
            raise ValueError("no events may follow a short batch added whole")
        start, count = 0, len(events)
        while start < count:  # slices of at most _SLICE events: small transient serializations
            part = events[start:start + min(_SLICE, MAX_BATCH_EVENTS - self._in_batch)]
            text = memoryview(canonical_json(part))  # b"[e1,...,en]"
            if self._in_batch:
                self._batch.update(b",")
            self._batch.update(text[:-1] if self._in_batch == 0 else text[1:-1])
            self._in_batch += len(part)
            start += len(part)
            if self._in_batch == MAX_BATCH_EVENTS:
                self._outer.update(_closed(self._batch))
                self._batch, self._in_batch = hashlib.sha256(), 0

    def update_batch(self, data: bytes, count: int) -> None:
        """Add a whole batch given as its canonical JSON (`canonical_json(events)`, `count` events):
        the hash `update(events)` would give, for a caller that already holds those bytes (they
        are also what Meta receives). Only at a batch boundary; only the last batch may be short."""
        if self._in_batch or self._ended:
            raise ValueError("update_batch takes whole batches, and none after a short one")
        if not 0 < count <= MAX_BATCH_EVENTS:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH_EVENTS} events")
        self._outer.update(hashlib.sha256(data).digest())
        self._ended = count < MAX_BATCH_EVENTS

    @property
    def value(self) -> str:
        """`sha256:<hex>` of the events so far (the hasher can go on being updated)."""
        outer = self._outer.copy()
        if self._in_batch:
            outer.update(_closed(self._batch.copy()))
        return "sha256:" + outer.hexdigest()


def _closed(batch: Any) -> bytes:
    batch.update(b"]")
    return bytes(batch.digest())


def payload_hash(events: Iterable[dict[str, Any]]) -> str:
    """The payload hash of a whole list of events (see the module docstring)."""
    hasher = PayloadHasher()
    hasher.update(events if isinstance(events, Sequence) else list(events))
    return hasher.value


def batches(events: list[dict[str, Any]], size: int = MAX_BATCH_EVENTS) -> list[list[dict[str, Any]]]:
    """Consecutive slices of at most `size` (<= 1000, Meta's limit) events, in order."""
    if not 1 <= size <= MAX_BATCH_EVENTS:
        raise ValueError(f"batch size must be between 1 and {MAX_BATCH_EVENTS}")
    return [events[i:i + size] for i in range(0, len(events), size)]
