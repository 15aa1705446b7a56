"""The embedded stack: moto on loopback with the template's tables, a seeded demo workspace."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import pytest
from capi_writeback import store
from capi_writeback.auth import principal_for_token, token_hash
from capi_writeback.store.directory.dynamodb import DynamoDirectoryStore
from capi_writeback_local.stack import EmbeddedStack, table_env


@pytest.fixture()
def stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack() as running:
        store.reset_client()
        yield running
    store.reset_client()


def test_points_boto3_at_loopback_and_sets_table_env(stack: EmbeddedStack) -> None:
    assert stack.endpoint_url.startswith("http://127.0.0.1:")
    assert os.environ["AWS_ENDPOINT_URL"] == stack.endpoint_url
    for env_var, name in table_env().items():
        assert os.environ[env_var] == name
    names = stack.client("dynamodb").list_tables()["TableNames"]
    assert sorted(names) == sorted(table_env().values())


def test_seed_demo_is_readable_through_the_layer_stores(stack: EmbeddedStack) -> None:
    seed = stack.seed_demo(pixel_id="555", meta_token="meta-secret", profile_id="prof_seed")
    directory = DynamoDirectoryStore()  # table names and endpoint from the environment
    principal = principal_for_token(directory, seed.api_token, time.time())
    assert principal is not None
    assert (principal.workspace_id, principal.user_id) == (seed.workspace_id, seed.user_id)
    assert principal.scopes is not None and "mcp:write" in principal.scopes
    assert directory.get_member_role(seed.workspace_id, seed.user_id) == "owner"
    assert directory.get_workspace_settings(seed.workspace_id)["writeback_enabled"] is True
    profile = directory.get_profile("prof_seed")
    assert profile is not None
    assert profile["connection"]["status"] == "active"
    assert profile["connection"]["pixel_id"] == "555"
    assert seed.secret_id == "capi-writeback/connections/prof_seed"
    secret = stack.client("secretsmanager").get_secret_value(SecretId=seed.secret_id)
    assert json.loads(secret["SecretString"]) == {"access_token": "meta-secret"}


def test_token_is_stored_only_as_its_hash(stack: EmbeddedStack) -> None:
    seed = stack.seed_demo(api_token="cwb_plain_token_value", profile_id="prof_hash")
    client = stack.client("dynamodb")
    items = client.scan(TableName=os.environ["TOKENS_TABLE"])["Items"]
    dumped = json.dumps(items)
    assert "cwb_plain_token_value" not in dumped
    assert token_hash(seed.api_token) in dumped
    assert "cwb_plain_token_value" not in repr(seed)


def test_seeding_twice_updates_the_secret(stack: EmbeddedStack) -> None:
    stack.seed_demo(meta_token="first", profile_id="prof_twice")
    seed = stack.seed_demo(meta_token="second", profile_id="prof_twice")
    secret = stack.client("secretsmanager").get_secret_value(SecretId=seed.secret_id)
    assert json.loads(secret["SecretString"])["access_token"] == "second"


def test_stop_restores_the_environment() -> None:
    before = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AUDIT_TABLE", "AWS_ACCESS_KEY_ID")}
    with EmbeddedStack() as inner:
        assert os.environ["AWS_ENDPOINT_URL"] == inner.endpoint_url
    after = {k: os.environ.get(k) for k in before}
    assert after == before
    inner.stop()  # a second stop is harmless


def test_seed_demo_adds_a_member_with_a_read_only_token(stack: EmbeddedStack) -> None:
    """SPEC §7: serve's `read_token` is a member's token with only mcp:read."""
    seed = stack.seed_demo(profile_id="prof_reader")
    directory = DynamoDirectoryStore()
    reader = principal_for_token(directory, seed.read_token, time.time())
    assert reader is not None and seed.read_token != seed.api_token
    assert reader.workspace_id == seed.workspace_id and reader.user_id != seed.user_id
    assert reader.scopes == frozenset({"mcp:read"})
    assert directory.get_member_role(seed.workspace_id, reader.user_id) == "member"
    assert seed.read_token not in repr(seed)
