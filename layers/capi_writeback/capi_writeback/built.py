"""What a build makes of each row: a `BuiltEvent` or a `SkippedRow`, streamed in `Chunk`s."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from capi_writeback.quality import MatchQuality
from capi_writeback.validate import SkipReason


@dataclass(slots=True)
class BuiltEvent:
    """One row's event (`event` is exactly what Meta receives) with its match quality and the
    warnings about values that were dropped. Slotted and not frozen: one is made per row, cheaply."""

    index: int
    conversion_id: str
    event: dict[str, Any]
    match_quality: MatchQuality
    warnings: list[str]


@dataclass(slots=True)
class SkippedRow:
    """A row that did not become an event, and why."""

    index: int
    conversion_id: str | None
    reason: SkipReason
    detail: str


@dataclass(frozen=True, slots=True)
class Chunk:
    """Consecutive input rows, each as its BuiltEvent or SkippedRow, in input order (`rows`), and
    the events among them (`events`, in order: their `event`s are the next part of the payload)."""

    rows: list[BuiltEvent | SkippedRow]
    events: list[BuiltEvent]

    @property
    def skipped(self) -> list[SkippedRow]:
        return [row for row in self.rows if type(row) is SkippedRow]

    @property
    def payload(self) -> list[dict[str, Any]]:
        return [built.event for built in self.events]
