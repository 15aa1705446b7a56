"""Preview, dry-run and confirm stream the selection (SPEC §12, issue 10): ten times the stored rows
add only the duplicate-detection table (at most 24 bytes a row) and the confirm's per-batch result
(one summary per 1,000 events), shown with tracemalloc, not with timing. The rows are made as the
store is read and the Meta emulator runs in its own process, so only the flow's memory is measured."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from capi_writeback.contracts.writeback import ConfirmRequest, DryRunRequest, PreviewRequest
from capi_writeback.flow import confirm, dry_run, preview

from .conftest import GeneratedConversions, make_services, owner_call

TABLE_BYTES_PER_ROW = 24
RESULT_BYTES_PER_BATCH = 2048  # a batch's summary in the confirm result (and its ledger copy)
MARGIN = 512 * 1024


def peak(meta_url: str, rows: int, step: Callable[[Any], dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    services = make_services(meta_url, GeneratedConversions(rows, time.time()))
    tracemalloc.start()
    try:
        result = step(services)
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", ["preview", "dry_run", "confirm"])
def test_steps_hold_the_same_memory_for_ten_times_the_rows(meta_url: str, name: str) -> None:
    steps: dict[str, Callable[[Any], dict[str, Any]]] = {
        "preview": lambda s: preview(owner_call(), PreviewRequest(last_days=1), s),
        "dry_run": lambda s: dry_run(owner_call(), DryRunRequest(last_days=1), s),
        "confirm": lambda s: confirm(owner_call(), ConfirmRequest(last_days=1, idempotency_key="k"), s),
    }
    step = steps[name]
    peak(meta_url, 1_500, step)  # warm up: imports, memo caches, connections
    small, small_result = peak(meta_url, 3_000, step)
    large, large_result = peak(meta_url, 30_000, step)
    assert (small_result["event_count"], large_result["event_count"]) == (3_000, 30_000)
    grown = TABLE_BYTES_PER_ROW * 30_000 + RESULT_BYTES_PER_BATCH * 30
    assert large <= small + grown + MARGIN, (name, small, large)
    assert large < 16 * 1024 * 1024, large  # 30k events held at once would be ~60 MB
