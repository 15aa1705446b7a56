"""The SPEC §3.3 errors in one place: the table of types, the error body, and the one mapping from
domain exceptions to them.

The flow, `auth` and the rails raise domain exceptions that carry no HTTP status
(`capi_writeback.exceptions`, `rails/<rail>/exceptions.py`; Meta's own in `meta/errors.py`). A
boundary (the HTTP API, the direct Step Functions invocation, the MCP server) turns any exception
into the error it answers with through `to_api_error`: the type comes from `SPEC_TYPES` (walking
the exception's MRO), the status and the default message and fix from `ERRORS`; a message, fix or
details the raiser specialised are kept; anything unknown is INTERNAL and nothing of it is shown.
The audit trail names a refusal with the same type and message (`audit_error`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from capi_writeback import exceptions as ex
from capi_writeback.rails.breaker.exceptions import CircuitOpen
from capi_writeback.rails.event_ledger.exceptions import EventInProgress
from capi_writeback.rails.idempotency.exceptions import InProgress, KeyReused
from capi_writeback.syncs import exceptions as sync_ex


@dataclass(frozen=True)
class ErrorSpec:
    status: int
    message: str
    fix: str


ERRORS: dict[str, ErrorSpec] = {
    "UNAUTHENTICATED": ErrorSpec(
        401, "No valid API token was presented.",
        "Send 'Authorization: Bearer <token>' with an unexpired token of this workspace."),
    "MISSING_SCOPE": ErrorSpec(
        403, "The API token lacks the mcp:write scope.",
        "Create a token with the mcp:write scope and retry."),
    "WRITEBACK_DISABLED": ErrorSpec(
        403, "Write-back is turned off for this workspace.",
        "Ask a workspace admin to enable write-back in the workspace settings."),
    "INSUFFICIENT_ROLE": ErrorSpec(
        403, "Only workspace owners and admins may do this.",
        "Ask an owner or admin to run it, or to grant you the admin role."),
    "META_CONNECTION_INACTIVE": ErrorSpec(
        409, "The profile has no active Meta connection.",
        "Reconnect Meta for this profile (pixel id and access token) and retry."),
    "PROFILE_NOT_FOUND": ErrorSpec(
        404, "No such profile in this workspace.",
        "Check the profile_id; it must belong to the workspace of your token."),
    "VALIDATION_ERROR": ErrorSpec(
        422, "The request is malformed.",
        "Correct the fields named in details and retry."),
    "TEST_EVENT_CODE_REQUIRED": ErrorSpec(
        422, "A dry-run needs a test_event_code and the connection has no default.",
        "Pass test_event_code (from Events Manager > Test events) or set a default on the connection."),
    "IDEMPOTENCY_KEY_REQUIRED": ErrorSpec(
        422, "A confirm needs an idempotency_key.",
        "Pass idempotency_key (1-128 printable characters), the same one on every retry."),
    "IDEMPOTENCY_KEY_REUSED": ErrorSpec(
        409, "This idempotency_key was already used for a different payload.",
        "Use a new idempotency_key for a different set of events."),
    "CONFIRM_IN_PROGRESS": ErrorSpec(
        409, "A confirm with this idempotency_key is running now.",
        "Wait for it to finish, then retry with the same key to get its result."),
    "PAYLOAD_CHANGED": ErrorSpec(
        409, "The events differ from the preview given by preview_id.",
        "Run preview again, review it, and pass the new preview_id."),
    "CIRCUIT_OPEN": ErrorSpec(
        503, "Too many failed confirms for this profile recently; sending is paused.",
        "Fix the cause of the failures, then retry after retry_after seconds or ask an admin to reset "
        "the breaker."),
    "META_REJECTED": ErrorSpec(
        502, "Meta refused the payload.",
        "See details for Meta's code and message; correct the data or connection and retry."),
    "META_UNAVAILABLE": ErrorSpec(
        504, "Meta kept failing after retries.",
        "Retry later with the same idempotency_key; nothing accepted will be sent twice."),
    "MEMBER_NOT_FOUND": ErrorSpec(
        404, "No such member in this workspace.",
        "Check the user_id, or add the user first with PUT /v1/workspace/members/{user_id}."),
    "TOKEN_NOT_FOUND": ErrorSpec(
        404, "No such API token in this workspace.",
        "List the workspace's tokens with GET /v1/tokens and use one of their token_id values."),
    "PROFILE_EXISTS": ErrorSpec(
        409, "A profile with this profile_id exists already.",
        "Choose another profile_id, or leave it out to have one generated."),
    "LAST_OWNER": ErrorSpec(
        409, "The workspace must keep at least one owner.",
        "Make another member an owner first, then change or remove this one."),
    "CONCURRENT_CHANGE": ErrorSpec(
        409, "The same thing was changed by another request at the same moment; nothing was changed.",
        "Read the current state again and retry."),
    "META_CONNECTION_REJECTED": ErrorSpec(
        422, "Meta refused the connection check: the access token or the pixel id is not valid.",
        "See details for Meta's code; generate a token in Events Manager for this pixel and connect again."),
    "SYNC_NOT_FOUND": ErrorSpec(
        404, "No such sync for this profile.",
        "Check the sync_id: GET /v1/profiles/{profile_id}/syncs lists the profile's syncs."),
    "SYNC_RUN_NOT_FOUND": ErrorSpec(
        404, "No such run of this sync (runs are kept 30 days).",
        "Check the run_id: GET .../syncs/{sync_id}/runs lists the sync's runs."),
    "SYNC_RUN_IN_PROGRESS": ErrorSpec(
        409, "A run of this sync is in progress; a second one is not started.",
        "Wait for the run named in details to finish (GET .../runs/{run_id}), then start another."),
    "SYNC_DISABLED": ErrorSpec(
        409, "The sync is disabled: its schedule is paused and runs are refused.",
        "Enable it (PATCH .../syncs/{sync_id} with enabled: true), then start the run."),
    "SYNC_CHANGED": ErrorSpec(
        409, "The sync was changed by someone else while you changed it; nothing was saved.",
        "Read it again (GET .../syncs/{sync_id}) and repeat your change."),
    "NOT_FOUND": ErrorSpec(
        404, "No such route.",
        "Check the method and path against /v1/openapi.json."),
    # Answered by API Gateway itself (stage throttling), never by a function; listed so every
    # error body the API can give is in this table.
    "THROTTLED": ErrorSpec(
        429, "Too many requests.",
        "Slow down and retry after a second."),
    # Answered by API Gateway itself when a function runs past its 29 s integration timeout; the
    # function carries on, so a confirm still completes and its result can be fetched by key.
    "GATEWAY_TIMEOUT": ErrorSpec(
        504, "The API stopped waiting after 29 seconds; the request is still being processed.",
        "The confirm continues: call again with the same idempotency_key for its result (a preview "
        "or dry-run: retry, or select fewer rows)."),
    "INTERNAL": ErrorSpec(
        500, "An unexpected error occurred.",
        "Retry; if it persists, report the request_id."),
}


@dataclass(frozen=True)
class ApiError:
    """A refusal as every boundary shows it: SPEC type, message, fix, optional details, and
    `retry_after` seconds for CIRCUIT_OPEN (the body field and the Retry-After header)."""

    type: str
    message: str
    fix: str
    details: Any = None
    retry_after: int | None = None

    @classmethod
    def of(cls, type: str, message: str | None = None, *, fix: str | None = None, details: Any = None,
           retry_after: int | None = None) -> ApiError:
        """The error of SPEC type `type`, with its default message and fix unless given."""
        spec = ERRORS[type]
        return cls(type, message or spec.message, fix or spec.fix, details, retry_after)

    @property
    def status(self) -> int:
        return ERRORS[self.type].status

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}

    def body(self, request_id: str | None) -> dict[str, Any]:
        """The SPEC §3.3 error body."""
        error: dict[str, Any] = {
            "type": self.type,
            "message": self.message,
            "fix": self.fix,
            "request_id": request_id,
        }
        if self.details is not None:
            error["details"] = self.details
        if self.retry_after is not None:
            error["retry_after"] = self.retry_after
        return {"error": error}


# Domain exception -> SPEC type. The most specific class listed in an exception's MRO wins.
SPEC_TYPES: dict[type[BaseException], str] = {
    ex.Unauthenticated: "UNAUTHENTICATED",
    ex.MissingScope: "MISSING_SCOPE",
    ex.ProfileNotFound: "PROFILE_NOT_FOUND",
    ex.WritebackDisabled: "WRITEBACK_DISABLED",
    ex.InsufficientRole: "INSUFFICIENT_ROLE",
    ex.ConnectionInactive: "META_CONNECTION_INACTIVE",
    ex.InvalidRequest: "VALIDATION_ERROR",
    ex.TestEventCodeRequired: "TEST_EVENT_CODE_REQUIRED",
    ex.IdempotencyKeyRequired: "IDEMPOTENCY_KEY_REQUIRED",
    ex.PayloadChanged: "PAYLOAD_CHANGED",
    ex.SendRejected: "META_REJECTED",
    ex.SendUnavailable: "META_UNAVAILABLE",
    ex.MemberNotFound: "MEMBER_NOT_FOUND",
    ex.TokenNotFound: "TOKEN_NOT_FOUND",
    ex.ProfileExists: "PROFILE_EXISTS",
    ex.LastOwner: "LAST_OWNER",
    ex.ConcurrentChange: "CONCURRENT_CHANGE",
    ex.ConnectionRejected: "META_CONNECTION_REJECTED",
    KeyReused: "IDEMPOTENCY_KEY_REUSED",
    InProgress: "CONFIRM_IN_PROGRESS",
    EventInProgress: "CONFIRM_IN_PROGRESS",  # the same single event, being sent now (SPEC §8)
    CircuitOpen: "CIRCUIT_OPEN",
    sync_ex.SyncNotFound: "SYNC_NOT_FOUND",
    sync_ex.RunNotFound: "SYNC_RUN_NOT_FOUND",
    sync_ex.RunInProgress: "SYNC_RUN_IN_PROGRESS",
    sync_ex.SyncDisabled: "SYNC_DISABLED",
    sync_ex.SyncChanged: "SYNC_CHANGED",
}


def spec_type(exc: BaseException) -> str:
    """The SPEC type of an exception: its most specific class in SPEC_TYPES, a Meta client error by
    `meta.errors.is_outage`, else INTERNAL."""
    for cls in type(exc).__mro__:
        found = SPEC_TYPES.get(cls)
        if found is not None:
            return found
    meta = _meta_errors()
    if meta is not None and isinstance(exc, meta.MetaError):
        return "META_UNAVAILABLE" if meta.is_outage(exc) else "META_REJECTED"
    return "INTERNAL"


def _meta_errors() -> Any:
    """`capi_writeback.meta.errors` if it is loaded. A Meta error can only exist once it is, and
    importing it here would load the Meta client (urllib3) into every function's cold start."""
    return sys.modules.get("capi_writeback.meta.errors")


def to_api_error(exc: BaseException) -> ApiError:
    """Any exception as the error a boundary answers with (INTERNAL shows nothing of `exc`)."""
    kind = spec_type(exc)
    if kind == "INTERNAL":
        return ApiError.of(kind)
    meta = _meta_errors()
    if meta is not None and isinstance(exc, meta.MetaError):  # the client's own, not wrapped by the flow
        return ApiError.of(kind, fix=exc.fix, details=meta.caller_details(exc))
    retry_after = exc.retry_after if isinstance(exc, CircuitOpen) else None
    return ApiError.of(kind, getattr(exc, "message", None), fix=getattr(exc, "fix", None),
                       details=getattr(exc, "details", None), retry_after=retry_after)


def audit_error(exc: BaseException) -> dict[str, Any] | None:
    """The `error` of an audit row for a refusal: SPEC type and message, plus Meta's code, subcode
    and fbtrace_id when the details hold them; None when `exc` is no refusal (an internal error)."""
    kind = spec_type(exc)
    if kind == "INTERNAL":
        return None
    error = to_api_error(exc)
    described: dict[str, Any] = {"type": kind, "message": error.message}
    if isinstance(error.details, dict):
        described.update({k: error.details[k] for k in ("code", "subcode", "fbtrace_id")
                          if k in error.details})
    return described
