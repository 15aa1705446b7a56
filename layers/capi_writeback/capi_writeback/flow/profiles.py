"""Which profile a call means when it does not name one by id (the MCP tools, SPEC §9).

`meta_send_conversion_event` names a pixel: the profile of the caller's workspace connected to it.
`send_meta_conversions` may leave `profile_id` out when the workspace has exactly one profile. Both
send, so both check the token's mcp:write scope first, as every sending step does (a read-only
token learns MISSING_SCOPE, not which pixels the workspace has). The directory lists a workspace's
profiles with one Query (`by_workspace`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from capi_writeback.auth import WRITE_SCOPE, Principal, require_scope
from capi_writeback.exceptions import InvalidRequest, ProfileNotFound
from capi_writeback.flow.services import Services


def workspace_profiles(services: Services, principal: Principal) -> list[dict[str, Any]]:
    """The profiles of the caller's workspace, by profile id."""
    if principal.workspace_id is None:  # a direct invocation names its profile itself
        return []
    return services.directory.list_profiles(principal.workspace_id)


def pixel_of(profile: Mapping[str, Any]) -> str | None:
    connection = profile.get("connection")
    pixel = connection.get("pixel_id") if isinstance(connection, Mapping) else None
    return str(pixel) if pixel else None


def profile_for_pixel(services: Services, principal: Principal, pixel_id: str) -> str:
    """The id of the caller's profile connected to `pixel_id`. Several profiles may share a pixel
    (two sites, one dataset): the first by profile id whose connection is active, else the first."""
    require_scope(principal, (WRITE_SCOPE,))
    matching = [p for p in workspace_profiles(services, principal) if pixel_of(p) == pixel_id]
    if not matching:
        raise ProfileNotFound(f"No profile of this workspace is connected to pixel {pixel_id}.",
                              fix="Check pixel_id: the whoami tool lists the workspace's profiles and "
                                  "their pixels.")
    active = [p for p in matching if (p.get("connection") or {}).get("status") == "active"]
    return str((active or matching)[0]["profile_id"])


def only_profile(services: Services, principal: Principal) -> str:
    """The workspace's one profile, for a call that names none; else a refusal saying why."""
    require_scope(principal, (WRITE_SCOPE,))
    profiles = workspace_profiles(services, principal)
    if not profiles:
        raise ProfileNotFound("This workspace has no profile.",
                              fix="Ask a workspace admin to create a profile and connect it to Meta.")
    if len(profiles) > 1:
        ids = [str(p["profile_id"]) for p in profiles]
        shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
        raise InvalidRequest(
            f"This workspace has {len(ids)} profiles: say which one.",
            fix=f"Pass profile_id (one of {shown}); the whoami tool lists them.",
            details=[{"field": "profile_id", "type": "missing",
                      "message": f"Required when the workspace has several profiles ({len(ids)})."}])
    return str(profiles[0]["profile_id"])
