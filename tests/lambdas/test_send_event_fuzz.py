"""Property: whatever arrives at POST .../events (any JSON, or an event body with any values in any
field, test or live), the answer is 200 (JSON or markdown) or a typed 4xx/5xx refusal of the SPEC
table: never INTERNAL, never a trace."""

from __future__ import annotations

import json
import time
from typing import Any

from capi_writeback.errors import ERRORS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.lambdas.conftest import Env

SCALARS = (st.none() | st.booleans() | st.integers(-10**15, 10**15) | st.floats(allow_nan=False)
           | st.text(max_size=24))
JSON = st.recursive(SCALARS, lambda children: (st.lists(children, max_size=4)
                                               | st.dictionaries(st.text(max_size=12), children, max_size=4)),
                    max_leaves=10)
NOW = int(time.time())
USER_KEYS = st.sampled_from([
    "email", "em", "phone", "ph", "fn", "ln", "ct", "st", "zp", "country", "db", "ge", "external_id",
    "client_ip_address", "client_user_agent", "fbc", "fbp", "madid", "anon_id", "page_id",
    "page_scoped_user_id", "ctwa_clid", "ig_account_id", "ig_sid", "value", "event_time",
]) | st.text(max_size=10)
PLAUSIBLE = {
    "event_name": st.sampled_from(["Purchase", "lead", "custom_thing", "Big Sale!", ""])
    | st.text(max_size=8),
    "event_time": st.sampled_from([NOW - 60, NOW * 1000, NOW - 9 * 86400, NOW + 3600, "2026-01-01T00:00:00Z",
                                   "junk", -1, True]) | st.integers(0, 10**14),
    "action_source": st.sampled_from(["website", "app", "email", "physical_store", "business_messaging",
                                      "chat", "nope"]),
    "user_data": st.dictionaries(USER_KEYS, JSON | st.text(max_size=40), max_size=6),
    "custom_data": st.dictionaries(st.sampled_from(["value", "currency", "contents", "content_ids",
                                                    "num_items", "plan"]), JSON, max_size=4) | JSON,
    "event_source_url": st.sampled_from(["https://shop.example.com/x", "shop", ""]) | JSON,
    "event_id": st.text(max_size=20) | JSON,
    "app_data": st.fixed_dictionaries({}, optional={"advertiser_tracking_enabled": JSON, "extinfo": JSON,
                                                    "vendor_id": JSON}) | JSON,
    "messaging_channel": st.sampled_from(["whatsapp", "messenger", "instagram", "sms"]) | JSON,
    "data_processing_options": JSON,
    "data_processing_options_country": JSON,
    "test_event_code": st.sampled_from(["TEST1", "bad code"]) | JSON,
    "response_format": st.sampled_from(["json", "markdown", "html"]),
    "pixel_id": st.sampled_from(["1234567890", "999", "x"]) | JSON,
}
REQUIRED = ("event_name", "event_time", "action_source", "user_data")
VALID: dict[str, Any] = {
    "event_name": "Purchase", "event_time": NOW - 60, "action_source": "website",
    "event_source_url": "https://shop.example.com/thanks",
    "user_data": {"email": "a@example.com", "client_user_agent": "Mozilla/5.0"},
    "custom_data": {"value": 10, "currency": "USD"},
}


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A sendable body with up to three fields replaced, removed or added (so some are still sent)."""
    event = dict(VALID)
    event["event_id"] = draw(st.text(min_size=1, max_size=12))
    for name in draw(st.lists(st.sampled_from(sorted(PLAUSIBLE)), max_size=3, unique=True)):
        if draw(st.booleans()) and name in event:
            del event[name]
        else:
            event[name] = draw(PLAUSIBLE[name])
    return event


BODIES = st.one_of(
    JSON,
    mutated(),
    st.fixed_dictionaries({k: v for k, v in PLAUSIBLE.items() if k in REQUIRED},
                          optional={k: v for k, v in PLAUSIBLE.items() if k not in REQUIRED}),
)
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@SETTINGS
@given(event=BODIES)
def test_any_body_gets_an_answer_of_the_spec_never_a_500(env: Env, event: Any) -> None:
    tenant = getattr(env, "_events_fuzz_tenant", None) or env.tenant()
    env._events_fuzz_tenant = tenant  # type: ignore[attr-defined]
    response = tenant.call("send_event", raw_body=json.dumps(event))
    if response.status == 200:
        if isinstance(event, dict) and event.get("response_format") == "markdown":
            assert isinstance(response.body, str) and response.body.startswith("**")
        else:
            assert response.body["operation"] == "send_event" and response.body["events_received"] == 1
        return
    assert response.error_type in ERRORS and response.error_type != "INTERNAL", response.body
    assert ERRORS[response.error_type].status == response.status
    assert "Traceback" not in json.dumps(response.body)
