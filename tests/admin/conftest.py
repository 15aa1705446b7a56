"""Administration tests: the admin functions in-process over moto and the Meta emulator.

The moto + emulator world and the fresh services per test come from tests/lambdas/conftest.py;
here, each test gets a workspace with one user of each role (`Team`) and calls the admin functions
with API Gateway proxy events, as the authorizer would hand them over.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.lambdas.conftest import (  # noqa: F401  (fixtures re-exported for this folder)
    META_TOKEN,
    PIXEL_ID,
    Env,
    LambdaContext,
    Response,
    env,
    load_handler,
    world,
)

ALL_SCOPES = "admin mcp:read mcp:write"
# route name -> (function folder, method, resource)
ROUTES: dict[str, tuple[str, str, str]] = {
    "get_workspace": ("workspace", "GET", "/v1/workspace"),
    "settings": ("workspace", "PATCH", "/v1/workspace/settings"),
    "member_put": ("workspace", "PUT", "/v1/workspace/members/{user_id}"),
    "member_remove": ("workspace", "DELETE", "/v1/workspace/members/{user_id}"),
    "workspace_audit": ("workspace", "GET", "/v1/workspace/audit"),
    "token_create": ("workspace", "POST", "/v1/tokens"),
    "token_list": ("workspace", "GET", "/v1/tokens"),
    "token_revoke": ("workspace", "DELETE", "/v1/tokens/{token_id}"),
    "profile_create": ("profiles", "POST", "/v1/profiles"),
    "profile_list": ("profiles", "GET", "/v1/profiles"),
    "profile_get": ("profiles", "GET", "/v1/profiles/{profile_id}"),
    "profile_update": ("profiles", "PATCH", "/v1/profiles/{profile_id}"),
    "connection_put": ("connection", "PUT", "/v1/profiles/{profile_id}/connection"),
    "connection_delete": ("connection", "DELETE", "/v1/profiles/{profile_id}/connection"),
    "quality": ("quality", "GET", "/v1/profiles/{profile_id}/quality"),
}


def admin_event(route: str, *, authorizer: dict[str, Any] | None, body: Any = None,
                query: dict[str, str] | None = None, raw_body: str | None = None,
                **params: str) -> dict[str, Any]:
    """The proxy event API Gateway sends one of the admin functions after the authorizer."""
    _function, method, resource = ROUTES[route]
    path = resource
    for key, value in params.items():
        path = path.replace("{" + key + "}", value)
    request_id = f"req-{uuid.uuid4()}"
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    return {
        "resource": resource, "path": path, "httpMethod": method,
        "headers": {"Content-Type": "application/json"}, "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": params or None, "stageVariables": None,
        "requestContext": {"requestId": request_id, "stage": "prod", "path": f"/prod{path}",
                           "httpMethod": method,
                           "resourcePath": resource, "accountId": "123456789012", "apiId": "abc123",
                           "identity": {"sourceIp": "127.0.0.1"},
                           **({"authorizer": authorizer} if authorizer is not None else {})},
        "body": text, "isBase64Encoded": False,
    }


@dataclass
class User:
    env: Env
    workspace_id: str
    user_id: str
    scopes: str = ALL_SCOPES
    last_request_id: str = ""

    @property
    def authorizer(self) -> dict[str, Any]:
        return {"workspace_id": self.workspace_id, "user_id": self.user_id, "scopes": self.scopes,
                "principalId": self.user_id}

    def call(self, route: str, body: Any = None, *, query: dict[str, str] | None = None,
             raw_body: str | None = None, **params: str) -> Response:
        event = admin_event(route, authorizer=self.authorizer, body=body, query=query, raw_body=raw_body,
                            **params)
        self.last_request_id = event["requestContext"]["requestId"]
        result = load_handler(ROUTES[route][0])(event, LambdaContext(aws_request_id=str(uuid.uuid4())))
        text = result["body"]
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        headers = dict(result.get("headers") or {})
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name] = ",".join(values)
        if result["statusCode"] == 500:
            raise AssertionError(f"{route} answered 500: {text}")
        return Response(result["statusCode"], headers, parsed)

    def with_scopes(self, scopes: str) -> User:
        return User(self.env, self.workspace_id, self.user_id, scopes)


@dataclass
class Team:
    """A workspace (write-back off), a profile with an active connection, one user of each role."""

    env: Env
    workspace_id: str
    profile_id: str
    users: dict[str, User] = field(default_factory=dict)

    def __getitem__(self, role: str) -> User:
        return self.users[role]

    def rows(self, trail: str | None = None) -> list[dict[str, Any]]:
        """Audit rows of a trail (default: the workspace's own), oldest first."""
        rows = self.env.audit_rows(trail or f"workspace#{self.workspace_id}")
        return sorted(rows, key=lambda r: r["sk"])

    def role_of(self, user_id: str) -> str | None:
        from capi_writeback.store.directory.dynamodb import DynamoDirectoryStore

        return DynamoDirectoryStore().get_member_role(self.workspace_id, user_id)


def make_team(env: Env) -> Team:  # noqa: F811
    """A seeded workspace: owner (from seed_demo), admin, member and viewer; write-back off."""
    from capi_writeback.store.directory.dynamodb import DynamoDirectoryStore

    owner = env.tenant(role="owner")
    tenant_ws = owner.workspace_id
    directory = DynamoDirectoryStore()
    directory.put_workspace(tenant_ws, name="Team", writeback_enabled=False)
    team = Team(env, tenant_ws, owner.profile_id)
    team.users["owner"] = User(env, tenant_ws, owner.user_id)
    for role in ("admin", "member", "viewer"):
        user_id = f"{role}_{tenant_ws}"
        directory.put_member(tenant_ws, user_id, role)
        team.users[role] = User(env, tenant_ws, user_id)
    return team


@pytest.fixture()
def team(env: Env) -> Team:  # noqa: F811
    return make_team(env)


@pytest.fixture()
def other(env: Env) -> Team:  # noqa: F811
    """Another workspace, for the cross-workspace cases."""
    return make_team(env)
