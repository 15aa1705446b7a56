"""A run's report (SPEC §10) from its work items' records, and its status.

Each child writes one record for its item: counts, skip reasons, match quality, warnings and its
own status: `done`; `paused` (the profile's breaker was open: nothing sent); `failed` (the item could
not be read, or Meta kept failing and the child stopped); `cut_short` (it ran out of time: the rest
of its rows wait for the next run). An item with no record failed after Step Functions' retries.

Status of a run: `succeeded` when every item is done and Meta took every event sent; `paused` when
the breaker held items back and nothing failed; `failed` when something went wrong and Meta accepted
none of it; else `partially_failed`. Rows not sent (refused, failed, held back) are tried again by
the next run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

COUNTS = ("rows_read", "rows_new", "events_sent", "events_received", "rejected", "failed", "failed_batches")
LEVELS = ("great", "good", "weak")
MAX_WARNINGS = 50
MAX_TRACE_IDS = 1000


def empty_counts() -> dict[str, Any]:
    return {**dict.fromkeys(COUNTS, 0), "skipped": {}, "match_quality": dict.fromkeys(LEVELS, 0)}


def aggregate(planned_items: int, parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The counts, item tally, warnings and status of a run from its items' records."""
    totals = empty_counts()
    skipped: Counter[str] = Counter()
    quality: Counter[str] = Counter()
    items: Counter[str] = Counter()
    warnings: list[str] = []
    trace_ids: list[str] = []
    for part in parts:
        for name in COUNTS:
            totals[name] += int(part.get(name) or 0)
        skipped.update({str(k): int(v) for k, v in (part.get("skipped") or {}).items()})
        quality.update({str(k): int(v) for k, v in (part.get("match_quality") or {}).items()})
        items[str(part.get("status") or "failed")] += 1
        where = f"{part.get('key')}" + (f" (part {int(part['part']) + 1} of {part['parts']})"
                                        if int(part.get("parts") or 1) > 1 else "")
        for warning in part.get("warnings") or []:
            if len(warnings) < MAX_WARNINGS:
                warnings.append(f"{where}: {warning}")
        error = part.get("error")
        if isinstance(error, Mapping) and len(warnings) < MAX_WARNINGS:
            warnings.append(f"{where}: {error.get('message')}")
        trace_ids.extend(str(t) for t in part.get("fbtrace_ids") or [] if len(trace_ids) < MAX_TRACE_IDS)
    reported = sum(items.values())
    missing = max(0, planned_items - reported)
    if missing:
        warnings.append(f"{missing} work item(s) failed after retries and reported nothing; their rows are "
                        "sent by the next run")
    totals["skipped"] = dict(sorted(skipped.items()))
    totals["match_quality"] = {level: quality.get(level, 0) for level in LEVELS}
    totals["items"] = {"total": planned_items, "done": items["done"], "failed": items["failed"] + missing,
                       "paused": items["paused"], "cut_short": items["cut_short"]}
    totals["warnings"] = warnings
    totals["fbtrace_ids"] = trace_ids
    totals["status"] = status_of(totals)
    return totals


def status_of(totals: Mapping[str, Any]) -> str:
    items = totals["items"]
    trouble = items["failed"] + items["cut_short"] + totals["rejected"] + totals["failed"]
    if not trouble:
        return "paused" if items["paused"] else "succeeded"
    return "failed" if totals["events_received"] == 0 else "partially_failed"
