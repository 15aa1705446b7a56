"""The three write-back steps of SPEC §1: preview, dry-run, confirm (no AWS event shapes here).

Each step checks the prerequisites, builds the selection, and writes exactly one audit row.

Confirm's order: key present → prerequisites → build (pixel, preview_id) → breaker.check (open: a key
that already succeeded for this payload still replays) → ledger.claim (replay → the stored result
with replayed=true) → send only batches Meta has not accepted yet, each
recorded in the ledger as it finishes → status → breaker success/failure → ledger.finish → audit.

What a confirm answers:
- every batch accepted → 200 `succeeded`;
- some batches processed, some not (or events rejected inside a batch) → 200 `partially_failed`: the
  response lists each batch; retry with the same key to send only the failed batches;
- no batch processed → an error: META_UNAVAILABLE (504) if any batch failed on an outage (timeouts,
  5xx, throttling after retries), else META_REJECTED (502); `details` hold Meta's code, subcode,
  fbtrace_id and the whole confirm result (status `failed`, batches). The key is released for retry.
Both `failed` and `partially_failed` count as a failure for the circuit breaker.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from capi_writeback import observability as obs
from capi_writeback.auth import Access, check_access, find_profile
from capi_writeback.contracts import ConfirmRequest, DryRunRequest, PreviewRequest
from capi_writeback.exceptions import IdempotencyKeyRequired, TestEventCodeRequired
from capi_writeback.flow import selection as sel
from capi_writeback.flow import sending
from capi_writeback.flow.services import Services, default_services
from capi_writeback.flow.trail import Call, Note, audited
from capi_writeback.rails.breaker.exceptions import CircuitOpen
from capi_writeback.rails.idempotency.exceptions import LeaseLost

DEFAULT_BATCH_SIZE = 1000  # Meta's limit; the client's config.batch_size decides the split
SAMPLE_EVENTS = 3


def _access(services: Services, call: Call, note: Note) -> Access:
    """The four prerequisites (after PROFILE_NOT_FOUND); the note learns the workspace first, so
    refusals on a known profile are audited too."""
    profile = find_profile(services.directory, call.principal, call.profile_id)
    if profile is not None:
        note.workspace_id = str(profile.get("workspace_id"))
        connection = profile.get("connection")
        if isinstance(connection, Mapping) and connection.get("pixel_id"):
            note.pixel_id = str(connection["pixel_id"])
    return check_access(services.directory, call.principal, call.profile_id, profile=profile)


def preview(call: Call, request: PreviewRequest, services: Services | None = None) -> dict[str, Any]:
    """Build the events and show them; nothing is sent."""
    services = services or default_services()

    def body(note: Note) -> dict[str, Any]:
        access = _access(services, call, note)
        built = sel.build(services, access, request, note)
        result = built.result
        return {
            "operation": "preview",
            "request_id": call.request_id,
            "preview_id": built.preview_id,
            "payload_hash": built.payload_hash,
            "event_count": built.event_count,
            "events_by_name": dict(result.events_by_name),
            "window": built.window,
            "sample_events": built.payload[:SAMPLE_EVENTS],
            "match_quality": dict(result.match_quality),
            "skipped": built.skipped(),
            "skipped_count": built.skipped_count,
            "warnings": built.warnings(),
        }

    return audited(services, call, "preview", body)


def dry_run(call: Call, request: DryRunRequest, services: Services | None = None) -> dict[str, Any]:
    """Send the events with a test_event_code: Meta validates them, nothing counts for real."""
    services = services or default_services()

    def body(note: Note) -> dict[str, Any]:
        note.failed_status = "refused"
        access = _access(services, call, note)
        code = request.test_event_code or access.connection.get("test_event_code")
        if not code:
            raise TestEventCodeRequired()
        built = sel.build(services, access, request, note)
        batches: list[dict[str, Any]] = []
        messages: list[str] = []
        if built.event_count:
            note.failed_status = "failed"
            client = services.meta(access.connection.get("api_version"))
            try:
                results = client.send(str(access.connection["pixel_id"]),
                                      str(access.connection["secret_id"]), built.payload,
                                      test_event_code=str(code))
            except Exception as exc:
                if not sending.is_meta_error(exc):
                    raise
                raise sending.send_failed(exc, {"operation": "dry_run"}) from None
            batches = [sending.batch_summary(r) for r in results]
            for r in results:
                messages.extend(str(m) for m in (getattr(r, "messages", None) or []))
        fbtrace_ids = [t for b in batches for t in b["fbtrace_ids"]]
        note.fbtrace_ids = fbtrace_ids
        response = {
            "operation": "dry_run",
            "request_id": call.request_id,
            "preview_id": built.preview_id,
            "payload_hash": built.payload_hash,
            "test_event_code": str(code),
            "event_count": built.event_count,
            "events_received": sum(b["events_received"] for b in batches),
            "fbtrace_ids": fbtrace_ids,
            "messages": messages,
            "rejected": [r for b in batches for r in b.get("rejected", [])],
            "warnings": built.warnings(),
            "skipped": built.skipped(),
            "skipped_count": built.skipped_count,
        }
        if batches and sending.overall_status(batches) == "failed":
            raise sending.failure_error(batches, {"operation": "dry_run", "batches": _public(batches)})
        if batches and sending.overall_status(batches) != "succeeded":
            note.status = "partially_failed"
        return response

    return audited(services, call, "dry_run", body)


def _public(batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Batch summaries as the API shows them (without the internal `transient` flag)."""
    out = []
    for b in sorted(batches, key=lambda b: b["index"]):
        b = {k: v for k, v in b.items() if k != "fbtrace_ids"}
        if "error" in b:
            b["error"] = {k: v for k, v in b["error"].items() if k != "transient"}
        out.append(b)
    return out


def confirm(call: Call, request: ConfirmRequest, services: Services | None = None) -> dict[str, Any]:
    """Send for real, once: idempotency key, circuit breaker, per-batch progress, audit."""
    services = services or default_services()

    def body(note: Note) -> dict[str, Any]:
        note.idempotency_key = request.idempotency_key or None
        access = _access(services, call, note)
        key = request.idempotency_key
        if not key:
            raise IdempotencyKeyRequired()
        built = sel.build(services, access, request, note)
        try:
            services.breaker.check(access.profile_id)
        except CircuitOpen:
            # A succeeded confirm is still answered while the breaker is open: nothing is sent.
            stored = services.ledger.stored_result(access.profile_id, key, built.payload_hash)
            if stored is None:
                raise
            return _replay(call, note, built, stored)
        client = services.meta(access.connection.get("api_version"))
        size = int(getattr(getattr(client, "config", None), "batch_size", DEFAULT_BATCH_SIZE))
        batch_count = math.ceil(built.event_count / size)
        claim = services.ledger.claim(access.profile_id, key, built.payload_hash, batch_count)
        if claim.kind == "replay":
            return _replay(call, note, built, dict(claim.result))
        return _send_confirm(services, call, access, built, claim, note, key, client, batch_count)

    return audited(services, call, "confirm", body)


def _replay(call: Call, note: Note, built: sel.Built, stored: dict[str, Any]) -> dict[str, Any]:
    """The stored result of the succeeded confirm with this key, marked replayed (nothing resent)."""
    note.status = "replayed"
    note.fbtrace_ids = [b["fbtrace_id"] for b in stored.get("batches", []) if b.get("fbtrace_id")]
    obs.count(obs.REPLAYS)
    obs.logger.info("confirm replayed", extra={"payload_hash": built.payload_hash})
    return {**stored, "request_id": call.request_id, "replayed": True,
            "original_request_id": stored.get("request_id")}


def _send_confirm(services: Services, call: Call, access: Access, built: sel.Built, claim: Any,
                  note: Note, key: str, client: Any, batch_count: int) -> dict[str, Any]:
    done: dict[int, dict[str, Any]] = {int(i): dict(s) for i, s in (claim.done_batches or {}).items()}
    pending = [i for i in range(batch_count) if i not in done]
    sent: dict[int, dict[str, Any]] = {}
    note.failed_status = "failed"

    def on_batch(result: Any) -> None:
        # The client calls this on the calling thread, one batch at a time, as each finishes; the
        # ledger write is a single conditional DynamoDB update.
        summary = sending.batch_summary(result)
        if summary["status"] in sending.DONE_STATUSES and not services.ledger.record_batch(
                claim, summary["index"], summary):
            # Another attempt took the key over (this one outlived its lease): it sends every batch
            # not recorded when it did, so this one must not start any more.
            raise LeaseLost()

    try:
        if pending:
            results = client.send(str(access.connection["pixel_id"]), str(access.connection["secret_id"]),
                                  built.payload, only_batches=pending, on_batch=on_batch)
            for r in results:
                summary = sending.batch_summary(r)
                sent[summary["index"]] = summary
    except Exception as exc:
        # Nothing more will be sent by this attempt: release the key (accepted batches stay
        # recorded) and count the failure, then answer with the typed error.
        services.ledger.finish(claim, "failed", {"status": "failed"})
        _record_failure(services, access.profile_id)
        if not sending.is_meta_error(exc):
            raise
        raise sending.send_failed(exc, {"operation": "confirm", "status": "failed",
                                          "idempotency_key": key}) from None
    batches = [done.get(i) or sent.get(i) or _missing(i, built.event_count, batch_count)
               for i in range(batch_count)]
    status = sending.overall_status(batches) if batches else "succeeded"
    newly_received = sum(s["events_received"] for s in sent.values())
    obs.count(obs.EVENTS_SENT, newly_received)
    result = {
        "operation": "confirm",
        "request_id": call.request_id,
        "idempotency_key": key,
        "payload_hash": built.payload_hash,
        "status": status,
        "event_count": built.event_count,
        "events_received": sum(b["events_received"] for b in batches),
        "batches": _public(batches),
        "replayed": False,
        "skipped": built.skipped(),
        "skipped_count": built.skipped_count,
    }
    note.fbtrace_ids = [t for b in batches for t in b.get("fbtrace_ids", [])]
    if status == "succeeded":
        if batches:  # a confirm that had nothing to send proves nothing about Meta: breaker unchanged
            services.breaker.record_success(access.profile_id)
    else:
        _record_failure(services, access.profile_id)
    try:
        services.ledger.finish(claim, status, result)
    except ValueError:
        # Too large to keep for replays (long skipped conversion ids): keep it without the skipped
        # list (`skipped_count` still says how many), rather than leave the key held after sending.
        services.ledger.finish(claim, status, {**result, "skipped": []})
    note.status = status
    obs.logger.info("confirm finished", extra={"status": status, "event_count": built.event_count,
                                               "events_received": result["events_received"],
                                               "batches": len(batches), "resumed_batches": len(done)})
    if status == "failed":
        raise sending.failure_error(batches, {"operation": "confirm", "status": "failed",
                                              "idempotency_key": key, "payload_hash": built.payload_hash,
                                              "batches": result["batches"]})
    return result


def _record_failure(services: Services, profile_id: str) -> None:
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
