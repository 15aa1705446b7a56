"""The directory's protocols: the reads every request makes (`auth` needs nothing more), the
writes that seed it (local tools, tests), and the administration API's writes (`DirectoryAdmin`).

Every rule the administration API must hold under concurrent requests is one conditional write
here: a workspace is created with its owner and first token in one transaction that fails if it
exists; a change that can remove an owner bumps the workspace's `owners_version` in the same
transaction as the member write, on the condition that it is the version the caller counted the
owners at (so two owners removing each other at once cannot both succeed).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class DirectoryReader(Protocol):
    """Who is who: tokens (by SHA-256 only; expired ones read as absent), workspaces, members,
    profiles. Every value comes back as a fresh dict the caller may keep."""

    def get_token(self, token_hash: str) -> dict[str, Any] | None: ...

    def get_workspace_settings(self, workspace_id: str) -> dict[str, Any] | None: ...

    def get_member_role(self, workspace_id: str, user_id: str) -> str | None: ...

    def get_profile(self, profile_id: str) -> dict[str, Any] | None: ...

    def list_profiles(self, workspace_id: str) -> list[dict[str, Any]]:
        """Every profile of the workspace, by profile id."""
        ...


class DirectoryStore(DirectoryReader, Protocol):
    """The reads plus seeding. `put_token` takes the token's SHA-256 hex digest, never the token."""

    def put_workspace(self, workspace_id: str, *, name: str, writeback_enabled: bool = False) -> None: ...

    def put_member(self, workspace_id: str, user_id: str, role: str) -> None: ...

    def put_token(self, token_hash: str, *, workspace_id: str, user_id: str, scopes: Iterable[str],
                  expires_at: float) -> None: ...

    def put_profile(self, profile_id: str, *, workspace_id: str, name: str,
                    settings: Mapping[str, Any] | None = None,
                    connection: Mapping[str, Any] | None = None) -> None: ...


class DirectoryConflict(Exception):
    """A conditional directory write found the item not as expected (exists, missing, changed)."""


@dataclass(frozen=True)
class Members:
    """A workspace's members ({user_id: role}) as read at `owners_version` (0 before any change)."""

    roles: dict[str, str]
    owners_version: int

    @property
    def owners(self) -> list[str]:
        return sorted(user for user, role in self.roles.items() if role == "owner")


class DirectoryAdmin(DirectoryStore, Protocol):
    """The administration API's writes and listings (each write one conditional operation)."""

    def create_workspace(self, workspace_id: str, *, name: str, owner_id: str,
                         token: Mapping[str, Any]) -> None:
        """Workspace (write-back off) + owner membership + first token, all or nothing;
        DirectoryConflict if the workspace exists."""
        ...

    def update_workspace_settings(self, workspace_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Set the given settings; the settings after the change (DirectoryConflict: no workspace)."""
        ...

    def members(self, workspace_id: str) -> Members: ...

    def write_member(self, workspace_id: str, user_id: str, role: str | None, *, expected_role: str | None,
                     owners_version: int | None) -> None:
        """Set (`role`) or remove (None) a membership if its current role is `expected_role` (None:
        not a member). With `owners_version`, also bump the workspace's owners version from that
        value, in the same transaction. DirectoryConflict if any condition fails."""
        ...

    def create_token(self, item: Mapping[str, Any]) -> None:
        """A new token item (`token_item`); DirectoryConflict if its hash exists."""
        ...

    def list_tokens(self, workspace_id: str) -> list[dict[str, Any]]:
        """The workspace's unexpired tokens by token_id (the `by_workspace` index: no token there)."""
        ...

    def find_token(self, workspace_id: str, token_id: str) -> dict[str, Any] | None:
        """The workspace's unexpired token with that public id, or None."""
        ...

    def delete_token(self, token_hash: str, workspace_id: str) -> bool:
        """Revoke: delete the token if it belongs to the workspace; False if there was none."""
        ...

    def create_profile(self, profile_id: str, *, workspace_id: str, name: str,
                       settings: Mapping[str, Any]) -> dict[str, Any]:
        """A new profile (no connection); DirectoryConflict if the id exists (in any workspace)."""
        ...

    def update_profile(self, profile_id: str, workspace_id: str,
                       changes: Mapping[str, Any]) -> dict[str, Any]:
        """Set top-level attributes (name, settings, connection) of a profile of the workspace; the
        profile after the change. DirectoryConflict if it is not there (or another workspace's)."""
        ...


TOKEN_ID_PREFIX = "tok_"


def new_token_id() -> str:
    """The public id of an API token: listing and revoking use it; it reveals nothing of the token."""
    return TOKEN_ID_PREFIX + secrets.token_hex(8)


def token_item(token_hash: str, *, workspace_id: str, user_id: str, scopes: Iterable[str],
               expires_at: float, token_id: str | None = None, created_at: float | None = None,
               created_by: str | None = None, label: str | None = None) -> dict[str, Any]:
    """The stored form of an API token (TTL = expiry); refuses anything but a SHA-256 hex digest.
    Every token gets a public `token_id` (the key of the `by_workspace` index)."""
    if len(token_hash) != 64:
        raise ValueError("store the token's SHA-256 hex digest, never the token")
    item: dict[str, Any] = {
        "token_hash": token_hash, "token_id": token_id or new_token_id(), "workspace_id": workspace_id,
        "user_id": user_id, "scopes": sorted(set(scopes)), "expires_at": int(expires_at),
        "ttl": int(expires_at)}
    for key, value in (("created_at", None if created_at is None else int(created_at)),
                       ("created_by", created_by), ("label", label)):
        if value is not None:
            item[key] = value
    return item


def public_token(item: Mapping[str, Any]) -> dict[str, Any]:
    """What may be shown of a stored token: never its hash (nor, of course, the token)."""
    return {k: item[k] for k in ("token_id", "user_id", "scopes", "expires_at", "created_at",
                                 "created_by", "label") if k in item}
