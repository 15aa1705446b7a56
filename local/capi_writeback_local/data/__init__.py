"""The shipped demo sample: a few thousand realistic conversion rows (see generate_sample.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

SAMPLE_FILE = "sample_conversions.jsonl"


def load_sample(now: float) -> list[dict[str, Any]]:
    """The sample rows with their stored time offsets turned into timestamps relative to `now`.

    Each row's `_occurred_at_format` decides how `occurred_at` is written (unix seconds, unix
    milliseconds or ISO-8601), so the demo exercises every accepted timestamp form.
    """
    text = resources.files(__package__).joinpath(SAMPLE_FILE).read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        at = int(now) + int(row.pop("_occurred_at_offset"))
        fmt = row.pop("_occurred_at_format", "s")
        if fmt == "ms":
            row["occurred_at"] = at * 1000
        elif fmt == "iso":
            row["occurred_at"] = datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
        else:
            row["occurred_at"] = at
        rows.append(row)
    return rows
