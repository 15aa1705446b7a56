"""The TOKEN authorizer: allow with context for a live token; "Unauthorized" for everything else."""

from __future__ import annotations

import time

import pytest

from tests.lambdas.conftest import Env, load_handler

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/Prod/POST/v1/profiles/p/writeback/preview"


def _authorize(header: str | None) -> dict[str, object]:
    event = {"type": "TOKEN", "methodArn": METHOD_ARN}
    if header is not None:
        event["authorizationToken"] = header
    result: dict[str, object] = load_handler("authorizer")(event, None)
    return result


def test_valid_token_allows_with_context(env: Env) -> None:
    tenant = env.tenant()
    result = _authorize(f"Bearer {tenant.token}")
    assert result["principalId"] == tenant.user_id
    assert result["context"] == {"workspace_id": tenant.workspace_id, "user_id": tenant.user_id,
                                 "scopes": "admin mcp:read mcp:write"}  # the seeded owner token
    statement = result["policyDocument"]["Statement"][0]  # type: ignore[index]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == "arn:aws:execute-api:us-east-1:123456789012:abc123/Prod/*"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic abc", "Bearer not-a-token",
                                    "bearer a b", "Token x"])
def test_missing_malformed_or_unknown_token_is_unauthorized(env: Env, header: str | None) -> None:
    env.tenant()
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(header)


def test_expired_token_is_unauthorized(env: Env) -> None:
    from capi_writeback.auth import token_hash

    tenant = env.tenant()
    item = env.get("TOKENS_TABLE", {"token_hash": token_hash(tenant.token)})
    item["expires_at"] = int(time.time()) - 1
    env.put("TOKENS_TABLE", item)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(f"Bearer {tenant.token}")


def test_token_is_stored_only_as_its_hash(env: Env) -> None:
    tenant = env.tenant()
    items = env.dynamodb.scan(TableName=env.tables["TOKENS_TABLE"])["Items"]
    assert tenant.token not in repr(items)
