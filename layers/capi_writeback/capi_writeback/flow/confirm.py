"""Step 3 of SPEC §1: send for real, once. The whole confirm state machine, top to bottom.

prerequisites → key present → build (pixel, preview_id) → breaker check (while open, a key that
already succeeded for this payload still replays; nothing else passes) → claim the key (replay →
the stored result, `replayed: true`) → send only the batches Meta has not accepted yet, recording
each accepted one in the ledger as it finishes → status → breaker success/failure → finish the
claim (succeeded: replayable; otherwise released for a retry with the same key) → audit.

What a confirm answers:
- every batch accepted → `succeeded`;
- some batches processed, some not (or events rejected inside a batch) → `partially_failed`: the
  result lists each batch; a retry with the same key sends only the failed batches;
- no batch processed → SendUnavailable if any batch failed on an outage (timeouts, 5xx, throttling
  after retries), else SendRejected; `details` hold Meta's code, subcode, fbtrace_id and the whole
  result (status `failed`, batches). The key is released for retry.
Both `failed` and `partially_failed` count as a failure for the circuit breaker; a confirm that had
nothing to send proves nothing about Meta and leaves the breaker as it was.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from capi_writeback import observability as obs
from capi_writeback.contracts.writeback import ConfirmRequest
from capi_writeback.exceptions import IdempotencyKeyRequired
from capi_writeback.flow import sending
from capi_writeback.flow.selection import Built, build
from capi_writeback.flow.services import Services, default_services
from capi_writeback.flow.trail import Call, Note, audited, noted_access
from capi_writeback.rails.breaker.exceptions import CircuitOpen
from capi_writeback.rails.idempotency.exceptions import LeaseLost

if TYPE_CHECKING:
    from capi_writeback.meta.client import MetaClient
    from capi_writeback.meta.results import BatchResult
    from capi_writeback.rails.idempotency.ledger import Claim


def confirm(call: Call, request: ConfirmRequest, services: Services | None = None) -> dict[str, Any]:
    """Send for real, once: idempotency key, circuit breaker, per-batch progress, audit."""
    services = services or default_services()
    return audited(services, call, "confirm", lambda note: _confirm(services, call, request, note))


def _confirm(services: Services, call: Call, request: ConfirmRequest, note: Note) -> dict[str, Any]:
    note.idempotency_key = request.idempotency_key or None
    access = noted_access(services, call, note)
    key = request.idempotency_key
    if not key:
        raise IdempotencyKeyRequired()
    built = build(services, access, request, note)

    try:
        services.breaker.check(access.profile_id)
    except CircuitOpen:
        stored = services.ledger.stored_result(access.profile_id, key, built.payload_hash)
        if stored is None:
            raise
        return _replay(call, note, built, stored)

    client = services.meta(access.connection.get("api_version"))
    batch_count = math.ceil(built.event_count / client.config.batch_size)  # the client splits likewise
    claim = services.ledger.claim(access.profile_id, key, built.payload_hash, batch_count,
                                  deadline=call.deadline)
    if claim.kind == "replay":
        return _replay(call, note, built, dict(claim.result or {}))

    note.failed_status = "failed"
    done = {int(i): dict(s) for i, s in claim.done_batches.items()}  # accepted by earlier attempts
    pending = [i for i in range(batch_count) if i not in done]
    try:
        sent = _send(services, claim, client, access.connection, built, pending)
    except Exception as exc:
        # Nothing more will be sent by this attempt: release the key (accepted batches stay
        # recorded) and count the failure, then refuse.
        services.ledger.finish(claim, "failed", {"status": "failed"})
        _breaker_failure(services, access.profile_id)
        if not sending.is_meta_error(exc):
            raise
        raise sending.send_failed(exc, {"operation": "confirm", "status": "failed",
                                        "idempotency_key": key}) from None

    batches = [done.get(i) or sent.get(i) or _missing(i, built.event_count, batch_count)
               for i in range(batch_count)]
    status = sending.overall_status(batches) if batches else "succeeded"
    obs.count(obs.EVENTS_SENT, sum(s["events_received"] for s in sent.values()))
    result = {
        "operation": "confirm",
        "request_id": call.request_id,
        "idempotency_key": key,
        "payload_hash": built.payload_hash,
        "status": status,
        "event_count": built.event_count,
        "events_received": sum(b["events_received"] for b in batches),
        "batches": sending.public_batches(batches),
        "replayed": False,
        "skipped": built.skipped(),
        "skipped_count": built.skipped_count,
    }
    note.fbtrace_ids = [t for b in batches for t in b.get("fbtrace_ids", [])]

    if status != "succeeded":
        _breaker_failure(services, access.profile_id)
    elif batches:
        services.breaker.record_success(access.profile_id)
    _finish(services, claim, status, result)
    note.status = status
    obs.logger.info("confirm finished", extra={"status": status, "event_count": built.event_count,
                                               "events_received": result["events_received"],
                                               "batches": len(batches), "resumed_batches": len(done)})
    if status == "failed":
        raise sending.failure_error(batches, {"operation": "confirm", "status": "failed",
                                              "idempotency_key": key, "payload_hash": built.payload_hash,
                                              "batches": result["batches"]})
    return result


def _send(services: Services, claim: Claim, client: MetaClient, connection: Mapping[str, Any],
          built: Built, pending: list[int]) -> dict[int, dict[str, Any]]:
    """Send the pending batches; each one Meta accepted is recorded in the ledger as it finishes.
    The summaries of the batches sent, by index."""
    if not pending:
        return {}

    def on_batch(result: BatchResult) -> None:
        # The client calls this on the calling thread, one batch at a time, as each finishes; the
        # ledger write is a single conditional DynamoDB update.
        summary = sending.batch_summary(result)
        if summary["status"] in sending.DONE_STATUSES and not services.ledger.record_batch(
                claim, summary["index"], summary):
            # Another attempt took the key over (this one outlived its lease): it sends every batch
            # not recorded when it did, so this one must not start any more.
            raise LeaseLost()

    results = client.send(str(connection["pixel_id"]), str(connection["secret_id"]), built.payload,
                          only_batches=pending, on_batch=on_batch)
    summaries = (sending.batch_summary(r) for r in results)
    return {summary["index"]: summary for summary in summaries}


def _finish(services: Services, claim: Claim, status: str, result: dict[str, Any]) -> None:
    """Close the claim with the result (succeeded: kept for replays; otherwise released)."""
    try:
        services.ledger.finish(claim, status, result)
    except ValueError:
        # Too large to keep for replays (long skipped conversion ids): keep it without the skipped
        # list (`skipped_count` still says how many), rather than leave the key held after sending.
        services.ledger.finish(claim, status, {**result, "skipped": []})


def _replay(call: Call, note: Note, built: Built, stored: dict[str, Any]) -> dict[str, Any]:
    """The stored result of the succeeded confirm with this key, marked replayed (nothing resent)."""
    note.status = "replayed"
    note.fbtrace_ids = [b["fbtrace_id"] for b in stored.get("batches", []) if b.get("fbtrace_id")]
    obs.count(obs.REPLAYS)
    obs.logger.info("confirm replayed", extra={"payload_hash": built.payload_hash})
    return {**stored, "request_id": call.request_id, "replayed": True,
            "original_request_id": stored.get("request_id")}


def _breaker_failure(services: Services, profile_id: str) -> None:
    """A failed or partially failed confirm: count it and feed the profile's circuit breaker."""
    obs.count(obs.CONFIRMS_FAILED)
    if services.breaker.record_failure(profile_id):
        obs.count(obs.BREAKER_OPENED)
        obs.logger.warning("circuit breaker opened", extra={"profile_id": profile_id})


def _missing(index: int, event_count: int, batch_count: int) -> dict[str, Any]:
    """A batch the client reported nothing for (should not happen): treated as failed, retryable."""
    per_batch = math.ceil(event_count / batch_count)
    size = min(per_batch, event_count - index * per_batch)
    return {"index": index, "event_count": size, "events_received": 0, "fbtrace_id": None,
            "fbtrace_ids": [], "status": "failed", "error": {"message": "no result", "transient": True}}
