"""Direct invocation (Step Functions): same validation, prerequisites and audit; typed error classes."""

from __future__ import annotations

import json

import pytest

from tests.lambdas.conftest import Env, LambdaContext, conversion_rows, load_handler


def _invoke(function: str, event: object) -> dict[str, object]:
    result: dict[str, object] = load_handler(function)(event, LambdaContext(aws_request_id="lambda-req-1"))
    return result


def test_preview_direct_returns_the_http_response_shape(env: Env) -> None:
    tenant = env.tenant()
    rows = conversion_rows(4)
    direct = _invoke("preview", {"profile_id": tenant.profile_id, "actor": tenant.user_id,
                                 "selection": {"rows": rows}})
    http = tenant.call("preview", {"rows": rows}).body
    assert direct["request_id"] == "lambda-req-1"
    assert {k: v for k, v in direct.items() if k != "request_id"} == \
        {k: v for k, v in http.items() if k != "request_id"}
    rows_written = [r for r in env.audit_rows(tenant.profile_id) if r["request_id"] == "lambda-req-1"]
    assert len(rows_written) == 1 and rows_written[0]["actor"] == tenant.user_id


def test_direct_errors_carry_the_spec_type_as_class_name(env: Env) -> None:
    tenant = env.tenant()
    tenant.set_role("member")
    with pytest.raises(Exception) as caught:
        _invoke("dry_run", {"profile_id": tenant.profile_id, "actor": tenant.user_id,
                            "selection": {"rows": conversion_rows(1)}})
    assert type(caught.value).__name__ == "INSUFFICIENT_ROLE"
    body = json.loads(str(caught.value))
    assert body["error"]["type"] == "INSUFFICIENT_ROLE" and body["error"]["request_id"] == "lambda-req-1"


def test_direct_has_no_scope_check_but_checks_the_actor(env: Env) -> None:
    tenant = env.tenant(scopes="")
    ok = _invoke("preview", {"profile_id": tenant.profile_id, "actor": tenant.user_id,
                             "selection": {"rows": conversion_rows(1)}})
    assert ok["event_count"] == 1
    with pytest.raises(Exception) as caught:
        _invoke("preview", {"profile_id": tenant.profile_id, "actor": "someone-else",
                            "selection": {"rows": conversion_rows(1)}})
    assert type(caught.value).__name__ == "INSUFFICIENT_ROLE"


@pytest.mark.parametrize("event", [{}, [], "text", None, {"profile_id": "p"}, {"actor": "a"},
                                   {"profile_id": "", "actor": "a"}, {"profile_id": "p", "actor": 3},
                                   {"profile_id": "p", "actor": "a", "selection": []},
                                   {"profile_id": "p", "actor": "a", "selection": {"last_days": "x"}}])
def test_direct_validation_errors(env: Env, event: object) -> None:
    with pytest.raises(Exception) as caught:
        _invoke("confirm", event)
    assert type(caught.value).__name__ == "VALIDATION_ERROR"
    assert json.loads(str(caught.value))["error"]["details"]


def test_direct_confirm_requires_key_and_replays(env: Env) -> None:
    tenant = env.tenant()
    base = {"profile_id": tenant.profile_id, "actor": tenant.user_id,
            "selection": {"rows": conversion_rows(3)}}
    with pytest.raises(Exception) as caught:
        _invoke("confirm", base)
    assert type(caught.value).__name__ == "IDEMPOTENCY_KEY_REQUIRED"
    first = _invoke("confirm", {**base, "idempotency_key": "sfn-1"})
    assert first["status"] == "succeeded" and first["replayed"] is False
    again = _invoke("confirm", {**base, "idempotency_key": "sfn-1"})
    assert again["replayed"] is True
    assert len(env.emulator.received_events("1234567890")) == 3


def test_direct_circuit_open_has_retry_after(env: Env) -> None:
    tenant = env.tenant()
    from capi_writeback.flow import default_services

    for _ in range(3):
        default_services().breaker.record_failure(tenant.profile_id)
    with pytest.raises(Exception) as caught:
        _invoke("confirm", {"profile_id": tenant.profile_id, "actor": tenant.user_id,
                            "selection": {"rows": conversion_rows(1)}, "idempotency_key": "k"})
    assert type(caught.value).__name__ == "CIRCUIT_OPEN"
    assert json.loads(str(caught.value))["error"]["retry_after"] > 0


@pytest.mark.parametrize("where", ["row", "actor"])
def test_direct_lone_surrogate_is_a_validation_error(env: Env, where: str) -> None:
    tenant = env.tenant()
    rows = [{**conversion_rows(1)[0], **({"conversion_id": "x\ud800"} if where == "row" else {})}]
    actor = tenant.user_id + ("\ud800" if where == "actor" else "")
    with pytest.raises(Exception) as caught:
        _invoke("confirm", {"profile_id": tenant.profile_id, "actor": actor, "idempotency_key": "k",
                            "selection": {"rows": rows}})
    assert type(caught.value).__name__ == "VALIDATION_ERROR", caught.value


def test_the_audit_row_says_how_the_call_came_in(env: Env) -> None:
    tenant = env.tenant()
    _invoke("preview", {"profile_id": tenant.profile_id, "actor": tenant.user_id,
                        "selection": {"rows": conversion_rows(1)}})
    over_http = tenant.call("preview", {"rows": conversion_rows(1)}).body["request_id"]
    with pytest.raises(Exception) as refused:
        _invoke("confirm", {"profile_id": tenant.profile_id, "actor": tenant.user_id,
                            "selection": {"rows": conversion_rows(1)}})
    assert type(refused.value).__name__ == "IDEMPOTENCY_KEY_REQUIRED"
    via = {(r["operation"], r["request_id"]): r["via"] for r in env.audit_rows(tenant.profile_id)}
    assert via == {("preview", "lambda-req-1"): "step_functions", ("preview", over_http): "api",
                   ("confirm", "lambda-req-1"): "step_functions"}
