"""The single event's body → Meta event (flow/event_body.py), without AWS: the rows' pipeline decides,
the content-derived event id is stable under re-spelling, and no body makes it fail otherwise than
with a refusal naming fields (property tests)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from capi_writeback.contracts.events import SendEventRequest
from capi_writeback.events import build_events
from capi_writeback.exceptions import InvalidRequest
from capi_writeback.flow.event_body import REASON_FIELDS, build_one, content_event_id
from capi_writeback.settings import ProfileSettings
from capi_writeback.validate import SkipReason
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import NOW

PIXEL = "1234567890"
PROFILE = ProfileSettings(country="US", currency="USD", column_mapping={"em": "phone"})  # must not apply
BASE: dict[str, Any] = {
    "event_name": "Purchase", "event_time": NOW - 600, "action_source": "website",
    "event_source_url": "https://shop.example.com/thanks",
    "user_data": {"email": " Jane.Doe@Example.com ", "phone": "(415) 555-0123", "client_user_agent": "UA/1"},
    "custom_data": {"value": 10, "currency": "usd"},
}


def one(**changes: Any) -> Any:
    return build_one(SendEventRequest.model_validate({**BASE, **changes}), PROFILE, NOW, PIXEL)


def test_the_event_is_what_the_rows_pipeline_builds_from_the_same_row() -> None:
    built = one(event_id="order-1")
    row = {"conversion_id": "order-1", "event_id": "order-1", "occurred_at": NOW - 600,
           "event_name": "Purchase", "action_source": "website", "event_source_url": BASE["event_source_url"],
           **BASE["user_data"], **BASE["custom_data"]}
    (expected,) = build_events([row], ProfileSettings(country="US", currency="USD"), NOW).payload
    assert built.event == expected and built.event_id == "order-1"
    assert built.content_hash.startswith("sha256:") and built.match_quality == "good"


def test_the_content_id_ignores_spelling_and_order_but_not_content() -> None:
    first = one()
    respelled = one(user_data={"client_user_agent": "UA/1", "ph": "+1 415 555 0123",
                               "EM": "jane.doe@example.com"}, custom_data={"currency": "USD", "value": 10.0})
    assert first.event_id.startswith("se-") and first.event_id == respelled.event_id
    assert first.content_hash == respelled.content_hash
    content = {k: v for k, v in first.event.items() if k != "event_id"}
    assert first.event_id == content_event_id(PIXEL, content)
    assert one(custom_data={"value": 11, "currency": "USD"}).event_id != first.event_id
    other_pixel = build_one(SendEventRequest.model_validate(BASE), PROFILE, NOW, "999")
    assert other_pixel.event_id != first.event_id


@pytest.mark.parametrize("reason", sorted(REASON_FIELDS))
def test_every_reason_an_event_can_have_is_mapped_to_a_body_field(reason: str) -> None:
    assert reason in {r.value for r in SkipReason}


def test_every_skip_reason_of_a_single_event_points_at_a_field() -> None:
    never = {"INVALID_ROW", "MISSING_CONVERSION_ID", "DUPLICATE_CONVERSION_ID"}  # rows only
    assert set(REASON_FIELDS) == {r.value for r in SkipReason} - never


SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
KEYS = st.sampled_from([
    "email", "em", "phone", "ph", "fn", "ct", "zp", "country", "db", "ge", "external_id", "client_ip_address",
    "client_user_agent", "fbc", "fbp", "madid", "page_id", "ctwa_clid", "ig_sid", "psid"])


@settings(max_examples=300, deadline=None)
@given(user_data=st.dictionaries(KEYS, VALUES, min_size=1, max_size=6),
       custom=st.dictionaries(st.sampled_from(["value", "currency", "contents", "content_ids", "num_items"]),
                              VALUES, max_size=4),
       source=st.sampled_from(["website", "app", "email", "business_messaging", "physical_store"]),
       app_data=st.none() | st.dictionaries(st.sampled_from(["advertiser_tracking_enabled", "extinfo", "x"]),
                                            VALUES, max_size=3),
       channel=st.sampled_from([None, "whatsapp", "messenger", "instagram"]))
def test_any_values_build_an_event_or_a_refusal_naming_fields(
        user_data: dict[str, Any], custom: dict[str, Any], source: str, app_data: Any, channel: Any) -> None:
    body = {**BASE, "user_data": user_data, "custom_data": custom, "action_source": source,
            "app_data": app_data, "messaging_channel": channel}
    request = SendEventRequest.model_validate({k: v for k, v in body.items() if v is not None})
    try:
        built = build_one(request, PROFILE, NOW, PIXEL)
    except InvalidRequest as refused:
        assert refused.details and all(d["field"] for d in refused.details)
        return
    json.dumps(built.event, allow_nan=False)  # serializable as Meta takes it
    assert built.event["user_data"] and built.event["action_source"] == source


@pytest.mark.parametrize("event_id", ["order-1\n", "order-1\r", "\n", "a\x00b", " "])
def test_an_event_id_with_a_control_character_or_no_text_is_refused(event_id: str) -> None:
    """`order-1\\n` would be another event than `order-1` for the exactly-once ledger (and for
    Meta's deduplication): refused, like an idempotency_key with a trailing newline (issue 9)."""
    from pydantic import ValidationError

    body = {"event_name": "Lead", "event_time": NOW, "action_source": "website",
            "user_data": {"em": "a@example.com"}, "event_id": event_id}
    with pytest.raises(ValidationError):
        SendEventRequest.model_validate(body)
    assert SendEventRequest.model_validate({**body, "event_id": "order-1"}).event_id == "order-1"
