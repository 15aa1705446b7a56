"""Everything the MCP server uses from the shared `capi_writeback` layer, imported in this one module.

The MCP function calls the same flow as the HTTP handlers (prerequisites, rails, audit rows), through
its public names only: request/response models from `capi_writeback.contracts`, refusals as domain
exceptions (`capi_writeback.exceptions`) mapped to SPEC errors by `capi_writeback.errors.to_api_error`,
and a `Call` that says it came through MCP (`via="mcp"`).
"""

from __future__ import annotations

from capi_writeback import flow
from capi_writeback import observability as obs
from capi_writeback.api.errors import validation_details
from capi_writeback.api.markdown import send_event as send_event_markdown
from capi_writeback.auth import Principal
from capi_writeback.contracts.common import PROFILE_ID_MAX_LENGTH, PROFILE_ID_PATTERN
from capi_writeback.contracts.events import SendEventRequest, SendEventResponse
from capi_writeback.contracts.whoami import WhoamiResponse
from capi_writeback.contracts.writeback import (
    AuditPage,
    ConfirmRequest,
    ConfirmResponse,
    DryRunRequest,
    DryRunResponse,
    PreviewRequest,
    PreviewResponse,
    Selection,
)
from capi_writeback.errors import ApiError, to_api_error
from capi_writeback.exceptions import CapiWritebackError, InvalidRequest, Unauthenticated
from capi_writeback.flow import Call, confirm, dry_run, list_audit, preview, send_event, whoami
from capi_writeback.flow.audit import MAX_AUDIT_PAGE

__all__ = [
    "MAX_AUDIT_PAGE",
    "PROFILE_ID_MAX_LENGTH",
    "PROFILE_ID_PATTERN",
    "ApiError",
    "AuditPage",
    "Call",
    "CapiWritebackError",
    "ConfirmRequest",
    "ConfirmResponse",
    "DryRunRequest",
    "DryRunResponse",
    "InvalidRequest",
    "PreviewRequest",
    "PreviewResponse",
    "Principal",
    "Selection",
    "SendEventRequest",
    "SendEventResponse",
    "Unauthenticated",
    "WhoamiResponse",
    "confirm",
    "dry_run",
    "internal_error",
    "list_audit",
    "new_call",
    "obs",
    "only_profile",
    "preview",
    "profile_for_pixel",
    "record_refusal",
    "send_event",
    "send_event_markdown",
    "to_api_error",
    "validation_details",
    "whoami",
]


def new_call(principal: Principal, profile_id: str, request_id: str | None) -> Call:
    """The flow's `Call` for a tool call: the one place it is built, so every audit row written for
    an MCP call says it came through MCP."""
    return Call(principal=principal, profile_id=profile_id, request_id=request_id, via="mcp")


def internal_error() -> ApiError:
    """The SPEC INTERNAL error (nothing of the cause is shown)."""
    return ApiError.of("INTERNAL")


def record_refusal(call: Call, operation: str, error: CapiWritebackError) -> None:
    """The audit row of a step refused before it started (malformed arguments), as over HTTP."""
    flow.record_refusal(flow.default_services(), call, operation, error)


def profile_for_pixel(principal: Principal, pixel_id: str) -> str:
    """The caller's profile connected to `pixel_id` (meta_send_conversion_event names a pixel)."""
    from capi_writeback.flow.profiles import profile_for_pixel as find

    return find(flow.default_services(), principal, pixel_id)


def only_profile(principal: Principal) -> str:
    """The workspace's one profile (send_meta_conversions without profile_id)."""
    from capi_writeback.flow.profiles import only_profile as find

    return find(flow.default_services(), principal)
