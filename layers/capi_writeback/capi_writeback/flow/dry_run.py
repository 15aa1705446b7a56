"""Step 2 of SPEC §1: send the events with a test_event_code; Meta validates them, nothing counts.

A dry-run is audited as `refused` until it starts sending, then as `failed` if Meta accepted none
of it (SendRejected / SendUnavailable), `partially_failed` if some, else `succeeded`.
"""

from __future__ import annotations

from typing import Any

from capi_writeback.contracts.writeback import DryRunRequest
from capi_writeback.exceptions import TestEventCodeRequired
from capi_writeback.flow import sending
from capi_writeback.flow.selection import build
from capi_writeback.flow.services import Services, default_services
from capi_writeback.flow.trail import Call, Note, audited, noted_access


def dry_run(call: Call, request: DryRunRequest, services: Services | None = None) -> dict[str, Any]:
    """Prerequisites → test code → build → send with the code → Meta's verdict → audit."""
    services = services or default_services()

    def body(note: Note) -> dict[str, Any]:
        note.failed_status = "refused"
        access = noted_access(services, call, note)
        code = request.test_event_code or access.connection.get("test_event_code")
        if not code:
            raise TestEventCodeRequired()
        built = build(services, access, request, note)
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
            raise sending.failure_error(batches, {"operation": "dry_run",
                                                  "batches": sending.public_batches(batches)})
        if batches and sending.overall_status(batches) != "succeeded":
            note.status = "partially_failed"
        return response

    return audited(services, call, "dry_run", body)
