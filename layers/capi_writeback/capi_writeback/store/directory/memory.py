"""The directory in memory (logic tests, local tools): the semantics of `dynamodb.py`, each write
under one lock as DynamoDB applies each request atomically."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from capi_writeback.store._memory import json_copy, json_copy_dict
from capi_writeback.store.directory.base import DirectoryConflict, Members, token_item

SETTINGS = "SETTINGS"
MEMBER = "MEMBER#"


class MemoryDirectoryStore:
    """DirectoryAdmin in dicts."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.workspaces: dict[tuple[str, str], dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.profiles: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()

    def _live(self, item: Mapping[str, Any]) -> bool:
        return not ("ttl" in item and float(item["ttl"]) <= self.clock())

    # -- reads ------------------------------------------------------------------------------------

    def get_token(self, token_hash: str) -> dict[str, Any] | None:
        with self._lock:
            item = self.tokens.get(token_hash)
            return json_copy_dict(item) if item is not None and self._live(item) else None

    def get_workspace_settings(self, workspace_id: str) -> dict[str, Any] | None:
        with self._lock:
            item = self.workspaces.get((workspace_id, SETTINGS))
            return json_copy_dict(item) if item else None

    def get_member_role(self, workspace_id: str, user_id: str) -> str | None:
        with self._lock:
            item = self.workspaces.get((workspace_id, f"{MEMBER}{user_id}"))
            return str(item["role"]) if item else None

    def get_profile(self, profile_id: str) -> dict[str, Any] | None:
        with self._lock:
            item = self.profiles.get(profile_id)
            return json_copy_dict(item) if item else None

    def list_profiles(self, workspace_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [json_copy_dict(self.profiles[pid]) for pid in sorted(self.profiles)
                    if self.profiles[pid]["workspace_id"] == workspace_id]

    # -- seeding ----------------------------------------------------------------------------------

    def put_workspace(self, workspace_id: str, *, name: str, writeback_enabled: bool = False) -> None:
        with self._lock:
            self.workspaces[(workspace_id, SETTINGS)] = {
                "workspace_id": workspace_id, "sk": SETTINGS, "name": name,
                "writeback_enabled": bool(writeback_enabled)}

    def put_member(self, workspace_id: str, user_id: str, role: str) -> None:
        with self._lock:
            self.workspaces[(workspace_id, f"{MEMBER}{user_id}")] = {
                "workspace_id": workspace_id, "sk": f"{MEMBER}{user_id}", "user_id": user_id, "role": role}

    def put_token(self, token_hash: str, *, workspace_id: str, user_id: str, scopes: Iterable[str],
                  expires_at: float) -> None:
        with self._lock:
            self.tokens[token_hash] = token_item(token_hash, workspace_id=workspace_id, user_id=user_id,
                                                 scopes=scopes, expires_at=expires_at)

    def put_profile(self, profile_id: str, *, workspace_id: str, name: str,
                    settings: Mapping[str, Any] | None = None,
                    connection: Mapping[str, Any] | None = None) -> None:
        item: dict[str, Any] = {"profile_id": profile_id, "workspace_id": workspace_id, "name": name,
                                "settings": json_copy(dict(settings or {}))}
        if connection is not None:
            item["connection"] = json_copy(dict(connection))
        with self._lock:
            self.profiles[profile_id] = item

    # -- administration ---------------------------------------------------------------------------

    def create_workspace(self, workspace_id: str, *, name: str, owner_id: str,
                         token: Mapping[str, Any]) -> None:
        with self._lock:
            taken = ((workspace_id, SETTINGS) in self.workspaces
                     or (workspace_id, f"{MEMBER}{owner_id}") in self.workspaces
                     or token["token_hash"] in self.tokens)
            if taken:
                raise DirectoryConflict(f"workspace {workspace_id!r} exists")
            self.workspaces[(workspace_id, SETTINGS)] = {
                "workspace_id": workspace_id, "sk": SETTINGS, "name": name, "writeback_enabled": False,
                "owners_version": 0}
            self.workspaces[(workspace_id, f"{MEMBER}{owner_id}")] = {
                "workspace_id": workspace_id, "sk": f"{MEMBER}{owner_id}", "user_id": owner_id,
                "role": "owner"}
            self.tokens[str(token["token_hash"])] = json_copy_dict(token)

    def update_workspace_settings(self, workspace_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            item = self.workspaces.get((workspace_id, SETTINGS))
            if item is None:
                raise DirectoryConflict(f"no workspace {workspace_id!r}")
            item.update(json_copy(dict(changes)))
            return json_copy_dict(item)

    def members(self, workspace_id: str) -> Members:
        with self._lock:
            settings = self.workspaces.get((workspace_id, SETTINGS)) or {}
            roles = {sk[len(MEMBER):]: str(item["role"]) for (ws, sk), item in self.workspaces.items()
                     if ws == workspace_id and sk.startswith(MEMBER)}
            return Members(roles=roles, owners_version=int(settings.get("owners_version") or 0))

    def write_member(self, workspace_id: str, user_id: str, role: str | None, *, expected_role: str | None,
                     owners_version: int | None) -> None:
        key = (workspace_id, f"{MEMBER}{user_id}")
        with self._lock:
            current = self.workspaces.get(key)
            if (current.get("role") if current else None) != expected_role:
                raise DirectoryConflict(f"membership of {user_id!r} changed meanwhile")
            if owners_version is not None:
                settings = self.workspaces.get((workspace_id, SETTINGS))
                if settings is None or int(settings.get("owners_version") or 0) != owners_version:
                    raise DirectoryConflict("owners changed meanwhile")
                settings["owners_version"] = owners_version + 1
            if role is None:
                del self.workspaces[key]
            else:
                self.workspaces[key] = {"workspace_id": workspace_id, "sk": key[1], "user_id": user_id,
                                        "role": role}

    def create_token(self, item: Mapping[str, Any]) -> None:
        with self._lock:
            if item["token_hash"] in self.tokens:
                raise DirectoryConflict("token exists")
            self.tokens[str(item["token_hash"])] = json_copy_dict(item)

    def list_tokens(self, workspace_id: str) -> list[dict[str, Any]]:
        with self._lock:
            found = [json_copy_dict(t) for t in self.tokens.values()
                     if t["workspace_id"] == workspace_id and self._live(t)]
        return sorted(found, key=lambda t: str(t["token_id"]))

    def find_token(self, workspace_id: str, token_id: str) -> dict[str, Any] | None:
        return next((t for t in self.list_tokens(workspace_id) if t["token_id"] == token_id), None)

    def delete_token(self, token_hash: str, workspace_id: str) -> bool:
        with self._lock:
            item = self.tokens.get(token_hash)
            if item is None or item["workspace_id"] != workspace_id:
                return False
            del self.tokens[token_hash]
            return True

    def create_profile(self, profile_id: str, *, workspace_id: str, name: str,
                       settings: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            if profile_id in self.profiles:
                raise DirectoryConflict(f"profile {profile_id!r} exists")
            item = {"profile_id": profile_id, "workspace_id": workspace_id, "name": name,
                    "settings": json_copy(dict(settings))}
            self.profiles[profile_id] = item
            return json_copy_dict(item)

    def update_profile(self, profile_id: str, workspace_id: str,
                       changes: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            item = self.profiles.get(profile_id)
            if item is None or item["workspace_id"] != workspace_id:
                raise DirectoryConflict(f"no profile {profile_id!r} in this workspace")
            for key, value in changes.items():
                if value is None:
                    item.pop(key, None)
                else:
                    item[key] = json_copy(value)
            return json_copy_dict(item)
