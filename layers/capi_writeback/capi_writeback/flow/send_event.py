"""SPEC §8: one event, sent now: `POST /v1/profiles/{profile_id}/events` and the MCP tool
`meta_send_conversion_event`, for backends that forward a Pixel event and for AI assistants.

prerequisites (as dry-run and confirm) → pixel → build (the rows' pipeline; an event Meta would
refuse is VALIDATION_ERROR naming the reason, nothing sent) → then

- a test send (`test_event_code`): send with the code; no ledger, no breaker (as a dry-run);
- a live send, exactly once per (pixel, event_name, event_id): claim the event in the ledger and
  check the breaker (while open, an event already sent still replays; nothing else passes, and a
  claim just taken is released) → replay → the first result, `replayed: true`; the same event being
  sent right now → wait for it, then replay, or CONFIRM_IN_PROGRESS → send → breaker success or
  failure, and finish (result kept for replays) or release (a failed send may be retried) → the
  result;

and one audit row (`operation: "send_event"`, the event id as its idempotency key for a live send).
The ledger keeps an event for 7 days, or as long as Meta would still accept it if longer (62 days
for physical_store), so a retry never double-counts even after Meta's 48-hour deduplication.

Latency: a backend waits for this once per conversion, so round trips that do not depend on each
other go out together (`parallel.py`): the prerequisites' three directory reads, the claim with the
breaker check, the finish with the breaker update. A live send makes three sequential DynamoDB
round trips before and two after Meta's answer (the audit row being the last); see
bench/bench_send_event.py.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from capi_writeback import observability as obs
from capi_writeback.exceptions import InvalidRequest, SendFailed
from capi_writeback.flow import sending
from capi_writeback.flow.selection import profile_settings
from capi_writeback.flow.services import Services, default_services
from capi_writeback.flow.trail import Call, Note, audited, noted_access
from capi_writeback.rails.audit.log import iso_ms

if TYPE_CHECKING:  # the rest is imported on first use: every function imports `flow`, one sends events
    from capi_writeback.auth import Access
    from capi_writeback.contracts.events import SendEventRequest
    from capi_writeback.flow.event_body import OneEvent

OPERATION = "send_event"
LEDGER_DAYS = 7
_MAX_AGE_DAYS = {"physical_store": 62}  # validate.py's ages: what Meta accepts
_OTHER_CONTENT = ("a different event was sent earlier under this event_id; Meta would drop this one as "
                  "a duplicate, so nothing was sent")


def send_event(call: Call, request: SendEventRequest, services: Services | None = None) -> dict[str, Any]:
    """Send one event now (test or live), exactly once when live; see the module docstring."""
    services = services or default_services()
    return audited(services, call, OPERATION, lambda note: _send_event(services, call, request, note))


def _send_event(services: Services, call: Call, request: SendEventRequest, note: Note) -> dict[str, Any]:
    from capi_writeback.flow import parallel
    from capi_writeback.flow.event_body import build_one
    from capi_writeback.rails.event_ledger.ledger import EventClaim

    prefetched = copy.copy(services)  # the same services, reading the prerequisites' items at once
    prefetched.directory = parallel.PrefetchedDirectory(services.directory, call.principal, call.profile_id)
    access = noted_access(prefetched, call, note)
    connection = access.connection
    pixel_id = str(connection["pixel_id"])
    if request.pixel_id is not None and request.pixel_id != pixel_id:
        raise InvalidRequest(
            "pixel_id does not match the profile's Meta connection.",
            fix="Omit pixel_id or pass the pixel id of this profile's connection.",
            details=[{"field": "pixel_id", "message": "does not match the profile connection's pixel id"}])
    now = services.clock()
    one = build_one(request, profile_settings(access.profile), now, pixel_id)
    note.payload_hash = one.content_hash
    note.event_count = 1
    note.window = {"start": iso_ms(one.event_time), "end": iso_ms(one.event_time)}
    if request.test_event_code:
        return _test_send(services, call, str(request.test_event_code), note, access, one)
    note.idempotency_key = one.event_id
    ledger = services.event_ledger
    name = str(one.event["event_name"])
    keep_until = max(now + LEDGER_DAYS * 86400,
                     one.event_time + _MAX_AGE_DAYS.get(str(one.event["action_source"]), 7) * 86400)
    claimed = parallel.start(lambda: ledger.claim(pixel_id, name, one.event_id, one.content_hash,
                                         keep_until=keep_until, deadline=call.deadline))
    breaker = parallel.outcome(parallel.start(lambda: services.breaker.check(access.profile_id)))
    claim = parallel.outcome(claimed)
    if isinstance(breaker, BaseException):
        if isinstance(claim, EventClaim) and claim.kind == "replay":
            return _replay(call, note, claim.result or {}, claim.same_content)  # even while open
        if isinstance(claim, EventClaim):
            ledger.release(claim)  # taken for nothing: the breaker refuses this send
        raise breaker
    if isinstance(claim, BaseException):
        raise claim
    if claim.kind == "replay":
        return _replay(call, note, claim.result or {}, claim.same_content)

    note.failed_status = "failed"
    client = services.meta(connection.get("api_version"))
    try:
        (result,) = client.send(pixel_id, str(connection["secret_id"]), [one.event])
        batch = sending.batch_summary(result)
        if batch["status"] != "accepted":
            raise sending.failure_error([batch], {"operation": OPERATION, "event_id": one.event_id})
    except Exception as exc:
        # Nothing was taken: release the event (the next call sends it again) and feed the breaker.
        parallel.together(lambda: ledger.release(claim),
                          lambda: _breaker_failure(services, access.profile_id))
        if isinstance(exc, SendFailed) or not sending.is_meta_error(exc):
            raise
        raise sending.send_failed(exc, {"operation": OPERATION, "event_id": one.event_id}) from None

    obs.count(obs.EVENTS_SENT, batch["events_received"])
    answer = _result(call, access.profile_id, pixel_id, one, batch, test_event_code=None)
    note.fbtrace_ids = list(batch["fbtrace_ids"])
    kept, _ = parallel.together(lambda: ledger.finish(claim, answer, keep_until=keep_until),
                       lambda: services.breaker.record_success(access.profile_id))
    if not kept:
        # This call outlived its lease and another one took the event over: it was sent (Meta
        # deduplicates the copy within 48 hours); the other call's result is what replays.
        obs.logger.warning("event ledger lease lost after the send", extra={"event_id": one.event_id})
    return answer


def _test_send(services: Services, call: Call, code: str, note: Note, access: Access,
               one: OneEvent) -> dict[str, Any]:
    """A test send (as a dry-run): Meta validates the event with the code; nothing counts."""
    note.failed_status = "failed"
    connection = access.connection
    pixel_id = str(connection["pixel_id"])
    client = services.meta(connection.get("api_version"))
    try:
        (result,) = client.send(pixel_id, str(connection["secret_id"]), [one.event], test_event_code=code)
    except Exception as exc:
        if not sending.is_meta_error(exc):
            raise
        raise sending.send_failed(exc, {"operation": OPERATION, "event_id": one.event_id}) from None
    batch = sending.batch_summary(result)
    if batch["status"] != "accepted":
        raise sending.failure_error([batch], {"operation": OPERATION, "event_id": one.event_id,
                                              "test_event_code": code})
    note.fbtrace_ids = list(batch["fbtrace_ids"])
    return _result(call, access.profile_id, pixel_id, one, batch, test_event_code=code)


def _result(call: Call, profile_id: str, pixel_id: str, one: OneEvent, batch: dict[str, Any], *,
            test_event_code: str | None) -> dict[str, Any]:
    return {
        "operation": OPERATION,
        "request_id": call.request_id,
        "profile_id": profile_id,
        "pixel_id": pixel_id,
        "event_name": one.event["event_name"],
        "event_id": one.event_id,
        "events_received": batch["events_received"],
        "fbtrace_id": batch["fbtrace_id"],
        "messages": list(batch.get("messages") or []),
        "match_quality": one.match_quality,
        "warnings": list(one.warnings),
        "test_event_code": test_event_code,
        "replayed": False,
        "original_request_id": None,
        "event": one.event,
    }


def _replay(call: Call, note: Note, stored: dict[str, Any], same_content: bool) -> dict[str, Any]:
    """The first send's result, marked replayed (nothing sent again)."""
    note.status = "replayed"
    note.fbtrace_ids = [str(stored["fbtrace_id"])] if stored.get("fbtrace_id") else []
    obs.count(obs.REPLAYS)
    warnings = list(stored.get("warnings") or [])
    if not same_content:
        warnings.append(_OTHER_CONTENT)
    return {**stored, "request_id": call.request_id, "replayed": True, "warnings": warnings,
            "original_request_id": stored.get("request_id")}


def _breaker_failure(services: Services, profile_id: str) -> None:
    """A failed live send counts toward the profile's circuit breaker, as a failed confirm does."""
    if services.breaker.record_failure(profile_id):
        obs.count(obs.BREAKER_OPENED)
        obs.logger.warning("circuit breaker opened", extra={"profile_id": profile_id})
