"""Meta's limits that more than one module enforces, defined once (CAPI-REFERENCE §1.6)."""

from __future__ import annotations

MAX_BATCH_EVENTS = 1000
"""Meta accepts at most 1,000 events per request; a larger request is refused whole."""
