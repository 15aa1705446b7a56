"""The workspace itself: read it (settings, you, members), change its settings, read its trail."""

from __future__ import annotations

from typing import Any

from capi_writeback.contracts.admin import WorkspaceSettingsPatch
from capi_writeback.exceptions import InvalidRequest
from capi_writeback.flow.admin.access import READ, admin_directory, at_workspace, change, workspace_access
from capi_writeback.flow.admin.access import workspace_trail as trail_of
from capi_writeback.flow.services import Services, default_services
from capi_writeback.flow.trail import Call, Note, audited
from capi_writeback.rails.audit.exceptions import InvalidCursor

SETTINGS_KEYS = ("name", "writeback_enabled")


def get_workspace(call: Call, services: Services | None = None) -> dict[str, Any]:
    """Settings, the caller (role, scopes), and the members when the caller is an owner or admin."""
    services = services or default_services()
    access = workspace_access(services, call, rule=READ)
    settings = services.directory.get_workspace_settings(access.workspace_id) or {}
    members: list[dict[str, str]] = []
    if access.role in ("owner", "admin"):
        roles = admin_directory(services).members(access.workspace_id).roles
        members = [{"user_id": user, "role": roles[user]} for user in sorted(roles)]
    return {"workspace_id": access.workspace_id, "name": settings.get("name"),
            "writeback_enabled": settings.get("writeback_enabled") is True,
            "you": {"user_id": access.principal.user_id, "role": access.role,
                    "scopes": sorted(access.principal.scopes or ())},
            "members": members}


def update_settings(call: Call, request: WorkspaceSettingsPatch,
                    services: Services | None = None) -> dict[str, Any]:
    """Turn write-back on or off (SPEC §2: only an owner or admin), rename the workspace."""
    services = services or default_services()
    call = at_workspace(call)

    def body(note: Note) -> dict[str, Any]:
        access = workspace_access(services, call, note)
        before = services.directory.get_workspace_settings(access.workspace_id) or {}
        wanted = {k: getattr(request, k) for k in SETTINGS_KEYS if getattr(request, k) is not None}
        after = admin_directory(services).update_workspace_settings(access.workspace_id, wanted)
        change(note, **{k: {"from": before.get(k), "to": after.get(k)} for k in wanted})
        return {"operation": "workspace_settings", "request_id": call.request_id,
                "workspace_id": access.workspace_id, "name": after.get("name"),
                "writeback_enabled": after.get("writeback_enabled") is True}

    return audited(services, call, "workspace_settings", body)


def workspace_audit(call: Call, limit: int, cursor: str | None,
                    services: Services | None = None) -> dict[str, Any]:
    """One page of the workspace's own trail (settings, members, tokens, new profiles), newest first."""
    services = services or default_services()
    access = workspace_access(services, call)
    try:
        rows, next_cursor = services.audit.list(trail_of(access.workspace_id), limit, cursor)
    except InvalidCursor as exc:
        raise InvalidRequest("The pagination cursor is not valid.",
                             fix="Pass the `next` value of the previous page unchanged, or omit it.",
                             details=[{"field": "next", "message": "invalid cursor"}]) from exc
    return {"items": [row.to_dict() for row in rows], "next": next_cursor}
