"""What a build adds up to, accumulated as its chunks stream by: counts, events by name, match
quality, skip reasons, the first sample events and skipped rows, warnings, and the payload hash.

Everything here is bounded whatever the number of rows (the counts are per event name, quality
level or skip reason; warnings are one line per kind naming its first rows), so a preview of a
million rows keeps what a preview of ten keeps.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from capi_writeback.built import Chunk, SkippedRow
from capi_writeback.payload import PayloadHasher
from capi_writeback.quality import LEVELS

WARNING_ROWS_SHOWN = 5
MAX_WARNING_KINDS = 100
# An unknown key is named in a warning only when it is spelled like a column name: a key may be data
# (an email address used as a key), and warnings reach logs and stored results.
_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9 _.-]{0,39}")
_UNNAMED = "ignored unknown columns whose names look like data, not column names (not shown)"


def unknown_column_note(key: str) -> str:
    """The warning for an unknown key: named only when it is spelled like a column name."""
    if _COLUMN_NAME.fullmatch(key):
        return f"ignored unknown column '{key}' (map it with the profile's column_mapping)"
    return _UNNAMED


class Notes:
    """Warnings as one line per kind, naming the first rows that had it and how many more."""

    __slots__ = ("_counts", "_other_rows", "_rows")

    def __init__(self) -> None:
        self._rows: dict[str, list[int]] = {}
        self._counts: Counter[str] = Counter()
        self._other_rows = 0

    def add(self, message: str, index: int) -> None:
        rows = self._rows.get(message)
        if rows is None:
            if len(self._rows) >= MAX_WARNING_KINDS:
                self._other_rows += 1
                return
            rows = self._rows[message] = []
        if len(rows) < WARNING_ROWS_SHOWN:
            rows.append(index)
        self._counts[message] += 1

    def lines(self) -> list[str]:
        out = []
        for message, rows in self._rows.items():
            count = self._counts[message]
            shown = ", ".join(str(i) for i in rows)
            more = f" and {count - len(rows)} more" if count > len(rows) else ""
            out.append(f"{message} (row{'s' if count > 1 else ''} {shown}{more})")
        if self._other_rows:
            out.append(f"{self._other_rows} more warnings of other kinds are not listed")
        return out


class BuildSummary:
    """Accumulates a build's chunks (`add`); complete once the stream is exhausted.

    `samples` first events are kept as they are sent; `listed_skips` first skipped rows are kept
    (the rest are counted); `hash_payload=False` skips the payload hash for callers that never
    show it (the CLI)."""

    def __init__(self, *, samples: int = 3, listed_skips: int = 1000, hash_payload: bool = True) -> None:
        self.rows = 0
        self.event_count = 0
        self.skipped_count = 0
        self.samples: list[dict[str, Any]] = []
        self.skipped: list[SkippedRow] = []
        self._sample_limit = samples
        self._listed_skips = listed_skips
        self._names: Counter[str] = Counter()
        self._quality: Counter[str] = Counter()
        self._reasons: Counter[str] = Counter()
        self._notes = Notes()
        self._unknown_columns = Notes()
        self._unnamed_row = -1
        self._hasher = PayloadHasher() if hash_payload else None

    def add(self, chunk: Chunk) -> None:
        """Count one chunk (the stream calls this before yielding it)."""
        events = chunk.events
        self.rows += len(chunk.rows)
        self.event_count += len(events)
        skipped = len(chunk.rows) - len(events)
        self.skipped_count += skipped
        self._names.update([built.event["event_name"] for built in events])
        self._quality.update([built.match_quality for built in events])
        notes = self._notes
        for built in events:
            for warning in built.warnings:
                notes.add(warning, built.index)
        if skipped:
            for row in chunk.skipped:
                self._reasons[str(row.reason)] += 1
                if len(self.skipped) < self._listed_skips:
                    self.skipped.append(row)
        if len(self.samples) < self._sample_limit:
            self.samples += [b.event for b in events[:self._sample_limit - len(self.samples)]]
        if self._hasher is not None and events:
            self._hasher.update([b.event for b in events])

    def note_unknown_column(self, key: str, index: int) -> None:
        note = unknown_column_note(key)
        if note is _UNNAMED:  # several data-like keys of one row: that row is named once
            if self._unnamed_row == index:
                return
            self._unnamed_row = index
        self._unknown_columns.add(note, index)

    @property
    def events_by_name(self) -> dict[str, int]:
        return dict(sorted(self._names.items()))

    @property
    def match_quality(self) -> dict[str, int]:
        return {level: self._quality.get(level, 0) for level in LEVELS}

    @property
    def skipped_by_reason(self) -> dict[str, int]:
        return dict(sorted(self._reasons.items()))

    @property
    def warnings(self) -> list[str]:
        """One line per kind of warning (value warnings first, then unknown columns)."""
        return self._notes.lines() + self._unknown_columns.lines()

    @property
    def payload_hash(self) -> str:
        if self._hasher is None:
            raise ValueError("this build was streamed with hash_payload=False")
        return self._hasher.value
