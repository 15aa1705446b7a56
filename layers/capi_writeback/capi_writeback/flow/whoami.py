"""The `whoami` MCP tool (SPEC §9): who the token is, and what would stop it from sending.

An assistant calls it first to see unmet prerequisites before it tries: the workspace, user, role,
scopes and write-back setting, and each profile with its pixel, connection status and circuit
breaker. `unmet` lists the SPEC error types a send would be refused with, in the order the
prerequisites are checked (workspace-wide at the top, per profile below). Any valid token may ask:
it only reads what its own workspace holds, and writes no audit row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from capi_writeback.auth import ADMIN_ROLES, WRITE_SCOPE, Principal
from capi_writeback.exceptions import Unauthenticated
from capi_writeback.flow.profiles import pixel_of, workspace_profiles
from capi_writeback.flow.services import Services, default_services
from capi_writeback.rails.breaker.exceptions import CircuitOpen

MAX_PROFILES = 100


def whoami(principal: Principal, services: Services | None = None) -> dict[str, Any]:
    """The caller, their workspace and its profiles, with what each send would be refused for."""
    services = services or default_services()
    workspace_id = principal.workspace_id
    if workspace_id is None:
        raise Unauthenticated()
    directory = services.directory
    settings = directory.get_workspace_settings(workspace_id) or {}
    role = directory.get_member_role(workspace_id, principal.user_id)
    scopes = sorted(principal.scopes or ())
    unmet = []
    if WRITE_SCOPE not in scopes:
        unmet.append("MISSING_SCOPE")
    if settings.get("writeback_enabled") is not True:
        unmet.append("WRITEBACK_DISABLED")
    if role not in ADMIN_ROLES:
        unmet.append("INSUFFICIENT_ROLE")
    profiles = workspace_profiles(services, principal)
    listed = [_profile(services, profile, unmet) for profile in profiles[:MAX_PROFILES]]
    return {
        "workspace_id": workspace_id,
        "workspace_name": settings.get("name"),
        "user_id": principal.user_id,
        "role": role,
        "scopes": scopes,
        "writeback_enabled": settings.get("writeback_enabled") is True,
        "unmet": unmet,
        "profiles": listed,
        "profile_count": len(profiles),
    }


def _profile(services: Services, profile: Mapping[str, Any], workspace_unmet: list[str]) -> dict[str, Any]:
    profile_id = str(profile["profile_id"])
    connection = profile.get("connection")
    status = str(connection.get("status")) if isinstance(connection, Mapping) and connection.get(
        "status") else "none"
    unmet = []
    if status != "active" or not isinstance(connection, Mapping) or not connection.get("secret_id"):
        unmet.append("META_CONNECTION_INACTIVE")
    retry_after = None
    try:
        services.breaker.check(profile_id)
    except CircuitOpen as exc:
        retry_after = exc.retry_after
        unmet.append("CIRCUIT_OPEN")
    return {
        "profile_id": profile_id,
        "name": profile.get("name"),
        "pixel_id": pixel_of(profile),
        "connection_status": status,
        "breaker": "open" if retry_after is not None else "closed",
        "retry_after": retry_after,
        "unmet": unmet,
        "can_send": not workspace_unmet and not unmet,
    }
