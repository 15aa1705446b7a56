"""What the circuit breaker refuses (domain errors: the boundary maps them to SPEC types)."""

from __future__ import annotations

from typing import Any

from capi_writeback.exceptions import CapiWritebackError


class BreakerError(CapiWritebackError):
    """Base of the breaker's refusals."""


class CircuitOpen(BreakerError):
    """Too many failed confirms in the window: sending is paused for `retry_after` seconds (>= 1)."""

    def __init__(self, retry_after: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retry_after = max(1, int(retry_after))
