"""The directory's protocols: the reads every request makes (`auth` needs nothing more), and the
writes that seed it (local tools, tests; the functions never write the directory)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def token_item(token_hash: str, *, workspace_id: str, user_id: str, scopes: Iterable[str],
               expires_at: float) -> dict[str, Any]:
    """The stored form of an API token (TTL = expiry); refuses anything but a SHA-256 hex digest."""
    if len(token_hash) != 64:
        raise ValueError("store the token's SHA-256 hex digest, never the token")
    return {"token_hash": token_hash, "workspace_id": workspace_id, "user_id": user_id,
            "scopes": sorted(set(scopes)), "expires_at": int(expires_at), "ttl": int(expires_at)}
