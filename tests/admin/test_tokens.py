"""API tokens: issued once and usable at once, listed without secrets, revoked at once even under a
warm authorizer, and issued only within the caller's rank."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from capi_writeback_local.cfn_template import load_template

from tests.admin.conftest import LambdaContext, Team, load_handler

ROOT = Path(__file__).resolve().parents[2]
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/v1/workspace"


def _authorize(token: str) -> dict[str, Any]:
    """The authorizer function, warm (the same loaded module serves every call, as a warm Lambda)."""
    result: dict[str, Any] = load_handler("authorizer")(
        {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": METHOD_ARN},
        LambdaContext(aws_request_id="auth"))
    return result


def test_the_template_authorizer_caches_nothing() -> None:
    template = load_template(ROOT / "template.yaml")
    auth = template["Resources"]["CapiWritebackApi"]["Properties"]["Auth"]
    authorizer = auth["Authorizers"]["BearerToken"]
    assert authorizer["Identity"]["ReauthorizeEvery"] == 0


def test_an_issued_token_works_at_once_and_its_revocation_too_under_a_warm_authorizer(
        team: Team, capsys: pytest.CaptureFixture[str]) -> None:
    owner, member = team["owner"], team["member"]
    created = owner.call("token_create", {"user_id": member.user_id, "expires_in_days": 7, "label": "ci",
                                          "scopes": ["mcp:write", "mcp:read"]})
    assert created.status == 200, created.body
    token = created.body["token"]
    assert token.startswith("cwb_") and len(token) > 40
    assert created.body["scopes"] == ["mcp:read", "mcp:write"] and created.body["label"] == "ci"
    allowed = _authorize(token)
    assert allowed["context"]["user_id"] == member.user_id
    assert allowed["context"]["scopes"] == "mcp:read mcp:write"
    assert _authorize(token)["principalId"] == member.user_id  # warm: the same container again
    revoked = owner.call("token_revoke", token_id=created.body["token_id"])
    assert revoked.status == 200 and revoked.body == {
        "operation": "token_revoke", "request_id": owner.last_request_id,
        "token_id": created.body["token_id"], "user_id": member.user_id, "revoked": True}
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(token)
    again = owner.call("token_revoke", token_id=created.body["token_id"])
    assert (again.status, again.error_type) == (404, "TOKEN_NOT_FOUND")
    # the token was shown once, in the creation's response: nowhere in a log line or an audit row
    assert token not in capsys.readouterr().out
    assert token not in json.dumps(team.rows())
    ops = [(r["operation"], r["status"], r["change"].get("token_id")) for r in team.rows()]
    assert ("token_create", "succeeded", created.body["token_id"]) in ops
    assert ("token_revoke", "succeeded", created.body["token_id"]) in ops


def test_listing_shows_ids_never_tokens_or_hashes(team: Team) -> None:
    owner = team["owner"]
    created = owner.call("token_create", {"user_id": team["viewer"].user_id, "scopes": ["mcp:read"]}).body
    listed = owner.call("token_list")
    assert listed.status == 200
    text = json.dumps(listed.body)
    assert created["token"] not in text and "token_hash" not in text
    from capi_writeback.auth import token_hash

    assert token_hash(created["token"]) not in text
    mine = [t for t in listed.body["items"] if t["token_id"] == created["token_id"]]
    assert mine == [{"token_id": created["token_id"], "user_id": team["viewer"].user_id,
                     "scopes": ["mcp:read"],
                     "expires_at": created["expires_at"], "created_at": created["created_at"],
                     "created_by": owner.user_id, "label": None}]


def test_expired_tokens_are_not_listed(team: Team) -> None:
    owner = team["owner"]
    created = owner.call("token_create", {"user_id": team["viewer"].user_id, "scopes": ["mcp:read"],
                                          "expires_in_days": 1}).body
    team.env.clock.advance(2 * 86400)
    ids = [t["token_id"] for t in owner.call("token_list").body["items"]]
    assert created["token_id"] not in ids


def test_an_admin_issues_and_revokes_within_its_rank(team: Team) -> None:
    admin = team["admin"]
    for target in (team["owner"].user_id, "second_admin"):
        if target == "second_admin":
            team["owner"].call("member_put", {"role": "admin"}, user_id=target)
        answer = admin.call("token_create", {"user_id": target, "scopes": ["mcp:read"]})
        assert (answer.status, answer.error_type) == (403, "INSUFFICIENT_ROLE"), answer.body
    owners_token = team["owner"].call("token_create", {"user_id": team["owner"].user_id,
                                                       "scopes": ["mcp:read"]}).body
    answer = admin.call("token_revoke", token_id=owners_token["token_id"])
    assert (answer.status, answer.error_type) == (403, "INSUFFICIENT_ROLE")
    assert admin.call("token_create", {"user_id": admin.user_id, "scopes": ["admin"]}).status == 200
    for_member = admin.call("token_create", {"user_id": team["member"].user_id, "scopes": ["mcp:write"]})
    assert for_member.status == 200


def test_refusals_name_the_problem_and_the_fix(team: Team) -> None:
    owner = team["owner"]
    cases = [
        ({"user_id": team["member"].user_id, "scopes": ["admin"]}, 422, "VALIDATION_ERROR"),
        ({"user_id": "nobody", "scopes": ["mcp:read"]}, 404, "MEMBER_NOT_FOUND"),
        ({"user_id": team["member"].user_id, "scopes": []}, 422, "VALIDATION_ERROR"),
        ({"user_id": team["member"].user_id, "scopes": ["mcp:read", "mcp:read"]}, 422, "VALIDATION_ERROR"),
        ({"user_id": team["member"].user_id, "scopes": ["root"]}, 422, "VALIDATION_ERROR"),
        ({"user_id": team["member"].user_id, "scopes": ["mcp:read"], "expires_in_days": 366}, 422,
         "VALIDATION_ERROR"),
        ({"user_id": "jane@example.com", "scopes": ["mcp:read"]}, 422, "VALIDATION_ERROR"),
    ]
    for body, status, kind in cases:
        answer = owner.call("token_create", body)
        assert (answer.status, answer.error_type) == (status, kind), (body, answer.body)
        assert answer.body["error"]["fix"]
    bad_id = owner.call("token_revoke", token_id="not-a-token-id")
    assert (bad_id.status, bad_id.error_type) == (422, "VALIDATION_ERROR")
    # the e-mail address given as a user id is not echoed back
    answer = owner.call("token_create", {"user_id": "jane@example.com", "scopes": ["mcp:read"]})
    assert "jane@example.com" not in json.dumps(answer.body)
