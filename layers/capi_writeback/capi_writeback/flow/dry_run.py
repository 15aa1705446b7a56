"""Step 2 of SPEC §1: send the events with a test_event_code; Meta validates them, nothing counts.

The events go out as the build fills each batch of 1,000 (at most the client's concurrency in
flight), so memory stays flat whatever the selection. With a `preview_id` the whole payload is built
and hashed first (spooled to local disk), and nothing is sent if it changed since the preview
(PAYLOAD_CHANGED).

A dry-run is audited as `refused` until it starts sending, then as `failed` if Meta accepted none
of it (SendRejected / SendUnavailable), `partially_failed` if some, else `succeeded`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from capi_writeback.contracts.writeback import DryRunRequest
from capi_writeback.exceptions import TestEventCodeRequired
from capi_writeback.flow import sending
from capi_writeback.flow.selection import Build, Built
from capi_writeback.flow.services import Services, default_services
from capi_writeback.flow.trail import Call, Note, audited, noted_access

if TYPE_CHECKING:
    from capi_writeback.meta.encoding import EncodedBatch
    from capi_writeback.meta.results import BatchResult


def dry_run(call: Call, request: DryRunRequest, services: Services | None = None) -> dict[str, Any]:
    """Prerequisites → test code → build and send with the code → Meta's verdict → audit."""
    services = services or default_services()

    def body(note: Note) -> dict[str, Any]:
        note.failed_status = "refused"
        access = noted_access(services, call, note)
        code = request.test_event_code or access.connection.get("test_event_code")
        if not code:
            raise TestEventCodeRequired()
        selected = Build(services, access, request, note)
        client = services.meta(access.connection.get("api_version"))

        def send(batches: Iterable[EncodedBatch]) -> list[BatchResult]:
            def started() -> None:
                note.failed_status = "failed"

            try:
                return sending.send_batches(client, access.connection, batches, test_event_code=str(code),
                                            started=started)
            except Exception as exc:
                if not sending.is_meta_error(exc):
                    raise
                raise sending.send_failed(exc, {"operation": "dry_run"}) from None

        if request.preview_id is None:
            results = send(selected.batches())  # sent as the batches fill
            built = selected.built()
        else:
            from capi_writeback.flow.batches import Spool

            with Spool() as spool:
                spool.fill(selected.batches())
                built = selected.built()  # PAYLOAD_CHANGED here: nothing was sent
                results = send(spool.batches())
        return _verdict(call, note, built, str(code), results)

    return audited(services, call, "dry_run", body)


def _verdict(call: Call, note: Note, built: Built, code: str, results: list[BatchResult]) -> dict[str, Any]:
    batches = [sending.batch_summary(r) for r in results]
    messages = [str(m) for r in results for m in (getattr(r, "messages", None) or [])]
    fbtrace_ids = [t for b in batches for t in b["fbtrace_ids"]]
    note.fbtrace_ids = fbtrace_ids
    response = {
        "operation": "dry_run",
        "request_id": call.request_id,
        "preview_id": built.preview_id,
        "payload_hash": built.payload_hash,
        "test_event_code": code,
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
        raise sending.failure_error(batches, {"operation": "dry_run",
                                              "batches": sending.public_batches(batches)})
    if batches and sending.overall_status(batches) != "succeeded":
        note.status = "partially_failed"
    return response
