"""Bodies that once broke the API (issue 9): each is a typed answer now, never INTERNAL.

Bytes that are no UTF-8 text, JSON nested past the documented depth, integers too large for a float,
keys with a trailing newline and numbers past the sanity bounds of `capi_writeback.limits`.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from capi_writeback.limits import MAX_JSON_DEPTH

from tests.lambdas.conftest import (
    Env,
    LambdaContext,
    Response,
    Tenant,
    conversion_rows,
    load_handler,
    proxy_event,
)

STEPS = ["preview", "dry_run", "confirm", "conversions"]


def _body(step: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"rows": rows, "idempotency_key": "k-hostile"} if step == "confirm" else {"rows": rows}


def _call_bytes(tenant: Tenant, step: str, payload: bytes) -> Response:
    """A body API Gateway hands over base64-encoded (what it does with bytes that are no text)."""
    event = proxy_event(step, tenant.profile_id, authorizer=tenant.authorizer,
                        raw_body=base64.b64encode(payload).decode("ascii"))
    event["isBase64Encoded"] = True
    result = load_handler(step)(event, LambdaContext(aws_request_id="x"))
    return Response(result["statusCode"], dict(result.get("headers") or {}), json.loads(result["body"]))


def _assert_body_refused(response: Response, *words: str) -> None:
    assert (response.status, response.error_type) == (422, "VALIDATION_ERROR"), response.body
    error = response.body["error"]
    assert error["message"] and error["fix"] and error["request_id"]
    detail = error["details"][0]
    assert detail["field"] == "body", detail
    for word in words:
        assert word in detail["message"], detail


ENCODINGS = {
    "latin-1": lambda text: text.encode("latin-1"),
    "utf-16 with BOM": lambda text: text.encode("utf-16"),
    "utf-16-le": lambda text: text.encode("utf-16-le"),
    "utf-8 with BOM": lambda text: b"\xef\xbb\xbf" + text.encode("utf-8"),
    "cp1252 smart quotes": lambda text: text.encode("utf-8").replace(b'"first_name"', b'\x93first_name\x94'),
}


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_a_body_that_is_not_utf8_text_is_a_validation_error_naming_the_body(
        env: Env, step: str, encoding: str) -> None:
    tenant = env.tenant()
    row = {**conversion_rows(1)[0], "first_name": "José"}
    payload = ENCODINGS[encoding](json.dumps(_body(step, [row]), ensure_ascii=False))
    response = _call_bytes(tenant, step, payload)
    _assert_body_refused(response)
    assert "UTF-8" in response.body["error"]["details"][0]["message"]
    assert env.emulator.ledger() == []


@pytest.mark.parametrize("step", ["preview", "conversions"])
def test_the_same_body_base64_encoded_in_utf8_is_served(env: Env, step: str) -> None:
    """Only the encoding is refused: the same rows as UTF-8 bytes (base64 by the gateway) are fine."""
    tenant = env.tenant()
    row = {**conversion_rows(1)[0], "first_name": "José"}
    response = _call_bytes(tenant, step, json.dumps({"rows": [row]}, ensure_ascii=False).encode("utf-8"))
    assert response.status == 200, response.body


@pytest.mark.parametrize("step", STEPS)
def test_a_body_marked_base64_that_is_not_base64_is_a_validation_error(env: Env, step: str) -> None:
    tenant = env.tenant()
    event = proxy_event(step, tenant.profile_id, authorizer=tenant.authorizer, raw_body="{not base64!}")
    event["isBase64Encoded"] = True
    result = load_handler(step)(event, LambdaContext(aws_request_id="x"))
    _assert_body_refused(Response(result["statusCode"], {}, json.loads(result["body"])), "base64")


def test_a_refused_encoding_of_an_audited_step_is_audited(env: Env) -> None:
    tenant = env.tenant()
    _call_bytes(tenant, "preview", json.dumps({"rows": conversion_rows(1)}).encode("utf-16"))
    from capi_writeback.rails.audit.log import AuditRow

    rows = [AuditRow.from_item(item).to_dict() for item in env.audit_rows(tenant.profile_id)]
    assert [(r["operation"], r["status"], r["error"]["type"]) for r in rows] == [
        ("preview", "refused", "VALIDATION_ERROR")]


def _nested(depth: int) -> str:
    """A JSON value `depth` containers deep (1 = `[]`)."""
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, 999, 100_000])
def test_json_nested_past_the_documented_depth_is_a_validation_error(env: Env, step: str, depth: int) -> None:
    tenant = env.tenant()
    row = {**conversion_rows(1)[0], "contents": "DEEP"}
    raw = json.dumps(_body(step, [row])).replace('"DEEP"', _nested(depth))
    response = tenant.call(step, raw_body=raw)
    _assert_body_refused(response, "nested", str(MAX_JSON_DEPTH))
    assert env.emulator.ledger() == []


@pytest.mark.parametrize("step", ["preview", "conversions"])
def test_json_nested_up_to_the_documented_depth_is_read(env: Env, step: str) -> None:
    """{"rows": [{"contents": ...}]}: the body, the list and the row are three levels."""
    tenant = env.tenant()
    raw = json.dumps({"rows": [{**conversion_rows(1)[0], "contents": "DEEP"}]}).replace(
        '"DEEP"', _nested(MAX_JSON_DEPTH - 3))
    response = tenant.call(step, raw_body=raw)
    assert response.status == 200, response.body


def test_brackets_inside_strings_are_not_nesting(env: Env) -> None:
    tenant = env.tenant()
    row = {**conversion_rows(1)[0], "content_name": "[" * 500 + '\\"{' * 100, "order_id": '"]]]\\'}
    response = tenant.call("preview", {"rows": [row]})
    assert response.status == 200, response.body
    assert response.body["sample_events"][0]["custom_data"]["content_name"] == row["content_name"]


def test_an_occurred_at_too_large_for_a_float_is_a_missing_timestamp_when_storing(env: Env) -> None:
    tenant = env.tenant()
    rows = [{**conversion_rows(1)[0], "occurred_at": 10 ** 400}, conversion_rows(1, start=1)[0]]
    response = tenant.call("conversions", {"rows": rows})
    assert response.status == 200, response.body
    assert response.body["stored"] == 1
    assert [(r["index"], r["reason"]) for r in response.body["rejected"]] == [(0, "MISSING_TIMESTAMP")]
    preview = tenant.call("preview", {"rows": rows})
    assert [s["reason"] for s in preview.body["skipped"]] == ["MISSING_TIMESTAMP"]


@pytest.mark.parametrize("key", ["k\n", "k\r\n", "k\t", "\nk", "k\x00"])
def test_an_idempotency_key_with_a_control_character_is_refused(env: Env, key: str) -> None:
    """`$` matches before a trailing newline: "k\\n" was once a different key than "k"."""
    tenant = env.tenant()
    tenant.set_writeback(True)
    response = tenant.call("confirm", {"rows": conversion_rows(1), "idempotency_key": key})
    assert (response.status, response.error_type) == (422, "VALIDATION_ERROR"), response.body
    assert [d["field"] for d in response.body["error"]["details"]] == ["idempotency_key"]
    assert env.emulator.ledger() == []
