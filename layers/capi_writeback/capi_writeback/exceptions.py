"""The service's refusals as domain exceptions: what went wrong, never how to say it over HTTP.

The flow, `auth` and the rails raise these (the rails' own live in `rails/<rail>/exceptions.py`,
Meta's in `meta/errors.py`). Each boundary (the HTTP API, the direct Step Functions invocation, the
MCP server) turns any of them into the SPEC §3.3 error through the one table in
`capi_writeback.errors`. A raiser may specialise the `message`, the `fix` and the `details`; left
out, the boundary uses the SPEC defaults of the exception's type. Nothing here may hold raw PII or
a token: messages and details are shown to callers and written to the audit trail.
"""

from __future__ import annotations

from typing import Any


class CapiWritebackError(Exception):
    """Base of every refusal the service gives on purpose (anything else is an internal error)."""

    def __init__(self, message: str | None = None, *, fix: str | None = None,
                 details: Any = None) -> None:
        super().__init__(message or self.__doc__ or type(self).__name__)
        self.message = message
        self.fix = fix
        self.details = details


# --- who is asking, and may they (auth.check_access, in SPEC order) ----------------------------

class AccessError(CapiWritebackError):
    """The caller may not do this."""


class Unauthenticated(AccessError):
    """No authenticated caller: the authorizer context is missing or incomplete."""


class MissingScope(AccessError):
    """The token lacks the scope the operation needs."""


class ProfileNotFound(AccessError):
    """The profile does not exist, or belongs to another workspace."""


class WritebackDisabled(AccessError):
    """The workspace has write-back turned off."""


class InsufficientRole(AccessError):
    """The caller's role in the workspace may not do this."""


class ConnectionInactive(AccessError):
    """The profile has no active Meta connection (pixel id and secret)."""


# --- what is asked (the flow) ------------------------------------------------------------------

class RequestError(CapiWritebackError):
    """The request cannot be carried out as given."""


class InvalidRequest(RequestError):
    """The request is malformed; `details` name each field: [{"field", "message", ...}]."""


class TestEventCodeRequired(RequestError):
    """A dry-run without a test_event_code, and the connection has no default."""


class IdempotencyKeyRequired(RequestError):
    """A confirm without an idempotency_key."""


class PayloadChanged(RequestError):
    """The rebuilt events differ from the preview named by preview_id."""


# --- sending (the flow, after the Meta client answered) ----------------------------------------

class SendFailed(CapiWritebackError):
    """Meta accepted none of the events. `details`: Meta's code, subcode and fbtrace_id, and the
    operation's result (its batches) where there is one. The cause, a `meta.errors.MetaError`, is
    chained when the client raised one."""


class SendRejected(SendFailed):
    """Meta refused the payload or the connection: resending it unchanged will not help."""


class SendUnavailable(SendFailed):
    """Meta kept failing (outage, timeouts, throttling) after the client's retries."""


# --- administration (workspace, members, tokens, profiles, connections) ------------------------

class AdminError(CapiWritebackError):
    """An administrative change that cannot be made as asked."""


class MemberNotFound(AdminError):
    """The user is not a member of the caller's workspace."""


class LastOwner(AdminError):
    """The change would leave the workspace without an owner."""


class TokenNotFound(AdminError):
    """No API token with that id in the caller's workspace (or it has expired)."""


class ProfileExists(AdminError):
    """A profile with that id exists already."""


class ConcurrentChange(AdminError):
    """Someone else changed the same thing at the same moment; nothing was changed."""


class ConnectionRejected(AdminError):
    """Meta refused the connection check (token or pixel). `details`: Meta's code, subcode,
    fbtrace_id and message; `fix`: what to do about that code."""
