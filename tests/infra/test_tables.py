"""The moto tables are created from template.yaml itself, with the layout the code relies on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from capi_writeback_local.stack import create_tables, default_table_name, table_env
from moto import mock_aws

EXPECTED_ENV = {
    "WORKSPACES_TABLE", "TOKENS_TABLE", "PROFILES_TABLE", "CONVERSIONS_TABLE",
    "IDEMPOTENCY_TABLE", "BREAKER_TABLE", "AUDIT_TABLE",
    "SYNCS_TABLE", "SYNC_RUNS_TABLE", "SYNC_LEDGER_TABLE",
}


@pytest.fixture()
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


def test_table_env_names_every_table_from_the_template_globals() -> None:
    env = table_env()
    assert set(env) == EXPECTED_ENV
    assert env["AUDIT_TABLE"] == "capi-writeback-audit"
    assert len(set(env.values())) == len(env)


def test_default_table_name_splits_camel_case() -> None:
    assert default_table_name("BreakerTable") == "capi-writeback-breaker"
    assert default_table_name("IdempotencyTable", prefix="x-") == "x-idempotency"


def test_create_tables_returns_env_mapping_and_tables_exist(dynamodb: Any) -> None:
    env = create_tables(dynamodb)
    assert env == table_env()
    assert sorted(dynamodb.list_tables()["TableNames"]) == sorted(env.values())


def test_create_tables_honours_explicit_names(dynamodb: Any) -> None:
    env = create_tables(dynamodb, names={"AuditTable": "my-audit"})
    assert env["AUDIT_TABLE"] == "my-audit"
    assert dynamodb.describe_table(TableName="my-audit")["Table"]["TableStatus"] == "ACTIVE"


def _keys(description: dict[str, Any]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in description["KeySchema"]]


@pytest.mark.parametrize(
    ("env_var", "keys", "ttl"),
    [
        ("WORKSPACES_TABLE", [("workspace_id", "HASH"), ("sk", "RANGE")], None),
        ("TOKENS_TABLE", [("token_hash", "HASH")], "ttl"),
        ("PROFILES_TABLE", [("profile_id", "HASH")], None),
        ("CONVERSIONS_TABLE", [("profile_id", "HASH"), ("conversion_id", "RANGE")], "ttl"),
        ("IDEMPOTENCY_TABLE", [("id", "HASH")], "expiration"),
        ("BREAKER_TABLE", [("profile_id", "HASH")], "ttl"),
        ("AUDIT_TABLE", [("profile_id", "HASH"), ("sk", "RANGE")], None),
    ],
)
def test_key_schema_and_ttl_match_the_architecture(
    dynamodb: Any, env_var: str, keys: list[tuple[str, str]], ttl: str | None
) -> None:
    name = create_tables(dynamodb)[env_var]
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert _keys(table) == keys
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl_desc = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if ttl is None:
        assert ttl_desc["TimeToLiveStatus"] == "DISABLED"
    else:
        assert ttl_desc["TimeToLiveStatus"] == "ENABLED"
        assert ttl_desc["AttributeName"] == ttl


def test_conversions_gsi_queries_by_occurred_at(dynamodb: Any) -> None:
    name = create_tables(dynamodb)["CONVERSIONS_TABLE"]
    for i, occurred in enumerate((100, 200, 300)):
        dynamodb.put_item(TableName=name, Item={"profile_id": {"S": "p"}, "conversion_id": {"S": f"c{i}"},
                                               "occurred_at": {"N": str(occurred)}})
    found = dynamodb.query(
        TableName=name, IndexName="by_occurred_at",
        KeyConditionExpression="profile_id = :p AND occurred_at BETWEEN :a AND :b",
        ExpressionAttributeValues={":p": {"S": "p"}, ":a": {"N": "150"}, ":b": {"N": "300"}},
    )["Items"]
    assert sorted(item["conversion_id"]["S"] for item in found) == ["c1", "c2"]


@pytest.mark.parametrize(("env_var", "enabled"), [("AUDIT_TABLE", "ENABLED"),
                                                  ("CONVERSIONS_TABLE", "ENABLED"),
                                                  ("TOKENS_TABLE", "DISABLED")])
def test_point_in_time_recovery(dynamodb: Any, env_var: str, enabled: str) -> None:
    name = create_tables(dynamodb)[env_var]
    backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == enabled


def test_deletion_protection_is_applied_as_the_template_declares(dynamodb: Any) -> None:
    """The audit table refuses DeleteTable locally too; the others can still be dropped."""
    env = create_tables(dynamodb)
    audit = dynamodb.describe_table(TableName=env["AUDIT_TABLE"])["Table"]
    assert audit["DeletionProtectionEnabled"] is True
    with pytest.raises(dynamodb.exceptions.ClientError, match="DeletionProtectionEnabled"):
        dynamodb.delete_table(TableName=env["AUDIT_TABLE"])
    dynamodb.delete_table(TableName=env["TOKENS_TABLE"])
    assert env["AUDIT_TABLE"] in dynamodb.list_tables()["TableNames"]
