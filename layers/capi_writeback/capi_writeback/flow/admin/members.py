"""Membership: give a user a role, change it, remove it.

Rules: only an owner grants, changes or removes the owner role (an admin cannot demote or remove an
owner, nor make one); the last owner can be neither demoted nor removed. That last rule holds under
concurrent requests: a change that takes a role away from an owner is written together with a bump
of the workspace's owners version, on the condition that the version is still the one the owners
were counted at (`DirectoryAdmin.write_member`); a conflicting request re-reads and re-checks.
Removing a member also revokes their API tokens.
"""

from __future__ import annotations

from typing import Any

from capi_writeback.contracts.admin import MemberPut
from capi_writeback.exceptions import ConcurrentChange, InsufficientRole, LastOwner, MemberNotFound
from capi_writeback.flow.admin.access import (
    WorkspaceAccess,
    admin_directory,
    at_workspace,
    change,
    workspace_access,
)
from capi_writeback.flow.services import Services, default_services
from capi_writeback.flow.trail import Call, Note, audited
from capi_writeback.observability import logger
from capi_writeback.store.directory.base import DirectoryAdmin, DirectoryConflict

ATTEMPTS = 5  # re-reads after a concurrent change before giving up with CONCURRENT_CHANGE


def put_member(call: Call, user_id: str, request: MemberPut,
               services: Services | None = None) -> dict[str, Any]:
    """Add `user_id` with a role, or change their role."""
    services = services or default_services()
    call = at_workspace(call)

    def body(note: Note) -> dict[str, Any]:
        access = workspace_access(services, call, note)
        change(note, user_id=user_id, to=request.role)
        previous = _write(admin_directory(services), access, user_id, request.role, note)
        return {"operation": "member_put", "request_id": call.request_id, "workspace_id": access.workspace_id,
                "user_id": user_id, "role": request.role, "previous_role": previous}

    return audited(services, call, "member_put", body)


def remove_member(call: Call, user_id: str, services: Services | None = None) -> dict[str, Any]:
    """Remove `user_id` from the workspace and revoke their tokens."""
    services = services or default_services()
    call = at_workspace(call)

    def body(note: Note) -> dict[str, Any]:
        access = workspace_access(services, call, note)
        change(note, user_id=user_id)
        directory = admin_directory(services)
        previous = _write(directory, access, user_id, None, note)
        revoked = 0
        for token in directory.list_tokens(access.workspace_id):
            if token.get("user_id") == user_id and directory.delete_token(str(token["token_hash"]),
                                                                          access.workspace_id):
                revoked += 1
        change(note, tokens_revoked=revoked)
        return {"operation": "member_remove", "request_id": call.request_id,
                "workspace_id": access.workspace_id, "user_id": user_id, "role": None,
                "previous_role": previous, "tokens_revoked": revoked}

    return audited(services, call, "member_remove", body)


def _write(directory: DirectoryAdmin, access: WorkspaceAccess, user_id: str, role: str | None,
           note: Note) -> str | None:
    """Apply the change under the rules; the member's previous role."""
    for _ in range(ATTEMPTS):
        members = directory.members(access.workspace_id)
        current = members.roles.get(user_id)
        change(note, **{"from": current})
        if role is None and current is None:
            raise MemberNotFound()
        touches_owner = "owner" in (current, role) and current != role
        if touches_owner and access.role != "owner":
            raise InsufficientRole("Only an owner may grant, change or remove the owner role.",
                                   fix="Ask a workspace owner to do it.")
        if current == role:
            return current  # nothing to change
        if current == "owner" and members.owners == [user_id]:
            raise LastOwner()
        try:
            directory.write_member(access.workspace_id, user_id, role, expected_role=current,
                                   owners_version=members.owners_version if touches_owner else None)
            return current
        except DirectoryConflict:
            logger.info("membership changed meanwhile; reading it again", extra={"user_id": user_id})
    raise ConcurrentChange()
