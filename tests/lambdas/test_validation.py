"""Malformed requests: always a typed 4xx (VALIDATION_ERROR naming the fields), never INTERNAL."""

from __future__ import annotations

import base64
import json

import pytest

from tests.lambdas.conftest import Env, conversion_rows

MALFORMED_BODIES: list[str | None] = [
    None, "", " ", "{", "}", "[", "null", "true", "0", "\"text\"", "[]", "[{}]", "{\"rows\": ",
    "{'rows': []}", "\x00\x01", "{\"rows\": null}", "{\"rows\": []}", "{\"rows\": {}}", "{\"rows\": [1, 2]}",
    "{\"rows\": [\"a\"]}", "{\"rows\": [[]]}", "{\"last_days\": 0}", "{\"last_days\": -3}",
    "{\"last_days\": 1000}", "{\"last_days\": \"seven\"}", "{\"last_days\": 1.5}", "{\"last_days\": 7, "
    "\"window\": {\"start\": \"2026-01-01T00:00:00Z\", \"end\": \"2026-01-02T00:00:00Z\"}}",
    "{\"window\": {\"start\": \"yesterday\", \"end\": \"today\"}}",
    "{\"window\": {\"start\": \"2026-01-02\"}}",
    "{\"window\": {\"start\": \"2026-01-02T00:00:00Z\", \"end\": \"2026-01-01T00:00:00Z\"}}",
    "{\"window\": []}", "{\"outcome_types\": \"payment_received\"}", "{\"outcome_types\": []}",
    "{\"outcome_types\": [1]}", "{\"outcome_types\": [\"\"]}", "{\"pixel_id\": \"abc\"}",
    "{\"pixel_id\": 123}", "{\"preview_id\": \"nope\"}", "{\"preview_id\": 5}", "{\"unknown_field\": 1}",
    "{\"idempotencyKey\": \"x\"}", "{\"rows\": [{}], \"last_days\": 3}", "{\"test_event_code\": \"\"}",
    "{\"test_event_code\": \"has space\"}", "{\"idempotency_key\": \"" + "k" * 129 + "\"}",
    "{\"idempotency_key\": \"tab\\there\"}", "{\"idempotency_key\": \"\\u00e9t\\u00e9\"}",
    "{\"idempotency_key\": 42}", "{\"idempotency_key\": [\"a\"]}", "{\"rows\": [{\"conversion_id\": 1}]" * 2,
    json.dumps({"rows": conversion_rows(1) * 2, "last_days": None, "outcome_types": ["x"]}),
    "\ufeff{}", "{\"a\":" * 50 + "1" + "}" * 50, "{\"rows\": [" + ",".join(["{}"] * 3) + "]}",
]


@pytest.mark.parametrize("step", ["preview", "dry_run", "confirm", "conversions"])
def test_no_malformed_body_reaches_internal(env: Env, step: str) -> None:
    tenant = env.tenant()
    seen = set()
    for raw in MALFORMED_BODIES:
        response = tenant.call(step, raw_body=raw)
        assert response.error_type != "INTERNAL", (raw, response.body)
        assert 400 <= response.status < 500 or response.status == 200, (raw, response.status)
        if response.status != 200:
            error = response.body["error"]
            assert set(error) >= {"type", "message", "fix", "request_id"}
            seen.add(error["type"])
    assert "VALIDATION_ERROR" in seen
    assert env.emulator.ledger() == []


def test_validation_details_name_each_field(env: Env) -> None:
    tenant = env.tenant()
    response = tenant.call("confirm", {"last_days": 0, "outcome_types": [1], "rows": "x",
                                       "surprise": True, "idempotency_key": "\x07bell"})
    assert (response.status, response.error_type) == (422, "VALIDATION_ERROR")
    fields = {d["field"] for d in response.body["error"]["details"]}
    assert {"last_days", "outcome_types.0", "rows", "surprise", "idempotency_key"} <= fields


def test_malformed_json_is_a_validation_error(env: Env) -> None:
    tenant = env.tenant()
    response = tenant.call("preview", raw_body="{\"rows\": [")
    assert (response.status, response.error_type) == (422, "VALIDATION_ERROR")
    assert response.body["error"]["details"][0]["field"] == "body"
    assert "Malformed JSON" in response.body["error"]["details"][0]["message"]


def test_pii_in_a_bad_value_is_not_echoed(env: Env) -> None:
    tenant = env.tenant()
    response = tenant.call("preview", {"rows": conversion_rows(1), "outcome_types": ["jane@example.com"],
                                       "pixel_id": "jane@example.com"})
    assert response.error_type == "VALIDATION_ERROR"
    assert "jane@example.com" not in json.dumps(response.body)


def test_other_content_types_and_base64_bodies(env: Env) -> None:
    tenant = env.tenant()
    text = tenant.call("preview", raw_body="rows=1", headers={"Content-Type": "text/plain"})
    assert text.error_type == "VALIDATION_ERROR" and text.status == 422
    event_body = base64.b64encode(json.dumps({"rows": conversion_rows(1)}).encode()).decode()
    from tests.lambdas.conftest import LambdaContext, load_handler, proxy_event

    event = proxy_event("preview", tenant.profile_id, authorizer=tenant.authorizer, raw_body=event_body)
    event["isBase64Encoded"] = True
    result = load_handler("preview")(event, LambdaContext(aws_request_id="x"))
    assert result["statusCode"] == 200, result["body"]


def test_bad_query_parameters(env: Env) -> None:
    tenant = env.tenant()
    for query in ({"limit": "0"}, {"limit": "abc"}, {"limit": "101"}, {"next": "%%%"},
                  {"next": "eyJub3QiOiAiYSBjdXJzb3IifQ=="}):
        response = tenant.call("audit", query=query)
        assert (response.status, response.error_type) == (422, "VALIDATION_ERROR"), (query, response.body)


def test_pixel_id_must_match_connection(env: Env) -> None:
    tenant = env.tenant()
    response = tenant.call("preview", {"rows": conversion_rows(1), "pixel_id": "999"})
    assert response.error_type == "VALIDATION_ERROR"
    assert response.body["error"]["details"][0]["field"] == "pixel_id"
    ok = tenant.call("preview", {"rows": conversion_rows(1), "pixel_id": "1234567890"})
    assert ok.status == 200


def test_unknown_route_is_typed(env: Env) -> None:
    from tests.lambdas.conftest import LambdaContext, load_handler, proxy_event

    tenant = env.tenant()
    event = proxy_event("preview", tenant.profile_id, {}, authorizer=tenant.authorizer)
    event["path"] = "/v1/elsewhere"
    result = load_handler("preview")(event, LambdaContext(aws_request_id="x"))
    assert result["statusCode"] == 404
    assert json.loads(result["body"])["error"]["type"] == "NOT_FOUND"


@pytest.mark.parametrize("event", [{"httpMethod": "POST"}, {"requestContext": None},
                                   {"requestContext": {}, "httpMethod": 5, "path": None}])
def test_broken_proxy_events_get_a_typed_answer(env: Env, event: dict[str, object]) -> None:
    from tests.lambdas.conftest import LambdaContext, load_handler

    result = load_handler("preview")(event, LambdaContext(aws_request_id="x"))
    assert isinstance(result, dict) and "error" in json.loads(result["body"])


def test_unexpected_failure_is_internal_without_a_trace(env: Env) -> None:
    from capi_writeback.flow import Services, default_services, set_default_services

    class BrokenDirectory:
        def get_profile(self, profile_id: str) -> None:
            raise RuntimeError("database on fire: secret detail")

    tenant = env.tenant()
    working = default_services()
    set_default_services(Services(clock=working.clock, directory=BrokenDirectory(),
                                  meta_factory=working.meta_factory))
    response = tenant.call("preview", {"rows": conversion_rows(1)})
    assert (response.status, response.error_type) == (500, "INTERNAL")
    assert response.body["error"]["request_id"].startswith("req-")
    text = json.dumps(response.body)
    assert "Traceback" not in text and "on fire" not in text and "RuntimeError" not in text
    with pytest.raises(Exception) as caught:
        from tests.lambdas.conftest import LambdaContext, load_handler

        load_handler("confirm")({"profile_id": tenant.profile_id, "actor": tenant.user_id,
                                 "selection": {"rows": conversion_rows(1)}, "idempotency_key": "x"},
                                LambdaContext(aws_request_id="d"))
    assert type(caught.value).__name__ == "INTERNAL" and "on fire" not in str(caught.value)


def test_a_json_body_sent_as_a_form_is_read_as_json(env: Env) -> None:
    """curl -d without a Content-Type says form-urlencoded; the API is JSON-only and reads it so."""
    tenant = env.tenant()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    response = tenant.call("preview", {"last_days": 7}, headers=form)
    assert response.status == 200, response.body
    assert response.body["operation"] == "preview"
    bad = tenant.call("preview", {"last_days": 7, "email": "jane@example.com"}, headers=form)
    assert bad.status == 422
    assert [d["field"] for d in bad.body["error"]["details"]] == ["email"]


@pytest.mark.parametrize("window", [
    {"start": "9999-12-30T00:00:00Z", "end": "9999-12-31T23:00:00-14:00"},
    {"start": "0001-01-01T00:00:00+14:00", "end": "2026-01-01T00:00:00Z"},
])
def test_a_window_beyond_the_representable_dates_is_a_validation_error(env: Env,
                                                                      window: dict[str, str]) -> None:
    tenant = env.tenant()
    for step in ("preview", "dry_run", "confirm"):
        response = tenant.call(step, {"window": window, "idempotency_key": "k"} if step == "confirm"
                               else {"window": window})
        assert (response.status, response.error_type) == (422, "VALIDATION_ERROR"), (step, response.body)
        assert {d["field"] for d in response.body["error"]["details"]} & {"window.start", "window.end"}


@pytest.mark.parametrize("step", ["preview", "dry_run", "confirm", "conversions"])
def test_a_number_too_long_to_parse_is_a_validation_error(env: Env, step: str) -> None:
    """Python refuses integers of more than 4,300 digits with a ValueError that is not a JSON error."""
    tenant = env.tenant()
    raw = json.dumps({"rows": [{**conversion_rows(1)[0], "value": 0}], "idempotency_key": "k"}
                     if step == "confirm" else {"rows": [{**conversion_rows(1)[0], "value": 0}]})
    response = tenant.call(step, raw_body=raw.replace('"value": 0', '"value": ' + "9" * 5000))
    assert (response.status, response.error_type) == (422, "VALIDATION_ERROR"), response.body
    assert response.body["error"]["details"][0]["field"] == "body"
    assert env.emulator.ledger() == []


@pytest.mark.parametrize("step", ["preview", "dry_run", "confirm", "conversions"])
@pytest.mark.parametrize("field", ["conversion_id", "email", "event_id", "content_name"])
def test_a_lone_surrogate_escape_is_a_validation_error(env: Env, step: str, field: str) -> None:
    """"\\ud800" is valid JSON syntax but no Unicode text: it cannot be hashed, stored or sent."""
    tenant = env.tenant()
    body = {"rows": [{**conversion_rows(1)[0], field: "x\ud800"}]}
    if step == "confirm":
        body["idempotency_key"] = "k"
    response = tenant.call(step, raw_body=json.dumps(body))
    assert (response.status, response.error_type) == (422, "VALIDATION_ERROR"), response.body
    assert env.emulator.ledger() == []
    emoji = {**body, "rows": [{**body["rows"][0], field: "x\U0001F600"}]}
    pair = tenant.call(step, raw_body=json.dumps(emoji))
    assert pair.status == 200, pair.body  # an escaped surrogate pair is a character like any other


def test_an_unknown_field_named_like_pii_is_not_echoed_or_logged(env: Env, capfd: pytest.CaptureFixture[str],
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Unknown fields are named in `details` (a typo like idempotencyKey must be findable), but a key
    that is not a field name at all (here an email address used as a key) is user data."""
    tenant = env.tenant()
    response = tenant.call("preview", {"rows": conversion_rows(1), "jane.doe@example.com": {"v": 1},
                                       "window_days": 3})
    assert (response.status, response.error_type) == (422, "VALIDATION_ERROR")
    fields = {d["field"] for d in response.body["error"]["details"]}
    assert "window_days" in fields and len(fields) == 2
    out, err = capfd.readouterr()
    assert "jane.doe@example.com" not in json.dumps(response.body) + out + err + caplog.text
