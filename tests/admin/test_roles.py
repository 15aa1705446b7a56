"""Every admin route with its role matrix (owner, admin, member, viewer, another workspace's owner)
and the audit row each change leaves, with its actor (SPEC §11.1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from capi_writeback.auth import token_hash
from capi_writeback.store.directory.dynamodb import DynamoDirectoryStore

from tests.admin.conftest import META_TOKEN, PIXEL_ID, ROUTES, Team, User

ROLES = ("owner", "admin", "member", "viewer", "other")
READS = {"get_workspace", "profile_list", "profile_get", "quality"}
# the routes that change something, and the trail their audit row goes to
PROFILE_TRAIL = {"profile_update", "connection_put", "connection_delete"}


def _token_of(team: Team, role: str) -> str:
    """A token id of the member of `role` (seeded directly: the route under test is not used)."""
    directory = DynamoDirectoryStore()
    item = {"token_hash": token_hash(f"seed-{team.workspace_id}-{role}"), "token_id": "",
            "workspace_id": team.workspace_id, "user_id": team[role].user_id}
    from capi_writeback.store.directory.base import token_item

    stored = token_item(item["token_hash"], workspace_id=team.workspace_id, user_id=item["user_id"],
                        scopes=["mcp:read"], expires_at=team.env.clock() + 3600)
    directory.create_token(stored)
    return str(stored["token_id"])


Call = Callable[[Team, User, Any], Any]
# route -> how to call it on `team`'s things as `user` (another workspace's owner calls it on them too)
CALLS: dict[str, Call] = {
    "get_workspace": lambda t, u, x: u.call("get_workspace"),
    "settings": lambda t, u, x: u.call("settings", {"writeback_enabled": True}),
    "member_put": lambda t, u, x: u.call("member_put", {"role": "viewer"}, user_id=t["member"].user_id),
    "member_remove": lambda t, u, x: u.call("member_remove", user_id=t["viewer"].user_id),
    "workspace_audit": lambda t, u, x: u.call("workspace_audit"),
    "token_create": lambda t, u, x: u.call("token_create", {"user_id": t["member"].user_id,
                                                             "scopes": ["mcp:read"]}),
    "token_list": lambda t, u, x: u.call("token_list"),
    "token_revoke": lambda t, u, x: u.call("token_revoke", token_id=x),
    "profile_create": lambda t, u, x: u.call("profile_create", {"name": "Second shop"}),
    "profile_list": lambda t, u, x: u.call("profile_list"),
    "profile_get": lambda t, u, x: u.call("profile_get", profile_id=t.profile_id),
    "profile_update": lambda t, u, x: u.call("profile_update", {"name": "Renamed"}, profile_id=t.profile_id),
    "connection_put": lambda t, u, x: u.call("connection_put",
                                             {"pixel_id": PIXEL_ID, "access_token": META_TOKEN},
                                             profile_id=t.profile_id),
    "connection_delete": lambda t, u, x: u.call("connection_delete", profile_id=t.profile_id),
    "quality": lambda t, u, x: u.call("quality", profile_id=t.profile_id),
}
# what a call needs made before the state is read (so the check sees only what the call changed)
PREPARE: dict[str, Callable[[Team], Any]] = {"token_revoke": lambda t: _token_of(t, "member")}
# What another workspace's owner gets when aiming at this team's things: refused as not found, or
# served on its own workspace (workspace-level routes have no way to name another workspace).
OTHER_NOT_FOUND = {"profile_get": "PROFILE_NOT_FOUND", "profile_update": "PROFILE_NOT_FOUND",
                   "connection_put": "PROFILE_NOT_FOUND", "connection_delete": "PROFILE_NOT_FOUND",
                   "quality": "PROFILE_NOT_FOUND", "member_remove": "MEMBER_NOT_FOUND",
                   "token_create": "MEMBER_NOT_FOUND", "token_revoke": "TOKEN_NOT_FOUND"}


def test_every_admin_route_is_in_the_matrix() -> None:
    from capi_writeback.api.routes import admin_routers

    served = {route for router in admin_routers() for route in router._routes}  # (path, method, ...)
    assert len(served) == len(ROUTES) == len(CALLS)


def _snapshot(team: Team) -> dict[str, Any]:
    from capi_writeback.store.directory.dynamodb import DynamoDirectoryStore

    directory = DynamoDirectoryStore()
    return {"settings": directory.get_workspace_settings(team.workspace_id),
            "members": directory.members(team.workspace_id).roles,
            "tokens": sorted(t["token_id"] for t in directory.list_tokens(team.workspace_id)),
            "profiles": directory.list_profiles(team.workspace_id)}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", sorted(CALLS))
def test_role_matrix(team: Team, other: Team, route: str, role: str) -> None:
    caller = other["owner"] if role == "other" else team[role]
    prepared = PREPARE.get(route, lambda _t: None)(team)
    before = _snapshot(team)
    answer = CALLS[route](team, caller, prepared)
    if role == "other":
        if route in OTHER_NOT_FOUND:
            assert (answer.status, answer.error_type) in {(404, OTHER_NOT_FOUND[route])}, answer.body
        else:  # served, but on its own workspace: nothing of this team's is seen or changed
            assert answer.status == 200, answer.body
            assert repr(team.workspace_id) not in repr(answer.body)  # no value is this workspace's id
            assert repr(team.profile_id) not in repr(answer.body)
        assert _snapshot(team) == before
        return
    allowed = route in READS or role in ("owner", "admin")
    if allowed:
        assert answer.status == 200, answer.body
    else:
        assert (answer.status, answer.error_type) == (403, "INSUFFICIENT_ROLE"), answer.body
        assert _snapshot(team) == before
    if route in READS or route in ("workspace_audit", "token_list"):
        return
    trail = team.profile_id if route in PROFILE_TRAIL else None
    (row,) = [r for r in team.rows(trail) if r["request_id"] == caller.last_request_id]
    assert row["actor"] == caller.user_id and row["workspace_id"] == team.workspace_id
    assert row["status"] == ("succeeded" if allowed else "refused")
    if not allowed:
        assert row["error"]["type"] == "INSUFFICIENT_ROLE"


@pytest.mark.parametrize("route", sorted(set(CALLS) - READS))
def test_changes_need_the_admin_scope(team: Team, route: str) -> None:
    owner = team["owner"].with_scopes("mcp:read mcp:write")
    prepared = PREPARE.get(route, lambda _t: None)(team)
    before = _snapshot(team)
    answer = CALLS[route](team, owner, prepared)
    assert (answer.status, answer.error_type) == (403, "MISSING_SCOPE"), answer.body
    assert "admin" in answer.body["error"]["message"] and answer.body["error"]["fix"]
    assert _snapshot(team) == before


@pytest.mark.parametrize("route", sorted(READS))
def test_reads_take_any_scope(team: Team, route: str) -> None:
    assert CALLS[route](team, team["viewer"].with_scopes("mcp:read"), None).status == 200


def test_without_an_authorizer_context_every_route_is_unauthenticated(team: Team) -> None:
    from tests.admin.conftest import LambdaContext, admin_event, load_handler

    for route, (function, _method, resource) in ROUTES.items():
        params = {k: "x_1" for k in ("user_id", "profile_id") if "{" + k + "}" in resource}
        if "{token_id}" in resource:
            params["token_id"] = "tok_0123456789abcdef"
        result = load_handler(function)(admin_event(route, authorizer=None, body={}, **params),
                                        LambdaContext(aws_request_id="x"))
        assert result["statusCode"] in (401, 422), (route, result["body"])
