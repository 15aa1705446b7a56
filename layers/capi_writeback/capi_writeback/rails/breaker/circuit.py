"""The per-profile circuit breaker of confirm (SPEC §6).

Open means: at least `threshold` failed confirms within the last `window_seconds`. There is no
stored "open" flag to get out of sync: the store keeps the failure timestamps, and open/closed is
computed from them at `now`, so the breaker closes by itself as failures age out.

Concurrency: a failure is one atomic append that returns the whole log as it stood right after it,
so each concurrent caller sees its own position. The failure that made the in-window count reach
`threshold` is the only one that reports "opened". Aged-out entries are pruned with a write
conditioned on the log's version, so a prune never drops a failure appended meanwhile.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from capi_writeback.rails.breaker.exceptions import CircuitOpen
from capi_writeback.rails.breaker.persistence.base import BreakerStore
from capi_writeback.rails.clock import Clock, system_clock


class CircuitBreaker:
    """check() before sending; record_failure()/record_success() after; reset() for admins."""

    def __init__(self, store: BreakerStore, clock: Clock = system_clock, threshold: int = 3,
                 window_seconds: float = 1800) -> None:
        if threshold < 1 or window_seconds <= 0:
            raise ValueError("threshold must be >= 1 and window_seconds > 0")
        self.store = store
        self.clock = clock
        self.threshold = threshold
        self.window_seconds = window_seconds

    def check(self, profile_id: str) -> None:
        """Raise CircuitOpen(retry_after) while the breaker is open; return if closed."""
        now = self.clock()
        recent = sorted(self._in_window(self.store.get(profile_id).failures, now))
        if len(recent) >= self.threshold:
            # Closed again once len(recent) - threshold + 1 of the oldest have aged out.
            ages_out_at = recent[len(recent) - self.threshold] + self.window_seconds
            raise CircuitOpen(retry_after=max(1, math.ceil(ages_out_at - now)),
                              details={"failures": len(recent), "window_seconds": int(self.window_seconds)})

    def is_open(self, profile_id: str) -> bool:
        try:
            self.check(profile_id)
        except CircuitOpen:
            return True
        return False

    def record_failure(self, profile_id: str) -> bool:
        """Count a failed confirm; True exactly when this failure opened the breaker."""
        now = self.clock()
        log = self.store.append(profile_id, now, ttl=now + self.window_seconds)
        recent = self._in_window(log.failures, now)
        if len(recent) < len(log.failures):
            self.store.replace(profile_id, recent, log.version)  # best effort; losing the race is fine
        return len(recent) == self.threshold

    def record_success(self, profile_id: str) -> None:
        """A successful confirm closes the breaker (writes nothing when there were no failures)."""
        self.store.clear(profile_id, only_if_any=True)

    def reset(self, profile_id: str) -> None:
        """Admin reset: forget every failure (the caller writes the audit row)."""
        self.store.clear(profile_id)

    def _in_window(self, failures: Iterable[float], now: float) -> list[float]:
        return [t for t in failures if now - t < self.window_seconds]
