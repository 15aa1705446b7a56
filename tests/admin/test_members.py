"""Members: an owner cannot be demoted, removed or made by an admin; the last owner stays, also when
two owners remove each other at the same moment; removing a member revokes their tokens."""

from __future__ import annotations

import threading

import pytest
from capi_writeback.store.directory.base import DirectoryConflict, token_item
from capi_writeback.store.directory.dynamodb import DynamoDirectoryStore
from capi_writeback.store.directory.memory import MemoryDirectoryStore

from tests.admin.conftest import Team


def test_an_admin_can_neither_demote_remove_nor_make_an_owner(team: Team) -> None:
    admin, owner = team["admin"], team["owner"]
    for answer in (admin.call("member_put", {"role": "admin"}, user_id=owner.user_id),
                   admin.call("member_remove", user_id=owner.user_id),
                   admin.call("member_put", {"role": "owner"}, user_id=team["member"].user_id),
                   admin.call("member_put", {"role": "owner"}, user_id="newcomer")):
        assert (answer.status, answer.error_type) == (403, "INSUFFICIENT_ROLE"), answer.body
        assert "owner" in answer.body["error"]["message"] and answer.body["error"]["fix"]
    assert team.role_of(owner.user_id) == "owner"
    assert team.role_of(team["member"].user_id) == "member" and team.role_of("newcomer") is None


def test_an_admin_manages_admins_members_and_viewers(team: Team) -> None:
    admin = team["admin"]
    assert admin.call("member_put", {"role": "admin"}, user_id="helper").status == 200
    assert admin.call("member_put", {"role": "member"}, user_id=team["viewer"].user_id).status == 200
    assert team.role_of("helper") == "admin" and team.role_of(team["viewer"].user_id) == "member"


def test_the_last_owner_can_be_neither_demoted_nor_removed(team: Team) -> None:
    owner = team["owner"]
    for answer in (owner.call("member_put", {"role": "admin"}, user_id=owner.user_id),
                   owner.call("member_remove", user_id=owner.user_id)):
        assert (answer.status, answer.error_type) == (409, "LAST_OWNER"), answer.body
    assert team.role_of(owner.user_id) == "owner"
    # with a second owner, the first may step down
    assert owner.call("member_put", {"role": "owner"}, user_id=team["admin"].user_id).status == 200
    answer = owner.call("member_put", {"role": "member"}, user_id=owner.user_id)
    assert answer.status == 200 and answer.body["previous_role"] == "owner"
    (row,) = [r for r in team.rows() if r["request_id"] == owner.last_request_id]
    assert row["change"] == {"user_id": owner.user_id, "to": "member", "from": "owner"}
    refused = [r for r in team.rows() if r["status"] == "refused"]
    assert {r["error"]["type"] for r in refused} == {"LAST_OWNER"}


def test_two_owners_removing_each_other_at_once_leave_one(team: Team) -> None:
    first = team["owner"]
    assert first.call("member_put", {"role": "owner"}, user_id=team["admin"].user_id).status == 200
    second = team["admin"]  # now an owner
    start = threading.Barrier(2)
    answers = {}

    def remove(caller_name: str, target: str) -> None:
        caller = first if caller_name == "first" else second
        start.wait()
        answers[caller_name] = caller.call("member_remove", user_id=target)

    threads = [threading.Thread(target=remove, args=("first", second.user_id)),
               threading.Thread(target=remove, args=("second", first.user_id))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # one wins; the other is refused: LAST_OWNER, or, when the winner removed it first, it is no
    # longer a member at all (INSUFFICIENT_ROLE)
    outcomes = sorted((a.status, a.error_type) for a in answers.values())
    assert outcomes in ([(200, None), (403, "INSUFFICIENT_ROLE")], [(200, None), (409, "LAST_OWNER")]), \
        {k: a.body for k, a in answers.items()}
    owners = DynamoDirectoryStore().members(team.workspace_id).owners
    assert len(owners) == 1


@pytest.mark.parametrize("backend", ["memory", "dynamodb"])
def test_owner_guard_is_one_conditional_write(team: Team, backend: str) -> None:
    """A write made with a stale owners version is refused whole: the member is not touched."""
    directory = MemoryDirectoryStore() if backend == "memory" else DynamoDirectoryStore()
    workspace = team.workspace_id if backend == "dynamodb" else "ws_memory"
    if backend == "memory":
        directory.put_workspace(workspace, name="m")
        directory.put_member(workspace, "a", "owner")
        directory.put_member(workspace, "b", "owner")
    else:
        directory.put_member(workspace, "b", "owner")
    a = team["owner"].user_id if backend == "dynamodb" else "a"
    seen = directory.members(workspace)
    directory.write_member(workspace, "b", None, expected_role="owner", owners_version=seen.owners_version)
    with pytest.raises(DirectoryConflict):  # counted two owners at the old version: refused
        directory.write_member(workspace, a, None, expected_role="owner", owners_version=seen.owners_version)
    assert directory.members(workspace).owners == [a]
    with pytest.raises(DirectoryConflict):  # the role is not what the caller read
        directory.write_member(workspace, a, "viewer", expected_role="admin", owners_version=None)


def test_removing_a_member_revokes_their_tokens(team: Team) -> None:
    from capi_writeback.auth import token_hash

    directory = DynamoDirectoryStore()
    member = team["member"]
    hashes = [token_hash(f"member-token-{i}") for i in range(2)]
    for h in hashes:
        directory.create_token(token_item(h, workspace_id=team.workspace_id, user_id=member.user_id,
                                          scopes=["mcp:read"], expires_at=team.env.clock() + 3600))
    answer = team["owner"].call("member_remove", user_id=member.user_id)
    assert answer.status == 200 and answer.body["tokens_revoked"] == 2
    assert all(directory.get_token(h) is None for h in hashes)
    assert team.role_of(member.user_id) is None
    again = team["owner"].call("member_remove", user_id=member.user_id)
    assert (again.status, again.error_type) == (404, "MEMBER_NOT_FOUND")


def test_workspace_audit_pages_newest_first(team: Team) -> None:
    owner = team["owner"]
    for i in range(3):
        team.env.clock.advance(1)
        assert owner.call("member_put", {"role": "viewer"}, user_id=f"v{i}").status == 200
    first = owner.call("workspace_audit", query={"limit": "2"})
    assert first.status == 200
    assert [r["change"]["user_id"] for r in first.body["items"]] == ["v2", "v1"]
    second = owner.call("workspace_audit", query={"limit": "2", "next": first.body["next"]})
    assert [r["change"]["user_id"] for r in second.body["items"]] == ["v0"]
    bad = owner.call("workspace_audit", query={"next": "nope"})
    assert (bad.status, bad.error_type) == (422, "VALIDATION_ERROR")


def test_settings_turn_writeback_on_and_say_what_changed(team: Team) -> None:
    answer = team["admin"].call("settings", {"writeback_enabled": True})
    assert answer.status == 200 and answer.body["writeback_enabled"] is True
    assert team["owner"].call("get_workspace").body["writeback_enabled"] is True
    (row,) = [r for r in team.rows() if r["operation"] == "workspace_settings"]
    assert row["change"] == {"writeback_enabled": {"from": False, "to": True}}
    assert row["actor"] == team["admin"].user_id
    empty = team["admin"].call("settings", {})
    assert (empty.status, empty.error_type) == (422, "VALIDATION_ERROR")
    typo = team["admin"].call("settings", {"writeback": True})
    assert (typo.status, typo.error_type) == (422, "VALIDATION_ERROR")


def test_members_are_listed_for_owners_and_admins_only(team: Team) -> None:
    listed = team["admin"].call("get_workspace").body
    assert {m["user_id"]: m["role"] for m in listed["members"]}[team["viewer"].user_id] == "viewer"
    assert listed["you"] == {"user_id": team["admin"].user_id, "role": "admin",
                             "scopes": ["admin", "mcp:read", "mcp:write"]}
    assert team["member"].call("get_workspace").body["members"] == []
