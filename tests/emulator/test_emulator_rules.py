"""CAPI-REFERENCE §9 rules 1-10 and 12-13: for each rule a valid request passes and a violating one is
refused with Meta's envelope. Requests are raw HTTP, independent of the project's client."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from capi_writeback_local.meta_emulator import MetaEmulator, Strictness

from .conftest import NOW, PIXEL, TOKEN, Client, assert_accepted, assert_envelope, event, sha

# -- rule 1: route ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v21.0", "v25.0", "v26.0"])
def test_supported_versions_pass(client: Client, version: str) -> None:
    assert_accepted(client.send_json([event()], version=version))


@pytest.mark.parametrize("version", ["v20.0", "v27.0", "v25.1", "25.0", "latest"])
def test_unsupported_versions_are_refused(client: Client, version: str) -> None:
    assert_envelope(client.send_json([event()], version=version), 100)


def test_get_and_unknown_paths_are_refused(client: Client) -> None:
    error = assert_envelope(client.request("GET", f"/v25.0/{PIXEL}/events"), 100)
    assert "can't perform this operation" in error["message"]
    assert_envelope(client.request("POST", f"/v25.0/{PIXEL}/things", b"{}"), 100)
    assert_envelope(client.request("POST", "/v25.0/events", b"{}"), 100)


def test_unknown_pixel_is_100_33(client: Client) -> None:
    error = assert_envelope(client.send_json([event()], pixel="999"), 100, 33)
    assert error["type"] == "GraphMethodException"


# -- rule 2: token -------------------------------------------------------------------------------


def test_token_in_json_body_query_form_and_bearer(client: Client, emulator: MetaEmulator) -> None:
    data = json.dumps([event()])
    assert_accepted(client.send_json([event()]))
    assert_accepted(client.send_form({"data": data, "access_token": TOKEN}))
    assert_accepted(client.send_form({"data": data}, query={"access_token": TOKEN}))
    assert_accepted(
        client.request("POST", f"/v25.0/{PIXEL}/events", json.dumps({"data": [event()]}).encode(),
                       {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    )
    sources = [(e["token_source"], e["token_in_url"]) for e in emulator.ledger()]
    assert sources == [("body", False), ("body", False), ("query", True), ("bearer", False)]


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_missing_or_unknown_token_is_190(client: Client, token: str | None) -> None:
    assert_envelope(client.send_json([event()], token=token), 190)


def test_token_added_and_removed_at_run_time(client: Client, emulator: MetaEmulator) -> None:
    emulator.add_token("rotated")
    assert_accepted(client.send_json([event()], token="rotated"))
    emulator.remove_token("rotated")
    assert_envelope(client.send_json([event()], token="rotated"), 190)
    assert client.control("POST", "tokens", {"add": ["via-http"]}).status == 200
    assert_accepted(client.send_json([event()], token="via-http"))


def test_appsecret_proof() -> None:
    proof = hmac.new(b"s3cret", TOKEN.encode(), hashlib.sha256).hexdigest()
    with MetaEmulator(tokens=(TOKEN,), pixel_ids=(PIXEL,), app_secret="s3cret", now=lambda: float(NOW),
                      strictness=Strictness(require_appsecret_proof=True)) as meta:
        client = Client(meta.url)
        assert_accepted(client.send_json([event()], appsecret_proof=proof))
        assert_envelope(client.send_json([event()], appsecret_proof="0" * 64), 100)
        assert_envelope(client.send_json([event()]), 100)


# -- rule 3: data --------------------------------------------------------------------------------


def test_data_forms_accepted(client: Client) -> None:
    assert_accepted(client.send_json([event(), event(event_id="o2")], ), 2)
    assert_accepted(client.send_json(json.dumps([event()])))  # JSON string inside JSON
    assert_accepted(client.send_json([json.dumps(event())]))  # elements as JSON strings (PY SDK)
    assert_accepted(client.send_form({"data": json.dumps([json.dumps(event())]), "access_token": TOKEN}))


@pytest.mark.parametrize("data", [{"a": 1}, [], "not json", [1], ["{broken"], None])
def test_bad_data_is_refused(client: Client, data: Any) -> None:
    assert_envelope(client.send_json(data), 100)


def test_data_is_required(client: Client) -> None:
    answer = client.request("POST", f"/v25.0/{PIXEL}/events", json.dumps({"access_token": TOKEN}).encode(),
                            {"Content-Type": "application/json"})
    assert_envelope(answer, 100)


def test_at_most_1000_events(client: Client) -> None:
    assert_accepted(client.send_json([event(event_id=f"e{i}") for i in range(1000)]), 1000)
    error = assert_envelope(client.send_json([event(event_id=f"e{i}") for i in range(1001)]), 100)
    assert "1000" in error["message"]


# -- rule 4: required fields and time ----------------------------------------------------------


@pytest.mark.parametrize("field", ["event_name", "event_time", "user_data", "action_source"])
def test_required_fields(client: Client, field: str) -> None:
    error = assert_envelope(client.send_json([event(**{field: None})]), 100)
    assert field in error["error_user_msg"]


@pytest.mark.parametrize(
    "source", ["email", "website", "app", "phone_call", "chat", "physical_store", "system_generated",
               "business_messaging", "other"],
)
def test_every_action_source_is_accepted(client: Client, source: str) -> None:
    extra: dict[str, Any] = {}
    if source == "website":
        extra = {"event_source_url": "https://shop.example/checkout",
                 "user_data": {"em": sha("a@b.co"), "client_user_agent": "Mozilla/5.0"}}
    if source == "app":
        extra = {"app_data": {"advertiser_tracking_enabled": 1, "extinfo": ["a2", *[""] * 15]}}
    assert_accepted(client.send_json([event(action_source=source, **extra)]))


@pytest.mark.parametrize("source", ["web", "Website", "", "crm"])
def test_unknown_action_source_is_refused(client: Client, source: str) -> None:
    assert_envelope(client.send_json([event(action_source=source)]), 100)


def test_app_events_need_app_data(client: Client) -> None:
    assert_envelope(client.send_json([event(action_source="app")]), 100)
    assert_envelope(client.send_json([event(action_source="app", app_data={"extinfo": ["x"]})]), 100)


def test_event_time_window(client: Client) -> None:
    seven_days = 7 * 86400
    assert_accepted(client.send_json([event(event_time=NOW - seven_days + 60)]))
    assert_accepted(client.send_json([event(event_time=str(NOW - 60))]))  # numeric string
    error = assert_envelope(client.send_json([event(event_time=NOW - seven_days - 60)]), 100, 2804003)
    assert error["error_user_title"] == "Event Timestamp Too Old"
    assert_accepted(client.send_json([event(event_time=NOW - 30 * 86400, action_source="physical_store")]))
    assert_envelope(
        client.send_json([event(event_time=NOW - 63 * 86400, action_source="physical_store")]), 100, 2804003
    )
    assert_accepted(client.send_json([event(event_time=NOW + 30)]))
    assert_envelope(client.send_json([event(event_time=NOW + 600)]), 100)
    assert_envelope(client.send_json([event(event_time="2026-01-01T00:00:00Z")]), 100)
    assert_envelope(client.send_json([event(event_time=True)]), 100)


# -- rule 5: website -----------------------------------------------------------------------------


def _website(**user: Any) -> dict[str, Any]:
    return event(action_source="website", event_source_url="https://shop.example/",
                 user_data={"em": sha("a@b.co"), **user})


def test_website_needs_url_and_user_agent(client: Client) -> None:
    assert_accepted(client.send_json([_website(client_user_agent="UA/1")]))
    assert_envelope(client.send_json([_website()]), 100)
    no_url = _website(client_user_agent="UA/1")
    del no_url["event_source_url"]
    assert_envelope(client.send_json([no_url]), 100)


def test_website_rule_can_warn_instead() -> None:
    with MetaEmulator(tokens=(TOKEN,), pixel_ids=(PIXEL,), now=lambda: float(NOW),
                      strictness=Strictness(website_rule="warn")) as meta:
        answer = Client(meta.url).send_json([_website()])
    assert_accepted(answer)
    assert any("client_user_agent" in m for m in answer.body["messages"])


# -- rule 6: user_data ---------------------------------------------------------------------------

HASH = sha("x")


@pytest.mark.parametrize(
    "user_data",
    [
        {"em": HASH},
        {"em": [HASH, sha("y")]},
        {"em": f"{HASH}.AQQCAQIB"},  # parameter-builder appendix
        {"ph": f"{HASH}.AQ"},
        {"fn": HASH, "ln": HASH, "ct": HASH, "st": HASH, "zp": HASH, "country": HASH, "db": HASH},
        {"client_ip_address": "203.0.113.9"},
        {"client_ip_address": "2001:db8::1"},
        {"client_ip_address": "168.212.226.204.ABcDEFGh"},
        {"client_ip_address": "2001:0db8:85a3:0000:0000:8a2e:0370:7334.ABcDEFGh"},
        {"fbp": "fb.1.1596403881668.1116446470"},
        {"fbc": "fb.1.1596403881668.IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk"},
        {"fbc": "fb.1.1596403881668.abc.ABcDEFGh"},
        {"external_id": ["crm-42"]},
        {"fb_login_id": 1234567},
        {"lead_id": "991122"},
        {"em": HASH, "ge": sha("f"), "client_user_agent": "UA"},
    ],
)
def test_valid_user_data(client: Client, user_data: dict[str, Any]) -> None:
    assert_accepted(client.send_json([event(user_data=user_data)]))


@pytest.mark.parametrize(
    ("user_data", "subcode"),
    [
        ({"em": "someone@example.com"}, 2804016),
        ({"em": [HASH, "plain@example.com"]}, 2804016),
        ({"ph": "15551234567"}, 2804016),
        ({"ct": "newyork", "em": HASH}, 2804016),
        ({"em": HASH.upper()}, 2804016),
        ({"em": hashlib.md5(b"x").hexdigest()}, 2804016),
        ({"em": f"{HASH}.toolongappendix"}, 2804016),
        ({"em": HASH + "\n"}, 2804016),  # `$` must not let a trailing newline through
        ({"em": f"{HASH}.AQ\n"}, 2804016),
        ({"fbp": "fb.1.1596403881668.1116446470\n", "em": HASH}, None),
        ({"em": 12345}, 2804016),
        ({"client_ip_address": "999.1.1.1"}, None),
        ({"client_ip_address": "not an ip"}, None),
        ({"fbp": "1596403881668.1116446470"}, None),
        ({"fbc": "fb.1.15964.abc"}, None),
        ({"fb_login_id": "abc", "em": HASH}, None),
        ({"external_id": [""]}, None),
        ({}, None),
        ({"fn": HASH, "ge": HASH}, None),  # baseline-invalid combinations (§2.1)
        ({"ln": HASH}, None),
        ({"db": HASH, "client_user_agent": "UA"}, None),
        ({"ct": HASH, "country": HASH, "st": HASH, "zp": HASH, "ge": HASH, "client_user_agent": "UA"}, None),
        ({"client_user_agent": "UA"}, None),
    ],
)
def test_invalid_user_data(client: Client, user_data: dict[str, Any], subcode: int | None) -> None:
    error = assert_envelope(client.send_json([event(user_data=user_data)]), 100, subcode)
    if subcode == 2804016:
        assert error["error_user_title"] == "User Parameter Not Hashed"
        key = next(k for k in user_data if k in ("em", "ph", "ct"))
        assert f"The {key} parameter" in error["error_user_msg"]


def test_user_data_must_be_an_object(client: Client) -> None:
    assert_envelope(client.send_json([event(user_data=["em"])]), 100)


def test_md5_can_be_allowed() -> None:
    with MetaEmulator(tokens=(TOKEN,), pixel_ids=(PIXEL,), now=lambda: float(NOW),
                      strictness=Strictness(accept_md5=True)) as meta:
        assert_accepted(Client(meta.url).send_json([event(user_data={"em": hashlib.md5(b"x").hexdigest()})]))


# -- rule 7: custom_data -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "custom",
    [{"value": 1, "currency": "usd"}, {"value": "142.52", "currency": "EUR"},
     {"value": 0, "currency": "JPY"}],
)
def test_purchase_with_value_and_currency(client: Client, custom: dict[str, Any]) -> None:
    assert_accepted(client.send_json([event(custom_data=custom)]))


def test_purchase_rules(client: Client) -> None:
    error = assert_envelope(client.send_json([event(custom_data={"currency": "USD"})]), 100, 2804009)
    assert error["error_user_title"] == "Missing Value for Purchase Event"
    assert_envelope(client.send_json([event(custom_data=None)]), 100, 2804009)
    assert_envelope(client.send_json([event(custom_data={"value": 3})]), 100)
    assert_envelope(client.send_json([event(custom_data={"value": 3, "currency": "XYZ"})]), 100)
    assert_envelope(client.send_json([event(custom_data={"value": "lots", "currency": "USD"})]), 100)
    for nan in ("NaN", "Infinity", "-inf"):
        assert_envelope(client.send_json([event(custom_data={"value": nan, "currency": "USD"})]), 100)
    assert_envelope(client.send_json([event(custom_data="value=3")]), 100)
    assert_accepted(client.send_json([event(event_name="Lead", custom_data=None)]))


# -- rule 8: atomic batches ----------------------------------------------------------------------


def test_one_bad_event_refuses_the_whole_request(client: Client, emulator: MetaEmulator) -> None:
    events = [event(event_id="a"), event(event_id="b", user_data={"em": "raw@x.com"}), event(event_id="c")]
    assert_envelope(client.send_json(events), 100, 2804016)
    assert emulator.received_events(PIXEL) == []
    assert emulator.ledger()[0]["status"] == 400 and emulator.ledger()[0]["event_count"] == 3


# -- rules 9 and 12: success body, test events ----------------------------------------------------


def test_success_stores_live_and_test_events_apart(client: Client, emulator: MetaEmulator) -> None:
    assert_accepted(client.send_json([event(event_id="live")]))
    answer = client.send_json([event(event_id="t1"), event(event_id="t2")], test_event_code="TEST42")
    assert_accepted(answer, 2)  # test events count as received
    assert [e["event_id"] for e in emulator.received_events(PIXEL)] == ["live"]
    assert [e["event_id"] for e in emulator.received_events(PIXEL, test=True)] == ["t1", "t2"]
    assert emulator.test_event_codes() == ["TEST42"]
    over_http = client.control("GET", "events?test=1").body["events"]
    assert [e["event_id"] for e in over_http] == ["t1", "t2"]


# -- rule 13: dedup view -------------------------------------------------------------------------


def test_dedup_view_drops_later_duplicates_within_48h(client: Client, emulator: MetaEmulator) -> None:
    client.send_json([event(event_id="o1"), event(event_id="o1"), event(event_id="o2")])
    client.send_json([event(event_id="o1", event_time=NOW - 3 * 86400)])  # > 48 h apart: kept
    assert len(emulator.received_events(PIXEL)) == 4
    kept = emulator.received_events(PIXEL, dedup=True)
    assert [(e["event_id"], e["event_time"]) for e in kept] == [
        ("o1", NOW - 3600), ("o2", NOW - 3600), ("o1", NOW - 3 * 86400)
    ]


@pytest.mark.parametrize(
    "weird",
    [
        event(action_source={"a": 1}),
        event(action_source=["website"]),
        event(event_name=["Purchase"]),
        event(event_time=[1]),
        event(event_time=1.5),
        event(user_data={"em": [[HASH]]}),
        event(user_data={"em": {"h": HASH}}),
        event(user_data={"client_ip_address": ["1.2.3.4"], "em": HASH}),
        event(user_data={"fbp": 12, "em": HASH}),
        event(custom_data={"value": {"n": 1}, "currency": "USD"}),
        event(custom_data={"value": 1, "currency": ["USD"]}),
        event(action_source="app", app_data="yes"),
        event(action_source="app", app_data={"advertiser_tracking_enabled": 1, "extinfo": [["a2"]]}),
        event(action_source="website", event_source_url="https://x", user_data=["nope"]),
    ],
)
def test_malformed_events_get_an_envelope_never_a_crash(client: Client, weird: dict[str, Any]) -> None:
    assert_envelope(client.send_json([weird]), 100)
