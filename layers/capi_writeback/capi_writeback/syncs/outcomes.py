"""Per-row outcomes of a run (SPEC §10), kept for the runs' retention without raw PII: the row's
number in its work item, its conversion id, and what happened to it (sent; skipped with a reason;
rejected with Meta's message; failed with the error), written in pages as the child goes, so a
child holds at most one page whatever the size of its object."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from capi_writeback.syncs.persistence.base import RunStore

SENT = "sent"
SKIPPED = "skipped"
REJECTED = "rejected"
FAILED = "failed"
OUTCOMES = (SENT, SKIPPED, REJECTED, FAILED)
# Reasons of the sync's own skips, besides the build's (validate.SkipReason).
ALREADY_SENT = "ALREADY_SENT"  # an earlier run sent this key
IN_PROGRESS_ELSEWHERE = "IN_PROGRESS_ELSEWHERE"  # another run holds it now; retried if that one fails
PAGE_ROWS = 1000
MAX_TEXT = 300


class OutcomeLog:
    """Collects one work item's outcomes and writes them a page at a time (pages are numbered from
    0 in the order rows are decided, so a retried item rewrites the same pages)."""

    def __init__(self, store: RunStore, sync_id: str, run_id: str, item: int,
                 page_rows: int = PAGE_ROWS) -> None:
        self._store = store
        self._where = (sync_id, run_id, item)
        self._page_rows = page_rows
        self._rows: list[list[Any]] = []
        self.pages = 0

    def add(self, row: int, conversion_id: str | None, outcome: str, reason: str | None = None,
            message: str | None = None) -> None:
        self._rows.append([row, conversion_id[:MAX_TEXT] if conversion_id else None, outcome,
                           reason, message[:MAX_TEXT] if message else None])
        if len(self._rows) >= self._page_rows:
            self.flush()

    def add_many(self, rows: Iterable[tuple[int, str | None]], outcome: str, reason: str | None = None,
                 message: str | None = None) -> None:
        for row, conversion_id in rows:
            self.add(row, conversion_id, outcome, reason, message)

    def flush(self) -> None:
        if self._rows:
            sync_id, run_id, item = self._where
            self._store.put_outcomes(sync_id, run_id, item, self.pages, self._rows)
            self.pages += 1
            self._rows = []


def as_dict(item: int, row: list[Any]) -> dict[str, Any]:
    """One stored outcome as the API shows it."""
    number, conversion_id, outcome, reason, message = (list(row) + [None] * 5)[:5]
    return {"item": item, "row": number, "conversion_id": conversion_id, "outcome": outcome,
            "reason": reason, "message": message}
