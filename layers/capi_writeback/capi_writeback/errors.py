"""The API's typed errors (SPEC §3.3), in one place.

Every refusal the service gives is an `ApiError` subclass whose class attribute `type` is the SPEC
error type. Its HTTP status and default `message`/`fix` come from `ERRORS`, so a handler, a Step
Functions task and the audit trail all describe a refusal the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


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


class ApiError(Exception):
    """A typed refusal. Subclasses set `type`; `message`, `fix` and `details` may be specialised."""

    type: ClassVar[str] = "INTERNAL"

    def __init__(
        self,
        message: str | None = None,
        *,
        fix: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        spec = ERRORS[self.type]
        self.message = message or spec.message
        self.fix = fix or spec.fix
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)

    @property
    def status(self) -> int:
        return ERRORS[self.type].status

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
        return {"error": error}


class Unauthenticated(ApiError):
    type = "UNAUTHENTICATED"


class MissingScope(ApiError):
    type = "MISSING_SCOPE"


class WritebackDisabled(ApiError):
    type = "WRITEBACK_DISABLED"


class InsufficientRole(ApiError):
    type = "INSUFFICIENT_ROLE"


class MetaConnectionInactive(ApiError):
    type = "META_CONNECTION_INACTIVE"


class ProfileNotFound(ApiError):
    type = "PROFILE_NOT_FOUND"


class ValidationFailed(ApiError):
    type = "VALIDATION_ERROR"


class TestEventCodeRequired(ApiError):
    type = "TEST_EVENT_CODE_REQUIRED"


class IdempotencyKeyRequired(ApiError):
    type = "IDEMPOTENCY_KEY_REQUIRED"


class IdempotencyKeyReused(ApiError):
    type = "IDEMPOTENCY_KEY_REUSED"


class ConfirmInProgress(ApiError):
    type = "CONFIRM_IN_PROGRESS"


class PayloadChanged(ApiError):
    type = "PAYLOAD_CHANGED"


class MetaRejected(ApiError):
    type = "META_REJECTED"


class MetaUnavailable(ApiError):
    type = "META_UNAVAILABLE"


class NotFound(ApiError):
    type = "NOT_FOUND"


class Internal(ApiError):
    type = "INTERNAL"


class CircuitOpen(ApiError):
    """Breaker open: carries `retry_after` seconds (body field and Retry-After header)."""

    type = "CIRCUIT_OPEN"

    def __init__(self, retry_after: int, **kwargs: Any) -> None:
        self.retry_after = max(1, int(retry_after))
        kwargs.setdefault("headers", {"Retry-After": str(self.retry_after)})
        super().__init__(**kwargs)

    def body(self, request_id: str | None) -> dict[str, Any]:
        body = super().body(request_id)
        body["error"]["retry_after"] = self.retry_after
        return body


def error_for(type_name: str) -> type[ApiError]:
    """The ApiError subclass for a SPEC error type (for code that only knows the name)."""
    for cls in ApiError.__subclasses__():
        if cls.type == type_name:
            return cls
    raise KeyError(type_name)
