"""Building streams in flat memory (SPEC §12, issue 10), shown with tracemalloc, not with timing.

Ten times the rows may only add the duplicate-detection table (at most 24 bytes a row, counting a
table that is being doubled); everything else a build holds is bounded by its chunk."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from typing import Any

from capi_writeback.events import stream_events
from capi_writeback.settings import ProfileSettings

from .conftest import NOW

SETTINGS = ProfileSettings(country="us")
TABLE_BYTES_PER_ROW = 24


def rows(count: int) -> Iterator[dict[str, Any]]:
    """Made one at a time (the input itself is not held); unique ids, a realistic spread of PII."""
    for i in range(count):
        yield {"conversion_id": f"ord-{i:07d}", "outcome_type": "payment_received", "occurred_at": NOW - 3600,
               "email": f" User{i % 997}@Example.com ", "phone": f"(650) 555-{i % 991:04d}",
               "first_name": "Ann", "last_name": "Smith", "city": "San Francisco", "state": "California",
               "zip": "94107-1234", "client_ip_address": f"203.0.113.{i % 200 + 1}",
               "client_user_agent": "Mozilla/5.0", "value": "19.99", "currency": "usd"}


def peak_bytes(count: int) -> int:
    tracemalloc.start()
    try:
        events = 0
        stream = stream_events(rows(count), SETTINGS, NOW)
        for chunk in stream:  # consumed and dropped, as a sender or the CLI does
            events += len(chunk.events)
        assert events == count and stream.summary.payload_hash
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_the_rows_beyond_the_duplicate_table() -> None:
    peak_bytes(2_000)  # warm up: imports, memo caches, lazily loaded metadata
    small, large = peak_bytes(5_000), peak_bytes(50_000)
    assert large - TABLE_BYTES_PER_ROW * 50_000 <= small + 256 * 1024, (small, large)
    assert large < 8 * 1024 * 1024, large  # two chunks, the table, the summary: not 50k events (~100 MB)
