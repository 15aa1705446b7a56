"""Who may administer what, in one place: the scopes and roles of every administrative operation,
the workspace trail, and the rank rule (an admin cannot act on owners or other admins).

| operation | scope | roles |
|---|---|---|
| read the workspace, profiles, match quality | mcp:read, mcp:write or admin | any member |
| change settings, members, tokens, profiles, connections | admin | owner, admin |
| read tokens and the workspace trail | admin | owner, admin |

Only an owner may grant, change or remove the owner role, and issue or revoke an owner's or another
admin's tokens; the last owner cannot be demoted or removed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from capi_writeback.auth import (
    ADMIN_ROLES,
    ADMIN_SCOPE,
    ALL_ROLES,
    ANY_SCOPE,
    ROLES,
    Access,
    Principal,
    require_member,
)
from capi_writeback.exceptions import InsufficientRole, Unauthenticated
from capi_writeback.flow.services import Services
from capi_writeback.flow.trail import Call, Note, noted_access
from capi_writeback.store.directory.base import DirectoryAdmin

READ = (ANY_SCOPE, ALL_ROLES)      # (scopes, roles) of the reads
CHANGE = ((ADMIN_SCOPE,), ADMIN_ROLES)  # of every change
WORKSPACE_TRAIL = "workspace#"     # '#' is never in a profile id: no profile's trail can collide


def workspace_trail(workspace_id: str) -> str:
    """The audit partition of a workspace's own changes."""
    return WORKSPACE_TRAIL + workspace_id


def workspace_id_of(call: Call) -> str:
    workspace_id = call.principal.workspace_id
    if not workspace_id:
        raise Unauthenticated()
    return workspace_id


def at_workspace(call: Call) -> Call:
    """The call, audited in its workspace's trail."""
    return dataclasses.replace(call, profile_id=workspace_trail(workspace_id_of(call)))


@dataclass(frozen=True)
class WorkspaceAccess:
    principal: Principal
    workspace_id: str
    role: str


def workspace_access(services: Services, call: Call, note: Note | None = None, *,
                     rule: tuple[tuple[str, ...], frozenset[str]] = CHANGE) -> WorkspaceAccess:
    """MISSING_SCOPE, then INSUFFICIENT_ROLE, for a workspace-level operation. The note learns the
    workspace first: the caller's token belongs to it, so even a refusal is the workspace's to audit."""
    workspace_id = workspace_id_of(call)
    if note is not None:
        note.workspace_id = workspace_id
    scopes, roles = rule
    role = require_member(services.directory, call.principal, scopes=scopes, roles=roles)
    return WorkspaceAccess(call.principal, workspace_id, role)


def profile_change_access(services: Services, call: Call, note: Note) -> Access:
    """A profile-level change (settings, connection): admin scope, owner or admin, in SPEC order;
    neither write-back nor an active connection is needed."""
    scopes, roles = CHANGE
    return noted_access(services, call, note, scopes=scopes, roles=roles, writeback=False, connection=False)


def admin_directory(services: Services) -> DirectoryAdmin:
    """The directory with its administrative writes (both backends have them)."""
    return cast(DirectoryAdmin, services.directory)


def rank(role: str | None) -> int:
    """0 for owner, 1 admin, 2 member, 3 viewer, 4 for no role."""
    return ROLES.index(role) if role in ROLES else len(ROLES)


def require_outranks(access: WorkspaceAccess, target_user: str, target_role: str | None, what: str) -> None:
    """Owners act on anyone; an admin only on itself and on members and viewers."""
    if access.role == "owner" or target_user == access.principal.user_id:
        return
    if rank(target_role) <= rank("admin"):
        raise InsufficientRole(
            f"Only an owner may {what} of an owner or another admin.",
            fix="Ask a workspace owner to do it.")


def change(note: Note, **values: Any) -> None:
    """What the audit row will say was changed (ids, roles, scopes; never a secret)."""
    note.change = {**(note.change or {}), **{k: v for k, v in values.items() if v is not None}}


def iso(ts: float | int | None) -> str | None:
    from capi_writeback.rails.audit.log import iso_ms

    return iso_ms(float(ts)) if ts is not None else None


def plain(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}
