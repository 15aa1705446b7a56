"""A set of 8-byte digests that costs 8 to 16 bytes per member, for remembering millions of keys.

A Python `set` of ints costs about 80 bytes per member (the int object and its slot), which for the
conversion ids of a 500,000-row build is more memory than the whole rest of the build. This is an
open-addressing hash table (linear probing) over one `array` of unsigned 64-bit integers, kept at
most half full; 0 marks an empty slot. The standard library has no compact set of integers, and
this one is small enough to read whole.
"""

from __future__ import annotations

import hashlib
from array import array

_INITIAL_SLOTS = 1 << 12


def digest64(text: str) -> int:
    """A stable, non-zero 64-bit digest of `text` (BLAKE2b): the same on every machine and run."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") or 1


class DigestSet:
    """Non-zero 64-bit integers (e.g. `digest64` values); `add` says whether one was new."""

    __slots__ = ("_count", "_mask", "_slots")

    def __init__(self) -> None:
        self._slots = array("Q", [0]) * _INITIAL_SLOTS
        self._mask = _INITIAL_SLOTS - 1
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        """The size of the table (what the set costs, besides a small fixed overhead)."""
        return self._slots.itemsize * len(self._slots)

    def add(self, digest: int) -> bool:
        """Add `digest` (1 <= digest < 2**64); False when it was already a member."""
        slots, mask = self._slots, self._mask
        index = digest & mask
        while True:
            found = slots[index]
            if found == 0:
                break
            if found == digest:
                return False
            index = (index + 1) & mask
        slots[index] = digest
        self._count += 1
        if self._count * 2 > mask:
            self._grow()
        return True

    def __contains__(self, digest: int) -> bool:
        slots, mask = self._slots, self._mask
        index = digest & mask
        while True:
            found = slots[index]
            if found == digest:
                return True
            if found == 0:
                return False
            index = (index + 1) & mask

    def _grow(self) -> None:
        old = self._slots
        size = 2 * len(old)
        self._slots, self._mask = array("Q", [0]) * size, size - 1
        slots, mask = self._slots, self._mask
        for digest in old:
            if digest:
                index = digest & mask
                while slots[index]:
                    index = (index + 1) & mask
                slots[index] = digest
