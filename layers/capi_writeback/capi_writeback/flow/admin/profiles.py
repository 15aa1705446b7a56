"""Profiles: create one, list them, read one, change its name or settings.

What is shown of a profile: its settings, its Meta connection (pixel, status, when it was checked;
never the token, the app secret or the secret's name) and its circuit breaker (open, and for how
long), which the dashboard needs beside each profile.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from capi_writeback.auth import check_access
from capi_writeback.contracts.admin import ProfileCreate, ProfilePatch
from capi_writeback.exceptions import ProfileExists, ProfileNotFound
from capi_writeback.flow.admin.access import (
    READ,
    admin_directory,
    at_workspace,
    change,
    plain,
    profile_change_access,
    workspace_access,
)
from capi_writeback.flow.services import Services, default_services
from capi_writeback.flow.trail import Call, Note, audited
from capi_writeback.rails.breaker.exceptions import CircuitOpen
from capi_writeback.store.directory.base import DirectoryConflict

CONNECTION_FIELDS = ("status", "pixel_id", "pixel_name", "test_event_code", "api_version", "checked_at",
                     "connected_by")


def new_profile_id() -> str:
    return "prof_" + secrets.token_hex(6)


def public_connection(connection: Any) -> dict[str, Any] | None:
    """The connection as shown: never the secret's name or anything from it."""
    if not isinstance(connection, Mapping):
        return None
    shown = {k: connection[k] for k in CONNECTION_FIELDS if connection.get(k) is not None}
    shown.setdefault("status", "inactive")
    shown["app_secret"] = connection.get("app_secret") is True
    return shown


def profile_view(services: Services, profile: Mapping[str, Any]) -> dict[str, Any]:
    """A stored profile as the API shows it, with its breaker state."""
    profile_id = str(profile["profile_id"])
    try:
        services.breaker.check(profile_id)
        breaker: dict[str, Any] = {"open": False, "retry_after": None}
    except CircuitOpen as open_:
        breaker = {"open": True, "retry_after": open_.retry_after}
    return {"profile_id": profile_id, "workspace_id": str(profile.get("workspace_id")),
            "name": profile.get("name"), "settings": plain(profile.get("settings")),
            "connection": public_connection(profile.get("connection")), "breaker": breaker}


def create_profile(call: Call, request: ProfileCreate, services: Services | None = None) -> dict[str, Any]:
    """A new profile of the caller's workspace (no connection yet); audited in the workspace trail."""
    services = services or default_services()
    call = at_workspace(call)

    def body(note: Note) -> dict[str, Any]:
        access = workspace_access(services, call, note)
        profile_id = request.profile_id or new_profile_id()
        change(note, profile_id=profile_id)
        settings = request.settings.model_dump(exclude_none=True) if request.settings else {}
        settings.setdefault("action_source", "system_generated")
        try:
            profile = admin_directory(services).create_profile(
                profile_id, workspace_id=access.workspace_id, name=request.name, settings=settings)
        except DirectoryConflict:
            raise ProfileExists() from None
        return {**profile_view(services, profile), "operation": "profile_create",
                "request_id": call.request_id}

    return audited(services, call, "profile_create", body)


def list_profiles(call: Call, services: Services | None = None) -> dict[str, Any]:
    """Every profile of the caller's workspace."""
    services = services or default_services()
    access = workspace_access(services, call, rule=READ)
    stored = services.directory.list_profiles(access.workspace_id)
    return {"items": [profile_view(services, p) for p in stored]}


def get_profile(call: Call, services: Services | None = None) -> dict[str, Any]:
    """One profile of the caller's workspace (PROFILE_NOT_FOUND for another workspace's)."""
    services = services or default_services()
    scopes, roles = READ
    access = check_access(services.directory, call.principal, call.profile_id, scopes=scopes, roles=roles,
                          writeback=False, connection=False)
    return profile_view(services, access.profile)


def update_profile(call: Call, request: ProfilePatch, services: Services | None = None) -> dict[str, Any]:
    """Rename a profile or change some of its settings (the keys given replace the stored ones)."""
    services = services or default_services()

    def body(note: Note) -> dict[str, Any]:
        access = profile_change_access(services, call, note)
        changes: dict[str, Any] = {}
        if request.name is not None:
            changes["name"] = request.name
        if request.settings is not None:
            given = request.settings.model_dump(exclude_unset=True)
            changes["settings"] = {**plain(access.profile.get("settings")), **given}
            change(note, settings=sorted(given))
        change(note, name=request.name)
        try:
            profile = admin_directory(services).update_profile(access.profile_id, access.workspace_id,
                                                               changes)
        except DirectoryConflict:
            raise ProfileNotFound() from None
        return {**profile_view(services, profile), "operation": "profile_update",
                "request_id": call.request_id}

    return audited(services, call, "profile_update", body)
