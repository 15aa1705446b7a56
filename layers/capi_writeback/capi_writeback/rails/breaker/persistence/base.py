"""The breaker's persistence protocol: a per-profile log of failure timestamps with a version.

Each method is one atomic operation (a DynamoDB update, a lock in memory), so concurrent confirms
each see their own position in the log (`circuit.py` relies on it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class FailureLog:
    """A profile's recorded confirm failures (timestamps, in write order) and the item version."""

    failures: tuple[float, ...]
    version: int


EMPTY = FailureLog(failures=(), version=0)


class BreakerStore(Protocol):
    """Persistence of the circuit breaker windows (`capi_writeback.rails.breaker.circuit`)."""

    def get(self, profile_id: str) -> FailureLog:
        """The profile's failures (empty when none)."""

    def append(self, profile_id: str, at: float, ttl: float) -> FailureLog:
        """Atomically append one failure; the log right after this append (it is the last entry)."""

    def replace(self, profile_id: str, failures: Sequence[float], version: int) -> bool:
        """Replace the failures if the log is still at `version`; False if it moved on."""

    def clear(self, profile_id: str, only_if_any: bool = False) -> None:
        """Forget every failure (with `only_if_any`, write nothing when there are none)."""
