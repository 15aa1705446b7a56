"""Storing conversions (hashed at ingest, per-row rejections) and sending a stored selection."""

from __future__ import annotations

import time

from tests.lambdas.conftest import PIXEL_ID, Env, conversion_rows


def test_store_hashes_pii_and_rejects_bad_rows(env: Env) -> None:
    tenant = env.tenant()
    rows = conversion_rows(3)
    rows.append({"outcome_type": "payment_received", "occurred_at": int(time.time())})  # no conversion_id
    rows.append({"conversion_id": "bad-time", "outcome_type": "lead_created", "occurred_at": "whenever"})
    rows.append({"conversion_id": "c0", **{k: v for k, v in rows[0].items() if k != "conversion_id"},
                 "value": 99})  # same id again: the last one wins
    response = tenant.call("conversions", {"rows": rows})
    assert response.status == 200, response.body
    assert response.body["stored"] == 3
    rejected = response.body["rejected"]
    assert [r["index"] for r in rejected] == [3, 4]
    assert rejected[1]["conversion_id"] == "bad-time"
    assert all(r["reason"] for r in rejected)

    stored = env.dynamodb.query(TableName=env.tables["CONVERSIONS_TABLE"],
                                KeyConditionExpression="profile_id = :p",
                                ExpressionAttributeValues={":p": {"S": tenant.profile_id}})["Items"]
    text = repr(stored).lower()
    assert len(stored) == 3
    for raw in ("buyer.0@example.com", "buyer.1@example.com", "555-0001", "4155550001", "ada"):
        assert raw not in text


def test_store_then_preview_and_confirm_stored_selection(env: Env) -> None:
    tenant = env.tenant()
    now = time.time()
    rows = conversion_rows(6, now=now)
    rows.append({**conversion_rows(1, start=50, now=now)[0], "occurred_at": int(now) - 20 * 86400})  # old
    assert tenant.call("conversions", {"rows": rows}).body["stored"] == 7

    lead_only = tenant.call("preview", {"outcome_types": ["lead_created"], "last_days": 7}).body
    assert lead_only["events_by_name"] == {"Lead": 2}
    everything = tenant.call("preview", {"last_days": 7}).body
    assert everything["event_count"] == 6
    assert everything["window"]["start"] < everything["window"]["end"]
    oldest_first = list(reversed(conversion_rows(6, now=now)))
    inline = tenant.call("preview", {"rows": oldest_first}).body
    assert inline["payload_hash"] == everything["payload_hash"]  # stored rows build the same events

    window = {"start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3 * 86400)),
              "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}
    confirm = tenant.call("confirm", {"window": window, "preview_id": everything["preview_id"],
                                      "idempotency_key": "stored-1"})
    assert confirm.status == 200, confirm.body
    assert confirm.body["events_received"] == 6
    assert len(env.emulator.received_events(PIXEL_ID)) == 6


def test_store_needs_write_scope_and_a_writing_role(env: Env) -> None:
    tenant = env.tenant(scopes="mcp:read")
    assert tenant.call("conversions", {"rows": conversion_rows(1)}).error_type == "MISSING_SCOPE"
    viewer = env.tenant()
    viewer.set_role("viewer")
    assert viewer.call("conversions", {"rows": conversion_rows(1)}).error_type == "INSUFFICIENT_ROLE"
    member = env.tenant()
    member.set_role("member")
    member.set_writeback(False)
    assert member.call("conversions", {"rows": conversion_rows(1)}).body["stored"] == 1
    other = env.tenant()
    assert tenant.call("conversions", {"rows": conversion_rows(1)}, profile_id=other.profile_id
                       ).error_type == "MISSING_SCOPE"
    assert member.call("conversions", {"rows": conversion_rows(1)}, profile_id=other.profile_id
                       ).error_type == "PROFILE_NOT_FOUND"


def test_more_than_1000_rows_is_refused(env: Env) -> None:
    tenant = env.tenant()
    response = tenant.call("conversions", {"rows": [{"conversion_id": str(i)} for i in range(1001)]})
    assert (response.status, response.error_type) == (422, "VALIDATION_ERROR")
    assert response.body["error"]["details"][0]["field"] == "rows"


def test_rows_dynamodb_cannot_hold_are_rejected_one_by_one(env: Env) -> None:
    """A conversion_id over DynamoDB's 1,024-byte sort key, or a row over its 400 KB item, once failed
    the whole BatchWriteItem (a 500, with earlier chunks already written)."""
    tenant = env.tenant()
    rows = conversion_rows(3)
    rows[1]["conversion_id"] = "é" * 600  # 1,200 bytes in UTF-8
    rows[2]["content_name"] = "n" * 420_000
    response = tenant.call("conversions", {"rows": rows})
    assert response.status == 200, response.body
    assert response.body["stored"] == 1
    assert [(r["index"], r["reason"]) for r in response.body["rejected"]] == [(1, "INVALID_ROW"),
                                                                             (2, "INVALID_ROW")]
    assert all("bytes" in r["detail"] for r in response.body["rejected"])
