"""Meta's batch results in the flow's terms: batch summaries, confirm status, the refusal to raise.

A batch Meta processed (`accepted`, or `partially_rejected` after the client isolated the bad events)
is done: resending it cannot help and would send its good events twice. Only `failed` batches are
sent again on a retry with the same idempotency key.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from capi_writeback.exceptions import SendFailed, SendRejected, SendUnavailable

if TYPE_CHECKING:
    from capi_writeback.meta.client import MetaClient, OnBatch
    from capi_writeback.meta.encoding import EncodedBatch
    from capi_writeback.meta.results import BatchResult

DONE_STATUSES = frozenset({"accepted", "partially_rejected"})


def send_batches(client: MetaClient, connection: Mapping[str, Any], batches: Iterable[EncodedBatch], *,
                 test_event_code: str | None = None, on_batch: OnBatch | None = None,
                 started: Callable[[], None] | None = None) -> list[BatchResult]:
    """Send encoded batches to the connection's pixel as they come (`MetaClient.send_batches`).
    With no batch at all, nothing happens: no request, not even a read of the token. `started` runs
    once the first batch exists, just before anything is sent."""
    source = iter(batches)
    first = next(source, None)
    if first is None:
        return []
    if started is not None:
        started()
    return client.send_batches(str(connection["pixel_id"]), str(connection["secret_id"]),
                               itertools.chain([first], source), test_event_code=test_event_code,
                               on_batch=on_batch)


def meta_error_details(error: BaseException) -> dict[str, Any]:
    """What a caller may see of a Meta failure (code, subcode, fbtrace_id, message, fix; no token)."""
    from capi_writeback.meta.errors import caller_details

    return caller_details(error)


def send_failed(error: BaseException, details: dict[str, Any]) -> SendFailed:
    """A MetaError raised by the client (e.g. unreadable credentials) as the flow's refusal."""
    merged = {**meta_error_details(error), **details}
    if is_unavailable(error):
        return SendUnavailable(details=merged)
    fix = merged.get("fix")
    return SendRejected(fix=str(fix) if fix else None, details=merged)


def batch_summary(result: Any) -> dict[str, Any]:
    """The JSON summary of one BatchResult, as stored in the ledger and returned in `batches`."""
    fbtrace_ids = [str(t) for t in (getattr(result, "fbtrace_ids", None) or []) if t]
    summary: dict[str, Any] = {
        "index": int(result.index),
        "event_count": int(result.event_count),
        "events_received": int(result.events_received or 0),
        "fbtrace_id": fbtrace_ids[0] if fbtrace_ids else None,
        "fbtrace_ids": fbtrace_ids,
        "status": str(result.status),
    }
    rejected = getattr(result, "rejected", None) or []
    if rejected:
        summary["rejected"] = [
            {"position": r.position, "event_id": r.event_id, "code": r.code, "subcode": r.subcode,
             "message": r.message}
            for r in rejected
        ]
    if getattr(result, "error", None) is not None:
        summary["error"] = meta_error_details(result.error)
        summary["error"]["transient"] = is_unavailable(result.error)
    return summary


def is_unavailable(error: BaseException) -> bool:
    """True for Meta errors that are outages (retry later), False for refusals of the payload."""
    from capi_writeback.meta.errors import is_outage

    return is_outage(error)


def is_meta_error(error: BaseException) -> bool:
    from capi_writeback.meta.errors import MetaError

    return isinstance(error, MetaError)


def overall_status(batches: Iterable[Mapping[str, Any]]) -> str:
    """succeeded (every batch accepted), failed (none processed), else partially_failed."""
    statuses = [b["status"] for b in batches]
    if all(s == "accepted" for s in statuses):
        return "succeeded"
    if all(s == "failed" for s in statuses):
        return "failed"
    return "partially_failed"


def failure_error(batches: Iterable[Mapping[str, Any]], details: dict[str, Any]) -> SendFailed:
    """The refusal of a wholly failed send: SendUnavailable if any batch hit an outage, else
    SendRejected; details carry Meta's code/subcode/fbtrace_id of the first failed batch."""
    failed = [b for b in batches if b.get("status") == "failed"]
    first = next((b.get("error") or {} for b in failed), {})
    unavailable = any((b.get("error") or {}).get("transient") for b in failed)
    merged = {k: v for k, v in first.items() if k in ("code", "subcode", "fbtrace_id", "message")}
    merged.update(details)
    if unavailable:
        return SendUnavailable(details=merged)
    fix = first.get("fix")
    return SendRejected(fix=str(fix) if fix else None, details=merged)


def public_batches(batches: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Batch summaries as the responses show them: in index order, without `fbtrace_ids` (the
    responses list those at the top) and the internal `transient` flag."""
    out = []
    for batch in sorted(batches, key=lambda b: b["index"]):
        shown = {k: v for k, v in batch.items() if k != "fbtrace_ids"}
        if "error" in shown:
            shown["error"] = {k: v for k, v in shown["error"].items() if k != "transient"}
        out.append(shown)
    return out
