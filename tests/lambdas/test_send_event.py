"""POST /v1/profiles/{profile_id}/events (SPEC §8) through its handler, against moto and the Meta
emulator, whose ledger is the witness of what was (not) sent: test and live sends, json and markdown,
exactly once (given and content-derived event ids, replays, concurrent sends), refusals of events Meta
would refuse, every prerequisite, the breaker, Meta failures, and the audit rows."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import pytest
from capi_writeback.hashing import sha256_hex

from tests.lambdas.conftest import PIXEL_ID, Env, Response, Tenant

DAY = 86400
SENT_AT = int(time.time()) - 120  # one time for every body of a test: the same event is the same event
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15"


def body(**changes: Any) -> dict[str, Any]:
    """A website Purchase a backend would forward (raw PII: hashed here)."""
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": SENT_AT,
        "action_source": "website",
        "event_source_url": "https://shop.example.com/thanks",
        "user_data": {"email": " Jane.Doe@Example.com ", "phone": "+1 (415) 555-0123",
                      "client_ip_address": "203.0.113.7", "client_user_agent": UA},
        "custom_data": {"value": 129.9, "currency": "usd", "order_id": "o-42"},
    }
    for key, value in changes.items():
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    return event


def send(tenant: Tenant, event: dict[str, Any], **kwargs: Any) -> Response:
    return tenant.call("send_event", event, **kwargs)


def live(env: Env) -> list[dict[str, Any]]:
    return env.emulator.received_events(PIXEL_ID)


def test_a_live_send_reaches_meta_once_hashed_and_is_audited(env: Env) -> None:
    tenant = env.tenant()
    response = send(tenant, body(event_id="order-42"))
    assert response.status == 200, response.body
    result = response.body
    expected = {"operation": "send_event", "event_id": "order-42", "events_received": 1, "replayed": False,
                "match_quality": "good", "test_event_code": None, "pixel_id": PIXEL_ID,
                "profile_id": tenant.profile_id}
    assert {k: result[k] for k in expected} == expected
    assert result["fbtrace_id"] and result["request_id"]
    (sent,) = live(env)
    assert sent == result["event"]
    assert sent["user_data"]["em"] == [sha256_hex("jane.doe@example.com")]
    assert sent["custom_data"] == {"value": 129.9, "currency": "USD", "order_id": "o-42"}
    assert "Jane" not in json.dumps(result)
    (row,) = env.audit_rows(tenant.profile_id)
    assert (row["operation"], row["status"], row["idempotency_key"], row["event_count"], row["via"]) == (
        "send_event", "succeeded", "order-42", 1, "api")
    assert row["fbtrace_ids"] == [result["fbtrace_id"]] and row["payload_hash"].startswith("sha256:")


def test_the_same_event_again_replays_the_first_result_and_sends_nothing(env: Env) -> None:
    tenant = env.tenant()
    first = send(tenant, body(event_id="order-7")).body
    requests = len(env.emulator.ledger())
    again = send(tenant, body(event_id="order-7"))
    assert again.status == 200 and again.body["replayed"] is True
    assert again.body["original_request_id"] == first["request_id"] != again.body["request_id"]
    varying = ("request_id", "replayed", "original_request_id")
    assert {k: v for k, v in again.body.items() if k not in varying} == {
        k: v for k, v in first.items() if k not in varying}
    assert len(env.emulator.ledger()) == requests  # Meta was not called
    assert Counter(r["status"] for r in env.audit_rows(tenant.profile_id)) == {"succeeded": 1, "replayed": 1}


def test_without_an_event_id_the_id_comes_from_the_content(env: Env) -> None:
    tenant = env.tenant()
    first = send(tenant, body()).body
    assert first["event_id"].startswith("se-") and len(first["event_id"]) == 35
    # the same event spelled differently (CAPI keys, other case and blanks) is the same event
    respelled = body(user_data={"em": "jane.doe@example.com", "ph": "14155550123",
                                "client_ip_address": "203.0.113.7", "client_user_agent": UA})
    again = send(tenant, respelled).body
    assert (again["event_id"], again["replayed"]) == (first["event_id"], True)
    other = send(tenant, body(custom_data={"value": 5, "currency": "USD"})).body
    assert other["event_id"] != first["event_id"] and other["replayed"] is False
    assert Counter(e["event_id"] for e in live(env)) == {first["event_id"]: 1, other["event_id"]: 1}


def test_other_content_under_a_used_event_id_is_not_sent_and_says_why(env: Env) -> None:
    tenant = env.tenant()
    send(tenant, body(event_id="dup-1"))
    other = send(tenant, body(event_id="dup-1", custom_data={"value": 1, "currency": "USD"})).body
    assert other["replayed"] is True and any("different event" in w for w in other["warnings"])
    assert len(live(env)) == 1


def test_a_test_send_uses_the_code_and_no_ledger(env: Env) -> None:
    tenant = env.tenant()
    event = body(event_id="t-1", test_event_code="TEST777")
    for _ in range(2):  # a test send is no live send: it is not deduplicated here
        response = send(tenant, event)
        assert response.status == 200 and response.body["test_event_code"] == "TEST777"
        assert response.body["replayed"] is False
    assert live(env) == []
    assert [e["event_id"] for e in env.emulator.received_events(PIXEL_ID, test=True)] == ["t-1", "t-1"]
    assert env.emulator.test_event_codes() == ["TEST777"]
    assert send(tenant, body(event_id="t-1")).body["replayed"] is False  # the live send is still new
    rows = env.audit_rows(tenant.profile_id)
    assert Counter((r["status"], r.get("idempotency_key")) for r in rows) == {
        ("succeeded", None): 2, ("succeeded", "t-1"): 1}


@pytest.mark.parametrize("kind", ["live", "test", "replay"])
def test_markdown_answers_a_short_summary(env: Env, kind: str) -> None:
    tenant = env.tenant()
    extra = {"test_event_code": "TEST777"} if kind == "test" else {}
    if kind == "replay":
        send(tenant, body(event_id="md-1"))
    response = send(tenant, body(event_id="md-1", response_format="markdown", **extra))
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/markdown")
    text = response.body
    assert isinstance(text, str) and "`md-1`" in text and "Match quality: good" in text
    heading = {"live": "**Event sent**", "test": "**Test event sent**", "replay": "**Event already sent**"}
    assert text.startswith(heading[kind]) and "Jane" not in text


def test_a_nine_day_old_website_event_is_refused_with_its_reason_and_not_sent(env: Env) -> None:
    tenant = env.tenant()
    response = send(tenant, body(event_time=int(time.time()) - 9 * DAY))
    assert (response.status, response.error_type) == (422, "VALIDATION_ERROR")
    error = response.body["error"]
    assert "EVENT_TOO_OLD" in error["message"] and "Nothing was sent" in error["message"]
    assert error["details"] == [{"field": "event_time", "type": "EVENT_TOO_OLD", "reason": "EVENT_TOO_OLD",
                                 "message": error["details"][0]["message"]}]
    assert env.emulator.ledger() == []
    (row,) = env.audit_rows(tenant.profile_id)
    assert (row["status"], row["error"]["type"]) == ("refused", "VALIDATION_ERROR")


@pytest.mark.parametrize(("changes", "reason", "field"), [
    ({"event_source_url": None}, "MISSING_EVENT_SOURCE_URL", "event_source_url"),
    ({"user_data": {"email": "a@example.com"}}, "MISSING_USER_AGENT", "user_data.client_user_agent"),
    ({"custom_data": {"currency": "USD"}}, "PURCHASE_MISSING_VALUE", "custom_data.value"),
    ({"event_name": "Big Sale!"}, "INVALID_EVENT_NAME", "event_name"),
    ({"event_time": int(time.time()) + 3600}, "EVENT_IN_FUTURE", "event_time"),
    ({"action_source": "app"}, "APP_DATA_REQUIRED", "app_data"),
    ({"action_source": "business_messaging"}, "MESSAGING_CHANNEL_REQUIRED", "messaging_channel"),
    ({"action_source": "business_messaging", "messaging_channel": "whatsapp"},
     "MISSING_MESSAGING_IDENTIFIERS", "user_data"),
    ({"user_data": {"client_user_agent": UA}}, "NO_CUSTOMER_IDENTIFIERS", "user_data"),
])
def test_what_meta_would_refuse_is_named_and_not_sent(env: Env, changes: dict[str, Any], reason: str,
                                                       field: str) -> None:
    response = send(env.tenant(), body(**changes))
    assert (response.status, response.error_type) == (422, "VALIDATION_ERROR"), response.body
    (detail,) = response.body["error"]["details"]
    assert (detail["reason"], detail["field"]) == (reason, field)
    assert env.emulator.ledger() == []


def test_event_time_in_milliseconds_or_iso_is_converted_with_a_warning(env: Env) -> None:
    tenant = env.tenant()
    seconds = int(time.time()) - 300
    millis = send(tenant, body(event_id="ms", event_time=seconds * 1000)).body
    assert millis["event"]["event_time"] == seconds
    assert "event_time: unix milliseconds converted to seconds" in millis["warnings"]
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
    converted = send(tenant, body(event_id="iso", event_time=iso)).body
    assert converted["event"]["event_time"] == seconds
    assert "event_time: ISO-8601 converted to unix seconds" in converted["warnings"]
    plain = send(tenant, body(event_id="s", event_time=seconds)).body
    assert not any(w.startswith("event_time") for w in plain["warnings"])


def test_malformed_bodies_name_each_field_and_never_echo_values(env: Env) -> None:
    tenant = env.tenant()
    cases = [
        (body(event_name=None), "event_name"),
        (body(action_source="carrier_pigeon"), "action_source"),
        (body(event_time=True), "event_time"),
        (body(event_time="last tuesday"), "event_time"),
        (body(user_data={"jane.doe@example.com": "x", "email": "a@b.co"}), "user_data.(unknown field)"),
        (body(user_data={"value": 3}), "user_data.value"),
        (body(pixel_id="99999"), "pixel_id"),
        (body(messaging_channel="sms"), "messaging_channel"),
        (body(eventName="Purchase"), "eventName"),
        (body(response_format="html"), "response_format"),
    ]
    for event, field in cases:
        response = send(tenant, event)
        assert (response.status, response.error_type) == (422, "VALIDATION_ERROR"), (field, response.body)
        named = [d["field"] for d in response.body["error"]["details"]]
        assert any(n == field or n.startswith(field + ".") for n in named), (field, named)
        assert "jane.doe" not in json.dumps(response.body)
    assert env.emulator.ledger() == []


def test_unknown_custom_data_is_dropped_with_a_warning(env: Env) -> None:
    result = send(env.tenant(), body(custom_data={"value": 10, "currency": "USD", "plan": "pro"})).body
    assert result["event"]["custom_data"] == {"value": 10, "currency": "USD"}
    assert "custom_data.plan: dropped; not a custom_data field this service sends" in result["warnings"]


@pytest.mark.parametrize("test_send", [False, True], ids=["live", "test"])
def test_prerequisites_are_those_of_dry_run_and_confirm(env: Env, test_send: bool) -> None:
    extra = {"test_event_code": "TEST1"} if test_send else {}
    reader = env.tenant(scopes="mcp:read")
    assert send(reader, body(**extra)).error_type == "MISSING_SCOPE"  # a read-only token cannot send
    owner = env.tenant()
    assert send(owner, body(**extra), profile_id="prof_nope").error_type == "PROFILE_NOT_FOUND"
    assert send(owner, body(**extra), profile_id=env.tenant().profile_id).error_type == "PROFILE_NOT_FOUND"
    disabled = env.tenant()
    disabled.set_writeback(False)
    assert send(disabled, body(**extra)).error_type == "WRITEBACK_DISABLED"
    member = env.tenant(role="member")
    assert send(member, body(**extra)).error_type == "INSUFFICIENT_ROLE"
    inactive = env.tenant()
    inactive.set_connection(status="inactive")
    response = send(inactive, body(**extra))
    assert (response.status, response.error_type) == (409, "META_CONNECTION_INACTIVE")
    assert env.emulator.ledger() == []


def test_an_open_breaker_refuses_new_events_but_replays_sent_ones(env: Env) -> None:
    from capi_writeback.flow import default_services

    tenant = env.tenant()
    sent = send(tenant, body(event_id="before")).body
    for _ in range(3):
        default_services().breaker.record_failure(tenant.profile_id)
    requests = len(env.emulator.ledger())
    env.clock.advance(1)
    refused = send(tenant, body(event_id="after"))
    assert (refused.status, refused.error_type) == (503, "CIRCUIT_OPEN")
    assert 1 <= int(refused.headers["Retry-After"]) <= 1800
    again = send(tenant, body(event_id="before"))
    assert again.status == 200 and again.body["replayed"] is True
    assert again.body["fbtrace_id"] == sent["fbtrace_id"]
    assert len(env.emulator.ledger()) == requests
    # a test send is a dry-run: the breaker does not apply
    assert send(tenant, body(event_id="after", test_event_code="TEST1")).status == 200


def test_meta_failures_release_the_event_and_feed_the_breaker(env: Env) -> None:
    from capi_writeback.flow import default_services

    tenant = env.tenant()
    env.emulator.inject("http_503")
    failed = send(tenant, body(event_id="down-1"))
    assert (failed.status, failed.error_type) == (504, "META_UNAVAILABLE")
    env.emulator.clear_faults()
    env.emulator.inject("code_190")
    rejected = send(tenant, body(event_id="down-2"))
    assert (rejected.status, rejected.error_type) == (502, "META_REJECTED")
    assert rejected.body["error"]["details"]["code"] == 190
    env.emulator.clear_faults()
    assert live(env) == []
    retried = send(tenant, body(event_id="down-1"))  # released: the retry sends it
    assert retried.status == 200 and retried.body["replayed"] is False
    assert [e["event_id"] for e in live(env)] == ["down-1"]
    assert default_services().breaker.is_open(tenant.profile_id) is False  # the success closed it
    statuses = Counter(r["status"] for r in env.audit_rows(tenant.profile_id))
    assert statuses == {"failed": 2, "succeeded": 1}


def test_three_failed_sends_open_the_breaker(env: Env) -> None:
    tenant = env.tenant()
    env.emulator.inject("http_503")
    for i in range(3):
        assert send(tenant, body(event_id=f"f{i}")).error_type == "META_UNAVAILABLE"
    env.emulator.clear_faults()
    assert send(tenant, body(event_id="f3")).error_type == "CIRCUIT_OPEN"


def test_concurrent_sends_of_one_event_send_it_once(env: Env) -> None:
    tenant = env.tenant()
    env.emulator.inject("latency", latency_ms=300)
    gate = threading.Barrier(6)
    answers: list[Response] = []

    def one() -> None:
        gate.wait()
        answers.append(send(tenant, body(event_id="race-1")))

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    env.emulator.clear_faults()
    assert [e["event_id"] for e in live(env)] == ["race-1"]
    outcomes = Counter("sent" if a.status == 200 and not a.body["replayed"] else
                       "replayed" if a.status == 200 else a.error_type for a in answers)
    assert outcomes["sent"] == 1
    assert outcomes["sent"] + outcomes["replayed"] + outcomes["CONFIRM_IN_PROGRESS"] == 6
    assert outcomes["replayed"] >= 1  # the others waited for the first and got its result


def test_app_and_messaging_events(env: Env) -> None:
    tenant = env.tenant()
    app = send(tenant, body(action_source="app", event_source_url=None, event_name="Purchase",
                            user_data={"madid": "6D92078A-8246-4BA4-AE5B-76104861E7DC"},
                            app_data={"advertiser_tracking_enabled": True,
                                      "extinfo": ["i2", "com.example", "1.0", "1.0", "17.1"]}))
    assert app.status == 200, app.body
    assert app.body["event"]["app_data"]["advertiser_tracking_enabled"] == 1
    chat = send(tenant, body(action_source="business_messaging", event_source_url=None, event_name="Lead",
                             custom_data=None, messaging_channel="whatsapp",
                             user_data={"ctwa_clid": "ARAkLkA8rmlFeiCktEJQ", "phone": "+14155550123"}))
    assert chat.status == 200, chat.body
    assert chat.body["event"]["messaging_channel"] == "whatsapp"
    assert chat.body["event"]["user_data"]["ctwa_clid"] == "ARAkLkA8rmlFeiCktEJQ"


def test_no_raw_pii_or_token_in_logs_audit_rows_or_ledger(env: Env, capfd: pytest.CaptureFixture[str],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from tests.lambdas.conftest import META_TOKEN

    caplog.set_level(logging.DEBUG)
    tenant = env.tenant()
    secrets = ["Jane.Doe+vip@Example.COM", "jane.doe+vip", "4155550199", "555-0199", "Springfield"]
    pii = {"email": secrets[0], "phone": "+1 (415) 555-0199", "city": "Springfield",
           "client_ip_address": "203.0.113.7", "client_user_agent": UA}
    assert send(tenant, body(event_id="pii-1", user_data=pii)).status == 200
    assert send(tenant, body(event_id="pii-1", user_data=pii)).body["replayed"] is True
    assert send(tenant, body(event_time=int(time.time()) - 9 * DAY, user_data=pii)).status == 422
    assert send(tenant, body(user_data={**pii, secrets[0]: "x"})).status == 422  # PII as a key
    env.emulator.inject("code_190")
    assert send(tenant, body(event_id="pii-2", user_data=pii)).status == 502
    env.emulator.clear_faults()
    out, err = capfd.readouterr()
    captured = "\n".join([out, err, caplog.text, *(repr(r.__dict__) for r in caplog.records)])
    assert "audit row written" in captured  # the logs were captured
    from capi_writeback.store._dynamo import unpack

    ledger = [item for item in env.dynamodb.scan(TableName=env.tables["IDEMPOTENCY_TABLE"])["Items"]
              if item["id"]["S"].startswith("event#")]
    opened = [unpack(item["data"]["B"]) for item in ledger if "data" in item]  # zlib JSON: open it
    results = [r for r in opened if r["profile_id"] == tenant.profile_id]
    assert [r["event_id"] for r in results] == ["pii-1"] and results[0]["event"]["user_data"]["em"]
    stored = repr(env.audit_rows(tenant.profile_id)) + repr(ledger) + json.dumps(results)
    for secret in [*secrets, tenant.token, META_TOKEN]:
        assert secret not in captured and secret not in stored, secret
