"""Reading the audit trail: scope mcp:read or mcp:write, owners and admins (SPEC §6)."""

from __future__ import annotations

from typing import Any

from capi_writeback.auth import READ_SCOPE, WRITE_SCOPE, check_access
from capi_writeback.exceptions import InvalidRequest
from capi_writeback.flow.services import Services, default_services
from capi_writeback.flow.trail import Call
from capi_writeback.rails.audit.exceptions import InvalidCursor

MAX_AUDIT_PAGE = 100


def list_audit(call: Call, limit: int, cursor: str | None,
               services: Services | None = None) -> dict[str, Any]:
    """One page of the profile's audit rows, newest first, and the cursor of the next (`next`)."""
    services = services or default_services()
    access = check_access(services.directory, call.principal, call.profile_id,
                          scopes=(READ_SCOPE, WRITE_SCOPE), writeback=False, connection=False)
    try:
        rows, next_cursor = services.audit.list(access.profile_id, limit, cursor)
    except InvalidCursor as exc:
        raise InvalidRequest("The pagination cursor is not valid.",
                             fix="Pass the `next` value of the previous page unchanged, or omit it.",
                             details=[{"field": "next", "message": "invalid cursor"}]) from exc
    return {"items": [row.to_dict() for row in rows], "next": next_cursor}
