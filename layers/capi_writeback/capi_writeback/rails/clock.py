"""The clock the rails read: injectable so tests can move time instead of sleeping.

Leases, breaker windows, TTLs and audit timestamps all come from one `Clock` passed in, so a test
can open a breaker, advance 30 minutes and see it close without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]
"""Unix seconds (float), like `time.time`."""

system_clock: Clock = time.time


class ManualClock:
    """A clock that only moves when told to (thread-safe), for tests and demos."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by `seconds`; returns the new time."""
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        with self._lock:
            self._now = float(now)
