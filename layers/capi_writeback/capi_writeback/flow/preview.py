"""Step 1 of SPEC §1: build the selection's events and show them; nothing is sent to Meta.

The build streams (flow/selection.py): a preview of a million rows holds what a preview of ten
holds: counts, match quality, the first skipped rows, warnings, three sample events, the hash."""

from __future__ import annotations

from typing import Any

from capi_writeback.contracts.writeback import PreviewRequest
from capi_writeback.flow.selection import build
from capi_writeback.flow.services import Services, default_services
from capi_writeback.flow.trail import Call, Note, audited, noted_access

SAMPLE_EVENTS = 3


def preview(call: Call, request: PreviewRequest, services: Services | None = None) -> dict[str, Any]:
    """Prerequisites → build (pixel, preview_id) → the events in numbers and three samples → audit."""
    services = services or default_services()

    def body(note: Note) -> dict[str, Any]:
        access = noted_access(services, call, note)
        built = build(services, access, request, note)
        return {
            "operation": "preview",
            "request_id": call.request_id,
            "preview_id": built.preview_id,
            "payload_hash": built.payload_hash,
            "event_count": built.event_count,
            "events_by_name": dict(built.events_by_name),
            "window": built.window,
            "sample_events": built.sample_events[:SAMPLE_EVENTS],
            "match_quality": dict(built.match_quality),
            "skipped": built.skipped(),
            "skipped_count": built.skipped_count,
            "warnings": built.warnings(),
        }

    return audited(services, call, "preview", body)
