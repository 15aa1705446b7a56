"""Exactly one audit row per operation, refused and failed ones included (SPEC §6).

Each operation runs inside `audited(...)`: the operation fills in a `Note` as it learns things
(workspace, payload hash, event count, window, key, pixel, fbtrace ids, status) and `audited` writes
the row once, whether the operation returned or raised. A row is written only once the profile is
known to belong to the caller's workspace: an unknown profile id has no audit trail to write to, and
another workspace's trail must not be written by a stranger. Rows carry ids, hashes and counts only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from capi_writeback.auth import ADMIN_ROLES, WRITE_SCOPE, Access, Principal, check_access, find_profile
from capi_writeback.errors import audit_error
from capi_writeback.exceptions import CapiWritebackError
from capi_writeback.flow.services import Services
from capi_writeback.observability import logger

T = TypeVar("T")
Via = Literal["api", "step_functions", "mcp"]

__all__ = ["Call", "Note", "Via", "audited", "noted_access", "record_refusal"]


@dataclass(frozen=True)
class Call:
    """Who asks for what, under which request id (no AWS event shapes beyond this).

    `via`: how the call came in (recorded in its audit row). `deadline`: when the invocation
    serving the call will be stopped, in unix seconds on the services' clock (None when not known:
    local tools, tests); the confirm's lease follows it.
    """

    principal: Principal
    profile_id: str
    request_id: str | None
    via: Via = "api"
    deadline: float | None = None


@dataclass
class Note:
    """What the audit row of an operation will say; filled in while the operation runs."""

    workspace_id: str | None = None
    payload_hash: str | None = None
    event_count: int = 0
    window: dict[str, Any] | None = None
    idempotency_key: str | None = None
    pixel_id: str | None = None
    fbtrace_ids: list[str] = field(default_factory=list)
    status: str = "succeeded"
    failed_status: str = "refused"
    error: dict[str, Any] | None = None
    match_quality: dict[str, int] | None = None
    change: dict[str, Any] | None = None


def noted_access(services: Services, call: Call, note: Note, *, roles: frozenset[str] = ADMIN_ROLES,
                 writeback: bool = True, connection: bool = True,
                 scopes: tuple[str, ...] = (WRITE_SCOPE,)) -> Access:
    """The prerequisites of an audited operation (`auth.check_access`, scope mcp:write unless
    `scopes` says otherwise). The note learns the workspace and pixel first, so refusals on a profile
    of the caller's are audited too."""
    profile = find_profile(services.directory, call.principal, call.profile_id)
    if profile is not None:
        note.workspace_id = str(profile.get("workspace_id"))
        note.pixel_id = _pixel_id(profile)
    return check_access(services.directory, call.principal, call.profile_id, scopes=scopes,
                        roles=roles, writeback=writeback, connection=connection, profile=profile)


def _pixel_id(profile: Mapping[str, Any]) -> str | None:
    connection = profile.get("connection")
    pixel_id = connection.get("pixel_id") if isinstance(connection, Mapping) else None
    return str(pixel_id) if pixel_id else None


def audited(services: Services, call: Call, operation: str, body: Callable[[Note], T]) -> T:
    """Run `body`, then append the operation's single audit row (also when `body` raised)."""
    note = Note()
    try:
        result = body(note)
    except Exception as exc:
        refusal = audit_error(exc)
        if refusal is not None:
            note.status = note.failed_status
            note.error = refusal
            _append(services, call, operation, note)
            raise
        note.status = "error"
        note.error = {"type": "INTERNAL", "message": type(exc).__name__}
        try:
            _append(services, call, operation, note)
        except Exception:  # the original failure matters more than the audit write
            logger.exception("audit append failed after an internal error")
        raise
    _append(services, call, operation, note)
    return result


def record_refusal(services: Services, call: Call, operation: str, error: CapiWritebackError) -> None:
    """The audit row of a step refused before it started (a malformed request), when the profile is
    the caller's. Never raises: the refusal itself is the answer that matters."""
    try:
        profile = find_profile(services.directory, call.principal, call.profile_id)
        if profile is None:
            return
        note = Note(workspace_id=str(profile.get("workspace_id")), status="refused",
                    pixel_id=_pixel_id(profile), error=audit_error(error))
        _append(services, call, operation, note)
    except Exception:
        logger.exception("audit of a refused request failed")


def _append(services: Services, call: Call, operation: str, note: Note) -> None:
    if note.workspace_id is None:
        return  # profile unknown (or another workspace's): nothing to attribute the row to
    from capi_writeback.rails.audit.log import AuditRow

    row = AuditRow.new(
        clock=services.clock,
        profile_id=call.profile_id,
        workspace_id=note.workspace_id,
        actor=call.principal.user_id,
        operation=operation,
        request_id=call.request_id,
        payload_hash=note.payload_hash,
        event_count=note.event_count,
        window=note.window,
        idempotency_key=note.idempotency_key,
        pixel_id=note.pixel_id,
        fbtrace_ids=list(note.fbtrace_ids),
        status=note.status,
        error=note.error,
        via=call.via,
        match_quality=note.match_quality,
        change=note.change,
    )
    services.audit.append(row)
    logger.info("audit row written", extra={"operation": operation, "status": note.status,
                                            "audit_id": row.audit_id, "event_count": note.event_count})
