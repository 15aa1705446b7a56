"""Step 3 of SPEC §1: send for real, once. The whole confirm state machine, top to bottom.

prerequisites → key present → pixel → breaker check (while open, a key that already succeeded for
this request still replays; nothing else passes) → claim the key by the request's fingerprint,
BEFORE building anything (same request succeeded → replay; another attempt holds it →
CONFIRM_IN_PROGRESS, both at once) → build the whole payload, hashing it and spooling its encoded
batches to local disk (flow/batches.py) → preview_id check → pin the payload hash on the key → send
only the batches Meta has not accepted yet, from the spool, recording each accepted one as it
finishes → status → breaker success/failure → finish the claim (succeeded: replayable; otherwise
released for a retry with the same key) → audit.

How each SPEC §6 guarantee holds now that the key is looked up before the payload exists
(rails/idempotency/ledger.py has the states):
- Same key + same request after success → the stored result, nothing built or sent. "Same request"
  is the request's fingerprint (selection.fingerprint: the selection as asked, `last_days` as a
  number of days, its preview_id and pixel_id, the profile settings), stored in the key's record when
  it is first claimed. So `last_days: 7` retried tomorrow with its key replays, even though its
  window moved (the key stands for the request, as with any idempotency key; docs/architecture.md).
- Same key + different payload → IDEMPOTENCY_KEY_REUSED. A request with another fingerprint is built
  and its payload hash compared with the one the key pinned: the same payload replays (e.g. the same
  rows spelled differently), another is refused. Nothing is sent before that comparison.
- Same key while running → CONFIRM_IN_PROGRESS, at once: the claim is the first write, so of 30
  concurrent confirms with one key, one builds and sends, the 29 others are refused without reading a
  row (tests/lambdas/test_confirm_scale.py).
- `preview_id` pins the payload: PAYLOAD_CHANGED is raised when the whole payload has been built and
  hashed (all of it is in the spool) and before anything is sent; the key is released.
- A failed or partially failed confirm resumes with the same key, sending only the batches Meta has
  not accepted: the resumed attempt builds the whole payload and pins its hash before sending; a key
  whose record names another payload is refused (KeyReused) and given back. A retry of the same
  request is built as of its first attempt (`Claim.as_of`: the same `last_days` window, the same
  event-age checks), so it rebuilds the same payload and its accepted batches line up.
- A crashed attempt's lease expires and the key is taken over like a released one. Batches recorded
  before the crash are never resent. A batch Meta accepted in the instant between its answer and the
  ledger write is sent again by the retry, with the same event ids (Meta deduplicates on event_name +
  event_id); that window cannot be closed from this side of the network and is covered by a test.

What a confirm answers:
- every batch accepted → `succeeded`;
- some batches processed, some not (or events rejected inside a batch) → `partially_failed`: the
  result lists each batch; a retry with the same key sends only the failed batches;
- no batch processed → SendUnavailable if any batch failed on an outage (timeouts, 5xx, throttling
  after retries), else SendRejected; `details` hold Meta's code, subcode, fbtrace_id and the whole
  result (status `failed`, batches). The key is released for retry.
Both `failed` and `partially_failed` count as a failure for the circuit breaker; a confirm that had
nothing to send proves nothing about Meta and leaves the breaker as it was.

Memory stays flat in the number of rows: the build streams (flow/selection.py), the payload waits on
disk, and at most the client's concurrency of batches is in memory while sending.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from capi_writeback import observability as obs
from capi_writeback.contracts.writeback import ConfirmRequest
from capi_writeback.exceptions import IdempotencyKeyRequired
from capi_writeback.flow import sending
from capi_writeback.flow.selection import Build, Built, check_pixel, fingerprint
from capi_writeback.flow.services import Services, default_services
from capi_writeback.flow.trail import Call, Note, audited, noted_access
from capi_writeback.rails.breaker.exceptions import CircuitOpen
from capi_writeback.rails.idempotency.exceptions import KeyReused, LeaseLost

if TYPE_CHECKING:
    from capi_writeback.auth import Access
    from capi_writeback.flow.batches import Spool
    from capi_writeback.meta.client import MetaClient
    from capi_writeback.meta.results import BatchResult
    from capi_writeback.rails.idempotency.ledger import Claim

AUDIT_WINDOW = "audit_window"  # kept with the stored result for the audit rows of its replays


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
    check_pixel(access, request, note)
    request_fingerprint = fingerprint(access, request)

    try:
        services.breaker.check(access.profile_id)
    except CircuitOpen as refused:
        stored = _succeeded(services, access, request, note, request_fingerprint)
        if stored is None:
            raise refused from None
        return _replay(call, note, stored)

    claim = services.ledger.claim(access.profile_id, key, request_fingerprint, as_of=services.clock(),
                                  deadline=call.deadline)
    if claim.kind == "replay":
        return _replay(call, note, claim)

    from capi_writeback.flow.batches import Spool

    with contextlib.ExitStack() as closing:
        try:  # until the payload is pinned, any failure gives the key back: nothing was sent
            spool = closing.enter_context(Spool())
            client = services.meta(access.connection.get("api_version"))
            selected = Build(services, access, request, note, as_of=claim.as_of)
            spool.fill(selected.batches())
            built = selected.built()  # PAYLOAD_CHANGED here, before anything is sent
            claim = services.ledger.pin(claim, built.payload_hash, spool.batch_count)
        except BaseException:
            if claim.kind in ("new", "resume"):
                _give_back(services, claim)
            raise
        if claim.kind == "replay":  # another request, the same payload: the same confirm
            return _replay(call, note, claim)
        return _send_and_finish(services, call, access, note, claim, client, built, spool)


def _send_and_finish(services: Services, call: Call, access: Access, note: Note, claim: Claim,
                     client: MetaClient, built: Built, spool: Spool) -> dict[str, Any]:
    key = claim.idempotency_key
    note.failed_status = "failed"
    done = {int(i): dict(s) for i, s in claim.done_batches.items()}  # accepted by earlier attempts
    pending = [i for i in range(spool.batch_count) if i not in done]
    try:
        sent = _send(services, claim, client, access.connection, spool, pending)
    except Exception as exc:
        # Nothing more will be sent by this attempt: release the key (accepted batches stay
        # recorded) and count the failure, then refuse.
        services.ledger.finish(claim, "failed", {"status": "failed"})
        _breaker_failure(services, access.profile_id)
        if not sending.is_meta_error(exc):
            raise
        raise sending.send_failed(exc, {"operation": "confirm", "status": "failed",
                                        "idempotency_key": key}) from None

    batches = [done.get(i) or sent.get(i) or _missing(i, spool.event_count_of(i))
               for i in range(spool.batch_count)]
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
    _finish(services, claim, status, {**result, AUDIT_WINDOW: built.window})
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
          spool: Spool, pending: list[int]) -> dict[int, dict[str, Any]]:
    """Send the pending batches from the spool; each one Meta accepted is recorded in the ledger as
    it finishes. The summaries of the batches sent, by index."""

    def on_batch(result: BatchResult) -> None:
        # The client calls this on the calling thread, one batch at a time, as each finishes; the
        # ledger write is a single conditional DynamoDB update.
        summary = sending.batch_summary(result)
        if summary["status"] in sending.DONE_STATUSES and not services.ledger.record_batch(
                claim, summary["index"], summary):
            # Another attempt took the key over (this one outlived its lease): it sends every batch
            # not recorded when it did, so this one must not start any more.
            raise LeaseLost()

    if not pending:
        return {}
    results = sending.send_batches(client, connection, spool.batches(only=set(pending)), on_batch=on_batch)
    summaries = (sending.batch_summary(r) for r in results)
    return {summary["index"]: summary for summary in summaries}


def _succeeded(services: Services, access: Access, request: ConfirmRequest, note: Note,
               request_fingerprint: str) -> Claim | None:
    """The succeeded confirm this request would replay, found without claiming the key (the breaker
    is open: nothing may be sent). A request other than the one that succeeded is built, only to
    compare its payload hash (nothing kept, nothing sent); None when nothing would replay."""
    key = str(request.idempotency_key)
    stored = services.ledger.stored(access.profile_id, key, request_fingerprint)
    if stored is None or stored.kind == "replay":
        return stored
    selected = Build(services, access, request, note)
    for _batch in selected.batches():
        pass
    try:
        return services.ledger.pin(stored, selected.built().payload_hash, 0)
    except KeyReused:
        return None


def _give_back(services: Services, claim: Claim) -> None:
    """Release a key this attempt holds but will not send for (best effort: the refusal that got us
    here is what the caller must see; a key not released is taken over when its lease ends)."""
    try:
        services.ledger.release(claim)
    except Exception:
        obs.logger.warning("could not release the idempotency key", exc_info=True)


def _finish(services: Services, claim: Claim, status: str, result: dict[str, Any]) -> None:
    """Close the claim with the result (succeeded: kept for replays; otherwise released)."""
    try:
        services.ledger.finish(claim, status, result)
    except ValueError:
        # Too large to keep for replays (long skipped conversion ids): keep it without the skipped
        # list (`skipped_count` still says how many), rather than leave the key held after sending.
        services.ledger.finish(claim, status, {**result, "skipped": []})


def _replay(call: Call, note: Note, claim: Claim) -> dict[str, Any]:
    """The stored result of the succeeded confirm with this key, marked replayed (nothing resent,
    nothing built when the request is the one that succeeded)."""
    stored = dict(claim.result or {})
    window = stored.pop(AUDIT_WINDOW, None)
    note.status = "replayed"
    note.payload_hash = stored.get("payload_hash") or note.payload_hash
    note.event_count = int(stored.get("event_count") or note.event_count)
    note.window = window if isinstance(window, dict) else note.window
    note.fbtrace_ids = [b["fbtrace_id"] for b in stored.get("batches", []) if b.get("fbtrace_id")]
    obs.count(obs.REPLAYS)
    obs.logger.info("confirm replayed", extra={"payload_hash": note.payload_hash})
    return {**stored, "request_id": call.request_id, "replayed": True,
            "original_request_id": stored.get("request_id")}


def _breaker_failure(services: Services, profile_id: str) -> None:
    """A failed or partially failed confirm: count it and feed the profile's circuit breaker."""
    obs.count(obs.CONFIRMS_FAILED)
    if services.breaker.record_failure(profile_id):
        obs.count(obs.BREAKER_OPENED)
        obs.logger.warning("circuit breaker opened", extra={"profile_id": profile_id})


def _missing(index: int, event_count: int) -> dict[str, Any]:
    """A batch the client reported nothing for (should not happen): treated as failed, retryable."""
    return {"index": index, "event_count": event_count, "events_received": 0, "fbtrace_id": None,
            "fbtrace_ids": [], "status": "failed", "error": {"message": "no result", "transient": True}}


