"""The directory on WORKSPACES_TABLE (`sk` = SETTINGS | MEMBER#<user>), TOKENS_TABLE (GSI
`by_workspace`: workspace_id, token_id) and PROFILES_TABLE (GSI `by_workspace`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from capi_writeback.store._dynamo import Table, deserialize, is_condition_failure, serialize
from capi_writeback.store.directory.base import DirectoryConflict, Members, token_item

SETTINGS = "SETTINGS"
MEMBER = "MEMBER#"


def _conflict(exc: Exception) -> bool:
    """A refused conditional write, or a transaction cancelled by one of its conditions or by a
    concurrent transaction on the same items (the caller reads again and retries)."""
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return is_condition_failure(exc) or code in ("TransactionCanceledException",
                                                 "TransactionConflictException")


class DynamoDirectoryStore:
    """DirectoryAdmin over the three tables. A workspace's profiles and tokens are Queries on the
    tables' `by_workspace` indexes (`page_size` items a page; None: DynamoDB's 1 MB pages)."""

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

    def _query(self, table: Table, **request: Any) -> list[dict[str, Any]]:
        """Every item a Query matches, page after page."""
        kwargs: dict[str, Any] = {"Limit": self.page_size} if self.page_size else {}
        items: list[dict[str, Any]] = []
        while True:
            response = table.ddb.query(TableName=table.name, **request, **kwargs)
            items.extend(deserialize(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    @staticmethod
    def _update(table: Table, key: Mapping[str, str], changes: Mapping[str, Any], condition: str,
                values: Mapping[str, Any], missing: str) -> dict[str, Any]:
        """One conditional UpdateItem setting `changes` (None: remove the attribute); the item after
        it, or DirectoryConflict(`missing`) when the condition does not hold."""
        names = {f"#k{i}": name for i, name in enumerate(changes)}
        sets = [f"#k{i} = :v{i}" for i, value in enumerate(changes.values()) if value is not None]
        removes = [f"#k{i}" for i, value in enumerate(changes.values()) if value is None]
        given = {f":v{i}": value for i, value in enumerate(changes.values()) if value is not None}
        expression = " ".join(part for part in (
            "SET " + ", ".join(sets) if sets else "", "REMOVE " + ", ".join(removes) if removes else "")
            if part)
        try:
            response = table.ddb.update_item(
                TableName=table.name, Key={k: {"S": v} for k, v in key.items()}, UpdateExpression=expression,
                ConditionExpression=condition, ExpressionAttributeNames=names,
                ExpressionAttributeValues=serialize({**given, **values}), ReturnValues="ALL_NEW")
        except Exception as exc:
            if _conflict(exc):
                raise DirectoryConflict(missing) from exc
            raise
        return deserialize(response["Attributes"])

    def _live(self, item: Mapping[str, Any]) -> bool:
        return not ("ttl" in item and float(item["ttl"]) <= self.clock())

    # -- reads ------------------------------------------------------------------------------------

    def get_token(self, token_hash: str) -> dict[str, Any] | None:
        item = self._get(self._tokens, {"token_hash": token_hash})
        return item if item is not None and self._live(item) else None

    def get_workspace_settings(self, workspace_id: str) -> dict[str, Any] | None:
        return self._get(self._workspaces, {"workspace_id": workspace_id, "sk": SETTINGS})

    def get_member_role(self, workspace_id: str, user_id: str) -> str | None:
        item = self._get(self._workspaces, {"workspace_id": workspace_id, "sk": f"{MEMBER}{user_id}"})
        role = item.get("role") if item else None
        return role if isinstance(role, str) else None

    def get_profile(self, profile_id: str) -> dict[str, Any] | None:
        return self._get(self._profiles, {"profile_id": profile_id})

    def list_profiles(self, workspace_id: str) -> list[dict[str, Any]]:
        return self._query(self._profiles, IndexName="by_workspace",
                           KeyConditionExpression="workspace_id = :w",
                           ExpressionAttributeValues={":w": {"S": workspace_id}})

    # -- seeding ----------------------------------------------------------------------------------

    def put_workspace(self, workspace_id: str, *, name: str, writeback_enabled: bool = False) -> None:
        self._put(self._workspaces, {"workspace_id": workspace_id, "sk": SETTINGS, "name": name,
                                     "writeback_enabled": bool(writeback_enabled)})

    def put_member(self, workspace_id: str, user_id: str, role: str) -> None:
        self._put(self._workspaces, {"workspace_id": workspace_id, "sk": f"{MEMBER}{user_id}",
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

    # -- administration ---------------------------------------------------------------------------

    def create_workspace(self, workspace_id: str, *, name: str, owner_id: str,
                         token: Mapping[str, Any]) -> None:
        settings = {"workspace_id": workspace_id, "sk": SETTINGS, "name": name,
                    "writeback_enabled": False, "owners_version": 0}
        member = {"workspace_id": workspace_id, "sk": f"{MEMBER}{owner_id}", "user_id": owner_id,
                  "role": "owner"}
        try:
            self._workspaces.ddb.transact_write_items(TransactItems=[
                {"Put": {"TableName": self._workspaces.name, "Item": serialize(settings),
                         "ConditionExpression": "attribute_not_exists(workspace_id)"}},
                {"Put": {"TableName": self._workspaces.name, "Item": serialize(member),
                         "ConditionExpression": "attribute_not_exists(workspace_id)"}},
                {"Put": {"TableName": self._tokens.name, "Item": serialize(token),
                         "ConditionExpression": "attribute_not_exists(token_hash)"}},
            ])
        except Exception as exc:
            if _conflict(exc):
                raise DirectoryConflict(f"workspace {workspace_id!r} exists") from exc
            raise

    def update_workspace_settings(self, workspace_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        return self._update(self._workspaces, {"workspace_id": workspace_id, "sk": SETTINGS}, changes,
                            "attribute_exists(workspace_id)", {}, f"no workspace {workspace_id!r}")

    def members(self, workspace_id: str) -> Members:
        items = self._query(self._workspaces, KeyConditionExpression="workspace_id = :w",
                            ExpressionAttributeValues={":w": {"S": workspace_id}}, ConsistentRead=True)
        roles: dict[str, str] = {}
        version = 0
        for item in items:
            if item["sk"] == SETTINGS:
                version = int(item.get("owners_version") or 0)
            elif str(item["sk"]).startswith(MEMBER) and isinstance(item.get("role"), str):
                roles[str(item["sk"])[len(MEMBER):]] = item["role"]
        return Members(roles=roles, owners_version=version)

    def write_member(self, workspace_id: str, user_id: str, role: str | None, *, expected_role: str | None,
                     owners_version: int | None) -> None:
        key = {"workspace_id": {"S": workspace_id}, "sk": {"S": f"{MEMBER}{user_id}"}}
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(workspace_id)"} if expected_role is None else
            {"ConditionExpression": "#r = :expected", "ExpressionAttributeNames": {"#r": "role"},
             "ExpressionAttributeValues": {":expected": {"S": expected_role}}})
        if role is None:
            write = {"Delete": {"TableName": self._workspaces.name, "Key": key, **condition}}
        else:
            item = serialize({"workspace_id": workspace_id, "sk": f"{MEMBER}{user_id}", "user_id": user_id,
                              "role": role})
            write = {"Put": {"TableName": self._workspaces.name, "Item": item, **condition}}
        try:
            if owners_version is None:
                operation, request = next(iter(write.items()))
                call = self._workspaces.ddb.delete_item if operation == "Delete" else \
                    self._workspaces.ddb.put_item
                call(**request)
                return
            same_version = "owners_version = :v" if owners_version else \
                "(attribute_not_exists(owners_version) OR owners_version = :v)"
            self._workspaces.ddb.transact_write_items(TransactItems=[
                {"Update": {"TableName": self._workspaces.name,
                            "Key": {"workspace_id": {"S": workspace_id}, "sk": {"S": SETTINGS}},
                            "UpdateExpression": "SET owners_version = :next",
                            "ConditionExpression": f"attribute_exists(workspace_id) AND {same_version}",
                            "ExpressionAttributeValues": {":v": {"N": str(owners_version)},
                                                          ":next": {"N": str(owners_version + 1)}}}},
                write,
            ])
        except Exception as exc:
            if _conflict(exc):
                raise DirectoryConflict(f"membership of {user_id!r} changed meanwhile") from exc
            raise

    def create_token(self, item: Mapping[str, Any]) -> None:
        try:
            self._tokens.ddb.put_item(TableName=self._tokens.name, Item=serialize(item),
                                      ConditionExpression="attribute_not_exists(token_hash)")
        except Exception as exc:
            if _conflict(exc):
                raise DirectoryConflict("token exists") from exc
            raise

    def list_tokens(self, workspace_id: str) -> list[dict[str, Any]]:
        items = self._query(self._tokens, IndexName="by_workspace",
                            KeyConditionExpression="workspace_id = :w",
                            ExpressionAttributeValues={":w": {"S": workspace_id}})
        return [item for item in items if self._live(item)]

    def find_token(self, workspace_id: str, token_id: str) -> dict[str, Any] | None:
        items = self._query(self._tokens, IndexName="by_workspace",
                            KeyConditionExpression="workspace_id = :w AND token_id = :t",
                            ExpressionAttributeValues={":w": {"S": workspace_id}, ":t": {"S": token_id}})
        live = [item for item in items if self._live(item)]
        return live[0] if live else None

    def delete_token(self, token_hash: str, workspace_id: str) -> bool:
        try:
            self._tokens.ddb.delete_item(TableName=self._tokens.name, Key={"token_hash": {"S": token_hash}},
                                         ConditionExpression="workspace_id = :w",
                                         ExpressionAttributeValues={":w": {"S": workspace_id}})
        except Exception as exc:
            if _conflict(exc):
                return False
            raise
        return True

    def create_profile(self, profile_id: str, *, workspace_id: str, name: str,
                       settings: Mapping[str, Any]) -> dict[str, Any]:
        item = {"profile_id": profile_id, "workspace_id": workspace_id, "name": name,
                "settings": dict(settings)}
        try:
            self._profiles.ddb.put_item(TableName=self._profiles.name, Item=serialize(item),
                                        ConditionExpression="attribute_not_exists(profile_id)")
        except Exception as exc:
            if _conflict(exc):
                raise DirectoryConflict(f"profile {profile_id!r} exists") from exc
            raise
        return item

    def update_profile(self, profile_id: str, workspace_id: str,
                       changes: Mapping[str, Any]) -> dict[str, Any]:
        return self._update(self._profiles, {"profile_id": profile_id}, changes, "workspace_id = :ws",
                            {":ws": workspace_id}, f"no profile {profile_id!r} in this workspace")
