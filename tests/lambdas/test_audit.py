"""The audit trail: one append-only row per operation (refused ones too), every SPEC §6 field, read by
owners/admins newest first; and no update/delete ever reaches the audit table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.lambdas.conftest import Env, conversion_rows

SPEC_FIELDS = {"audit_id", "profile_id", "workspace_id", "actor", "operation", "request_id", "payload_hash",
               "event_count", "window", "idempotency_key", "pixel_id", "fbtrace_ids", "status", "error",
               "created_at"}
FORBIDDEN = {"UpdateItem", "DeleteItem", "BatchWriteItem", "ExecuteStatement", "BatchExecuteStatement",
             "ExecuteTransaction", "TransactWriteItems"}


class AuditCalls:
    """A botocore `before-call` hook on the shared DynamoDB client: every call touching the audit table."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        # `params` is the serialized request here: the API parameters are its JSON body.
        body = params.get("body") or b"{}"
        api_params = json.loads(body.decode() if isinstance(body, bytes) else body)
        if self.table in json.dumps(api_params):
            self.calls.append((model.name, api_params))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture()
def audit_calls(env: Env) -> Iterator[AuditCalls]:
    from capi_writeback.store import client

    hook = AuditCalls(env.tables["AUDIT_TABLE"])
    events = client().meta.events
    events.register("before-call.dynamodb.*", hook)
    yield hook
    events.unregister("before-call.dynamodb.*", hook)


def test_one_row_per_operation_refused_ones_included(env: Env, audit_calls: AuditCalls) -> None:
    tenant = env.tenant()
    rows = conversion_rows(3)
    requests = [
        ("preview", {"rows": rows}, 200),
        ("dry_run", {"rows": rows}, 200),
        ("confirm", {"rows": rows, "idempotency_key": "a-1"}, 200),
        ("confirm", {"rows": rows, "idempotency_key": "a-1"}, 200),                 # replay
        ("confirm", {"rows": conversion_rows(4), "idempotency_key": "a-1"}, 409),   # key reused
        ("confirm", {"rows": rows}, 422),                                           # no key
        ("preview", {"rows": "not rows"}, 422),                                     # malformed
        ("dry_run", {"rows": rows, "pixel_id": "42"}, 422),                         # wrong pixel
    ]
    request_ids = []
    for function, body, status in requests:
        response = tenant.call(function, body)
        assert response.status == status, (function, response.body)
        request_ids.append(response.body.get("request_id") or response.body["error"]["request_id"])
    tenant.set_role("member")
    refused = tenant.call("preview", {"rows": rows})
    assert refused.error_type == "INSUFFICIENT_ROLE"
    request_ids.append(refused.body["error"]["request_id"])

    from capi_writeback.rails.audit.log import AuditRow

    audit = [AuditRow.from_item(item).to_dict() for item in env.audit_rows(tenant.profile_id)]
    assert sorted(r["request_id"] for r in audit) == sorted(request_ids)  # exactly one row each
    for row in audit:
        assert set(row) >= SPEC_FIELDS, SPEC_FIELDS - set(row)
        assert row["workspace_id"] == tenant.workspace_id and row["actor"] == tenant.user_id
        assert row["pixel_id"] == "1234567890"
    by_request = {r["request_id"]: r for r in audit}
    confirm = by_request[request_ids[2]]
    assert confirm["operation"] == "confirm" and confirm["status"] == "succeeded"
    assert confirm["idempotency_key"] == "a-1" and confirm["event_count"] == 3
    assert confirm["payload_hash"].startswith("sha256:") and confirm["fbtrace_ids"]
    assert by_request[request_ids[3]]["status"] == "replayed"
    assert by_request[request_ids[4]]["error"]["type"] == "IDEMPOTENCY_KEY_REUSED"
    assert by_request[request_ids[5]]["error"]["type"] == "IDEMPOTENCY_KEY_REQUIRED"
    assert by_request[request_ids[6]]["error"]["type"] == "VALIDATION_ERROR"
    assert by_request[request_ids[8]]["status"] == "refused"

    names = audit_calls.names()
    assert not FORBIDDEN & set(names), names
    puts = [params for name, params in audit_calls.calls if name == "PutItem"]
    assert len(puts) == len(request_ids)
    assert all("attribute_not_exists" in p["ConditionExpression"] for p in puts)


def test_audit_get_newest_first_paginated_for_admins(env: Env) -> None:
    tenant = env.tenant(scopes="mcp:read mcp:write")
    for i in range(5):
        env.clock.advance(1)
        tenant.call("preview", {"rows": conversion_rows(i + 1)})
    first = tenant.call("audit", query={"limit": "2"})
    assert first.status == 200, first.body
    assert [r["event_count"] for r in first.body["items"]] == [5, 4]
    assert first.body["next"]
    second = tenant.call("audit", query={"limit": "2", "next": first.body["next"]})
    third = tenant.call("audit", query={"limit": "2", "next": second.body["next"]})
    assert [r["event_count"] for r in second.body["items"]] == [3, 2]
    assert [r["event_count"] for r in third.body["items"]] == [1]
    assert third.body["next"] is None
    assert set(first.body["items"][0]) >= SPEC_FIELDS

    reader = env.tenant(scopes="mcp:read")
    assert reader.call("audit").status == 200
    tenant.set_role("member")
    assert tenant.call("audit").error_type == "INSUFFICIENT_ROLE"
    assert reader.call("audit", profile_id=tenant.profile_id).error_type == "PROFILE_NOT_FOUND"
    nobody = env.tenant(scopes="profile:read")
    assert nobody.call("audit").error_type == "MISSING_SCOPE"
    # a cursor of another profile's trail is refused
    assert reader.call("audit", query={"next": first.body["next"]}).error_type == "VALIDATION_ERROR"
