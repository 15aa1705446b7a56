"""Property: whatever JSON arrives (and whatever a row holds), preview and storing conversions answer
200 or a typed 4xx: never INTERNAL."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.lambdas.conftest import Env

SCALARS = (st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False)
           | st.text(max_size=20))
JSON = st.recursive(
    SCALARS,
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.text(max_size=10), children, max_size=4)),
    max_leaves=12,
)
ROW_KEYS = st.sampled_from(["conversion_id", "outcome_type", "event_name", "occurred_at", "email", "phone",
                            "em", "ph", "value", "currency", "country", "zip", "date_of_birth", "gender",
                            "fbclid", "fbc", "content_ids", "contents", "action_source", "event_source_url",
                            "client_ip_address", "external_id", "num_items", "data_processing_options"])
ROWS = st.lists(st.dictionaries(ROW_KEYS, JSON, max_size=8), min_size=1, max_size=5)
BODIES = st.one_of(JSON, st.fixed_dictionaries({"rows": ROWS}), st.dictionaries(
    st.sampled_from(["rows", "last_days", "window", "outcome_types", "pixel_id", "preview_id"]), JSON))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES)
def test_any_json_body_gets_200_or_a_typed_4xx(env: Env, body: Any) -> None:
    tenant = getattr(env, "_fuzz_tenant", None) or env.tenant()
    env._fuzz_tenant = tenant  # type: ignore[attr-defined]
    for function in ("preview", "conversions"):
        response = tenant.call(function, raw_body=json.dumps(body))
        assert response.status == 200 or (400 <= response.status < 500 and response.error_type), \
            (function, body, response.status, response.body)
