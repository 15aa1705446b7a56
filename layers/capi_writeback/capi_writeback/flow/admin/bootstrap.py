"""The first workspace of a deployment, its owner and a first owner token (SPEC §11.1), made by
`capi-writeback admin bootstrap` with the caller's AWS credentials (no API exists to call yet).

The workspace id is derived from its name (`ws_` + a slug), so a second run with the same name finds
it and creates nothing: the workspace, the membership and the token are written in one transaction
that fails as a whole when the workspace exists. Write-back starts off. The token carries every
scope (`mcp:read mcp:write admin`) and is returned once; only its SHA-256 is stored. The bootstrap
is audited in the workspace's trail (via `cli`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from capi_writeback.auth import SCOPES, token_hash
from capi_writeback.flow.admin.access import workspace_trail
from capi_writeback.flow.admin.tokens import DAY, new_token
from capi_writeback.rails.audit.log import AuditLog, AuditRow
from capi_writeback.rails.clock import Clock
from capi_writeback.store.directory.base import DirectoryAdmin, DirectoryConflict, public_token, token_item

USER_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
OWNER_SCOPES = tuple(sorted(SCOPES))


def workspace_id_for(name: str) -> str:
    """`ws_` + the name in lower-case ASCII letters, digits and dashes (a hash for names with none)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:48].strip("-")
    return "ws_" + (slug or hashlib.sha256(name.strip().encode()).hexdigest()[:12])


@dataclass(frozen=True)
class Bootstrapped:
    """What the bootstrap made (`token` is the only copy of the raw token), or found (`created` False)."""

    workspace_id: str
    workspace_name: str
    owner: str
    created: bool
    token: str | None = None
    token_info: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return (f"Bootstrapped(workspace_id={self.workspace_id!r}, owner={self.owner!r}, "
                f"created={self.created}, token='***')")


def bootstrap(directory: DirectoryAdmin, audit: AuditLog, clock: Clock, *, name: str, owner: str,
              token_days: int = 90) -> Bootstrapped:
    """Create the workspace, its owner and the owner's token, or find the workspace by name."""
    name = name.strip()
    if not name or len(name) > 128:
        raise ValueError("the workspace name must have 1 to 128 characters")
    if not USER_ID.fullmatch(owner):
        raise ValueError("the owner's user id must be 1-128 letters, digits or . _ : - (no e-mail address)")
    if not 1 <= token_days <= 365:
        raise ValueError("the token must expire within 1 to 365 days")
    workspace_id = workspace_id_for(name)
    token = new_token()
    now = clock()
    item = token_item(token_hash(token), workspace_id=workspace_id, user_id=owner, scopes=OWNER_SCOPES,
                      expires_at=int(now) + token_days * DAY, created_at=now, created_by=owner,
                      label="bootstrap")
    try:
        directory.create_workspace(workspace_id, name=name, owner_id=owner, token=item)
    except DirectoryConflict:
        settings = directory.get_workspace_settings(workspace_id) or {}
        return Bootstrapped(workspace_id, str(settings.get("name") or name), owner, created=False)
    audit.append(AuditRow.new(clock=clock, profile_id=workspace_trail(workspace_id),
                              workspace_id=workspace_id,
                              actor=owner, operation="bootstrap", request_id=None, via="cli",
                              change={"name": name, "owner": owner, "token_id": item["token_id"],
                                      "scopes": list(OWNER_SCOPES), "writeback_enabled": False}))
    return Bootstrapped(workspace_id, name, owner, created=True, token=token, token_info=public_token(item))
