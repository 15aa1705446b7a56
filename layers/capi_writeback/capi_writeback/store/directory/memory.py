"""The directory in memory (logic tests, local tools): the semantics of `dynamodb.py`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from capi_writeback.store._memory import json_copy, json_copy_dict
from capi_writeback.store.directory.base import token_item


class MemoryDirectoryStore:
    """DirectoryStore in dicts."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.workspaces: dict[tuple[str, str], dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.profiles: dict[str, dict[str, Any]] = {}

    def get_token(self, token_hash: str) -> dict[str, Any] | None:
        item = self.tokens.get(token_hash)
        if item is None or float(item["ttl"]) <= self.clock():
            return None
        return json_copy_dict(item)

    def get_workspace_settings(self, workspace_id: str) -> dict[str, Any] | None:
        item = self.workspaces.get((workspace_id, "SETTINGS"))
        return json_copy_dict(item) if item else None

    def get_member_role(self, workspace_id: str, user_id: str) -> str | None:
        item = self.workspaces.get((workspace_id, f"MEMBER#{user_id}"))
        return str(item["role"]) if item else None

    def get_profile(self, profile_id: str) -> dict[str, Any] | None:
        item = self.profiles.get(profile_id)
        return json_copy_dict(item) if item else None

    def list_profiles(self, workspace_id: str) -> list[dict[str, Any]]:
        return [json_copy_dict(self.profiles[pid]) for pid in sorted(self.profiles)
                if self.profiles[pid]["workspace_id"] == workspace_id]

    def put_workspace(self, workspace_id: str, *, name: str, writeback_enabled: bool = False) -> None:
        self.workspaces[(workspace_id, "SETTINGS")] = {
            "workspace_id": workspace_id, "sk": "SETTINGS", "name": name,
            "writeback_enabled": bool(writeback_enabled)}

    def put_member(self, workspace_id: str, user_id: str, role: str) -> None:
        self.workspaces[(workspace_id, f"MEMBER#{user_id}")] = {
            "workspace_id": workspace_id, "sk": f"MEMBER#{user_id}", "user_id": user_id, "role": role}

    def put_token(self, token_hash: str, *, workspace_id: str, user_id: str, scopes: Iterable[str],
                  expires_at: float) -> None:
        self.tokens[token_hash] = token_item(token_hash, workspace_id=workspace_id, user_id=user_id,
                                             scopes=scopes, expires_at=expires_at)

    def put_profile(self, profile_id: str, *, workspace_id: str, name: str,
                    settings: Mapping[str, Any] | None = None,
                    connection: Mapping[str, Any] | None = None) -> None:
        item: dict[str, Any] = {"profile_id": profile_id, "workspace_id": workspace_id, "name": name,
                                "settings": json_copy(dict(settings or {}))}
        if connection is not None:
            item["connection"] = json_copy(dict(connection))
        self.profiles[profile_id] = item
