"""The retry policy for Meta calls: plain data plus a few pure methods (in the manner of urllib3's Retry).

Which failures are transient is decided here and nowhere else (CAPI-REFERENCE §6.2): network errors,
timeouts, HTTP 5xx, `is_transient: true`, and codes 1, 2, 4, 17, 32, 341, 368, 613, 80004. Codes 100,
190, 102, 3, 10 and 200-299 are never retried, whatever else the answer says. Throttling codes back off
longer, because calling a throttled endpoint again extends the block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import THROTTLE_CODES, MetaError

TRANSIENT_CODES: frozenset[int] = frozenset({1, 2, 4, 17, 32, 341, 368, 613, 80004})
NEVER_RETRY_CODES: frozenset[int] = frozenset({100, 190, 102, 3, 10, *range(200, 300)})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one request.

    Backoff is exponential with full jitter: the n-th retry waits `rng() * min(cap, base * 2**(n-1))`.
    Throttling waits at least `throttle_min` plus full jitter over the throttle cap. A retry is never
    started if its wait would take the request past `max_total_seconds`.
    """

    max_attempts: int = 5
    max_total_seconds: float = 60.0
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    throttle_min: float = 5.0
    throttle_base: float = 5.0
    throttle_max: float = 60.0
    transient_codes: frozenset[int] = field(default=TRANSIENT_CODES)
    never_retry_codes: frozenset[int] = field(default=NEVER_RETRY_CODES)

    def is_retryable(self, error: MetaError) -> bool:
        """True when `error` is transient: worth sending the same request again after a wait."""
        if error.code is not None and error.code in self.never_retry_codes:
            return False
        if error.code is None:  # network error, timeout, or a body that is not a Graph error
            return error.http_status is None or error.http_status >= 500
        return (
            error.code in self.transient_codes
            or error.is_transient
            or (error.http_status is not None and error.http_status >= 500)
        )

    def backoff(self, retry_number: int, error: MetaError, rng: Callable[[], float]) -> float:
        """Seconds to wait before retry number `retry_number` (1-based) after `error`."""
        exponent = max(0, retry_number - 1)
        if error.code in THROTTLE_CODES:
            cap = min(self.throttle_max, self.throttle_base * 2.0**exponent)
            return min(self.throttle_max, self.throttle_min + rng() * cap)
        return rng() * min(self.backoff_max, self.backoff_base * 2.0**exponent)

    def may_retry(self, attempts_made: int, elapsed: float, wait: float) -> bool:
        """True when another attempt fits in both the attempt budget and the total-time budget."""
        return attempts_made < self.max_attempts and elapsed + wait <= self.max_total_seconds
