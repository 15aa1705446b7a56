"""Everything the MCP server uses from the shared `capi_writeback` layer, imported in this one module.

The MCP function calls the same flow as the HTTP handlers (prerequisites, rails, audit rows), through
its public names only. Keeping every import of the layer here means a restructuring of the layer is
re-pointed in one place:
- request models are in `capi_writeback.api.models` today (moving to `capi_writeback.contracts`);
- `to_api_error` is `capi_writeback.api.errors.as_api_error` today (moving to
  `capi_writeback.errors.to_api_error`);
- `Call` gains `via`; `new_call` passes `via="mcp"` as soon as the field exists.
"""

from __future__ import annotations

import dataclasses

from capi_writeback import flow
from capi_writeback import observability as obs
from capi_writeback.api.errors import as_api_error as to_api_error
from capi_writeback.api.errors import validation_details
from capi_writeback.api.models import (
    AuditPage,
    ConfirmRequest,
    ConfirmResponse,
    DryRunRequest,
    DryRunResponse,
    PreviewRequest,
    PreviewResponse,
    Selection,
)
from capi_writeback.auth import Principal
from capi_writeback.errors import ApiError, Internal, Unauthenticated, ValidationFailed
from capi_writeback.flow import Call, confirm, dry_run, list_audit, preview
from capi_writeback.flow.admin import MAX_AUDIT_PAGE

__all__ = [
    "MAX_AUDIT_PAGE",
    "ApiError",
    "AuditPage",
    "Call",
    "ConfirmRequest",
    "ConfirmResponse",
    "DryRunRequest",
    "DryRunResponse",
    "Internal",
    "PreviewRequest",
    "PreviewResponse",
    "Principal",
    "Selection",
    "Unauthenticated",
    "ValidationFailed",
    "confirm",
    "dry_run",
    "list_audit",
    "new_call",
    "obs",
    "preview",
    "record_refusal",
    "to_api_error",
    "validation_details",
]

VIA = "mcp"
_CALL_FIELDS = frozenset(f.name for f in dataclasses.fields(Call))


def new_call(principal: Principal, profile_id: str, request_id: str | None) -> Call:
    """The flow's `Call` for a tool call: the one place it is built, so every audit row written for
    an MCP call says it came through MCP (`via="mcp"`) once the flow's `Call` carries that field."""
    if "via" in _CALL_FIELDS:
        return Call(principal=principal, profile_id=profile_id, request_id=request_id,
                    via=VIA)  # type: ignore[call-arg]
    return Call(principal=principal, profile_id=profile_id, request_id=request_id)


def record_refusal(call: Call, operation: str, error: ApiError) -> None:
    """The audit row of a step refused before it started (malformed arguments), as over HTTP."""
    flow.record_refusal(flow.default_services(), call, operation, error)
