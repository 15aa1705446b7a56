"""DigestSet: a compact set of 64-bit digests behaves as a Python set does."""

from __future__ import annotations

import hashlib
import random

import pytest
from capi_writeback.digests import DigestSet, digest64


def test_it_agrees_with_a_set_through_growth_and_clustered_values() -> None:
    rng = random.Random(5)
    digests = DigestSet()
    reference: set[int] = set()
    values = [rng.getrandbits(64) or 1 for _ in range(20_000)]
    values += [v for v in range(1, 5000)]  # consecutive low values: long probe runs
    values += [v << 32 for v in range(1, 3000)]  # the same low bits: all in one bucket at first
    values += rng.sample(values, 8000)  # repeats
    for value in values:
        assert digests.add(value) is (value not in reference)
        reference.add(value)
    assert len(digests) == len(reference)
    assert all(v in digests for v in reference)
    assert not any((rng.getrandbits(64) or 1) in digests for _ in range(1000))


def test_digests_are_stable_blake2b_and_never_zero() -> None:
    """The same on every machine: the first 8 bytes of BLAKE2b, little-endian."""
    expected = int.from_bytes(hashlib.blake2b("ordé-1".encode(), digest_size=8).digest(), "little")
    assert digest64("ordé-1") == expected != digest64("ordé-2")
    assert all(0 < digest64(str(i)) < 2**64 for i in range(1000))


@pytest.mark.parametrize("count", [0, 1, 2049, 70_000])
def test_memory_is_a_few_bytes_per_member(count: int) -> None:
    digests = DigestSet()
    for i in range(count):
        digests.add(digest64(f"c{i}"))
    assert digests.nbytes <= 8 * max(4096, 4 * count)
