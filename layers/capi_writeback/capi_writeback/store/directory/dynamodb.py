"""The directory on WORKSPACES_TABLE (`sk` = SETTINGS | MEMBER#<user>), TOKENS_TABLE and
PROFILES_TABLE."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from capi_writeback.store._dynamo import Table, deserialize, serialize
from capi_writeback.store.directory.base import token_item


class DynamoDirectoryStore:
    """DirectoryStore over the three tables (reads + seeding). A workspace's profiles are a Query on
    PROFILES_TABLE's `by_workspace` index (`page_size` items a page; None: DynamoDB's 1 MB pages)."""

    def __init__(self, workspaces_table: str | None = None, tokens_table: str | None = None,
                 profiles_table: str | None = None, client: Any = None,
                 clock: Callable[[], float] = time.time, page_size: int | None = None) -> None:
        self.clock = clock
        self.page_size = page_size
        self._workspaces = Table("WORKSPACES_TABLE", workspaces_table, client)
        self._tokens = Table("TOKENS_TABLE", tokens_table, client)
        self._profiles = Table("PROFILES_TABLE", profiles_table, client)

    @staticmethod
    def _get(table: Table, key: Mapping[str, str]) -> dict[str, Any] | None:
        response = table.ddb.get_item(TableName=table.name, Key={k: {"S": v} for k, v in key.items()})
        item = response.get("Item")
        return deserialize(item) if item else None

    @staticmethod
    def _put(table: Table, item: Mapping[str, Any]) -> None:
        table.ddb.put_item(TableName=table.name, Item=serialize(item))

    def get_token(self, token_hash: str) -> dict[str, Any] | None:
        item = self._get(self._tokens, {"token_hash": token_hash})
        if item is None or ("ttl" in item and float(item["ttl"]) <= self.clock()):
            return None
        return item

    def get_workspace_settings(self, workspace_id: str) -> dict[str, Any] | None:
        return self._get(self._workspaces, {"workspace_id": workspace_id, "sk": "SETTINGS"})

    def get_member_role(self, workspace_id: str, user_id: str) -> str | None:
        item = self._get(self._workspaces, {"workspace_id": workspace_id, "sk": f"MEMBER#{user_id}"})
        role = item.get("role") if item else None
        return role if isinstance(role, str) else None

    def get_profile(self, profile_id: str) -> dict[str, Any] | None:
        return self._get(self._profiles, {"profile_id": profile_id})

    def list_profiles(self, workspace_id: str) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"Limit": self.page_size} if self.page_size else {}
        profiles: list[dict[str, Any]] = []
        while True:
            response = self._profiles.ddb.query(
                TableName=self._profiles.name, IndexName="by_workspace",
                KeyConditionExpression="workspace_id = :w",
                ExpressionAttributeValues={":w": {"S": workspace_id}}, **kwargs)
            profiles.extend(deserialize(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return profiles
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def put_workspace(self, workspace_id: str, *, name: str, writeback_enabled: bool = False) -> None:
        self._put(self._workspaces, {"workspace_id": workspace_id, "sk": "SETTINGS", "name": name,
                                     "writeback_enabled": bool(writeback_enabled)})

    def put_member(self, workspace_id: str, user_id: str, role: str) -> None:
        self._put(self._workspaces, {"workspace_id": workspace_id, "sk": f"MEMBER#{user_id}",
                                     "user_id": user_id, "role": role})

    def put_token(self, token_hash: str, *, workspace_id: str, user_id: str, scopes: Iterable[str],
                  expires_at: float) -> None:
        self._put(self._tokens, token_item(token_hash, workspace_id=workspace_id, user_id=user_id,
                                           scopes=scopes, expires_at=expires_at))

    def put_profile(self, profile_id: str, *, workspace_id: str, name: str,
                    settings: Mapping[str, Any] | None = None,
                    connection: Mapping[str, Any] | None = None) -> None:
        self._put(self._profiles, {"profile_id": profile_id, "workspace_id": workspace_id, "name": name,
                                   "settings": dict(settings or {}),
                                   "connection": dict(connection) if connection is not None else None})
