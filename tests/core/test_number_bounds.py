"""Sanity bounds on numbers (`capi_writeback.limits`): a value past them is treated like an unreadable
one (dropped with a warning, or the row skipped where the value is required), never sent to Meta."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from capi_writeback.events import BuildResult, build_events
from capi_writeback.limits import MAX_AMOUNT, MAX_COUNT, MAX_JSON_INTEGER, MAX_PROCESSING_OPTION_CODE
from capi_writeback.normalize.currency import parse_amount
from capi_writeback.settings import ProfileSettings

from .conftest import NOW, make_row

HUGE = [10 ** 400, -(10 ** 400), 1e308, float("inf"), float("-inf"), float("nan"), "1e400", "9" * 400,
        "9" * 5000, Decimal("1e400"), Decimal("Infinity"), Decimal("NaN"), MAX_AMOUNT + 1,
        float(MAX_AMOUNT) * 2, "1000000000000001"]


def build(*rows: Any) -> BuildResult:
    return build_events(list(rows), ProfileSettings(), NOW)


def _ids(value: Any) -> str:
    return repr(value)[:24]


@pytest.mark.parametrize("value", HUGE, ids=_ids)
def test_an_amount_past_the_bound_is_no_amount(value: Any) -> None:
    assert parse_amount(value) is None


@pytest.mark.parametrize(("value", "expected"), [
    (MAX_AMOUNT, MAX_AMOUNT), (float(MAX_AMOUNT), float(MAX_AMOUNT)), (str(MAX_AMOUNT), MAX_AMOUNT),
    (0, 0), ("0.00", 0.0), (Decimal("12.5"), 12.5), ("$1,234.50", 1234.5),
])
def test_amounts_up_to_the_bound_are_read(value: Any, expected: float) -> None:
    assert parse_amount(value) == expected


@pytest.mark.parametrize("value", HUGE, ids=_ids)
def test_a_purchase_whose_value_is_out_of_bounds_is_skipped_like_an_unreadable_one(value: Any) -> None:
    result = build(make_row(value=value))
    assert result.events == []
    assert [s.reason for s in result.skipped] == ["PURCHASE_MISSING_VALUE"]
    assert "1,000,000,000,000,000" in result.skipped[0].detail


@pytest.mark.parametrize("value", HUGE, ids=_ids)
@pytest.mark.parametrize("field", ["value", "predicted_ltv"])
def test_an_optional_amount_out_of_bounds_is_dropped_with_a_warning(value: Any, field: str) -> None:
    result = build(make_row(outcome_type="lead_created", **{"value": None, field: value}))
    assert len(result.events) == 1, result.skipped
    built = result.events[0]
    assert field not in built.event.get("custom_data", {})
    assert any(w.startswith(f"{field}: dropped") for w in built.warnings), built.warnings


COUNTS = [10 ** 400, 1e308, float("inf"), "9" * 5000, "1e400", MAX_COUNT + 1, -1, 2.5]


@pytest.mark.parametrize("value", COUNTS, ids=_ids)
def test_num_items_out_of_bounds_is_dropped_with_a_warning(value: Any) -> None:
    built = build(make_row(num_items=value)).events[0]
    assert "num_items" not in built.event["custom_data"]
    assert any(w.startswith("num_items: dropped") for w in built.warnings), built.warnings


def test_num_items_up_to_the_bound_is_sent() -> None:
    assert build(make_row(num_items=str(MAX_COUNT))).payload[0]["custom_data"]["num_items"] == MAX_COUNT


@pytest.mark.parametrize("content", [
    {"id": "a", "quantity": 10 ** 400}, {"id": "a", "quantity": "9" * 5000}, {"id": "a", "quantity": 1e308},
    {"id": "a", "quantity": MAX_COUNT + 1}, {"id": "a", "item_price": 10 ** 400},
    {"id": "a", "item_price": "1e400"}, {"id": "a", "brand": 10 ** 400},
    {"id": "a", "extra": {"deep": [MAX_JSON_INTEGER + 1]}},
], ids=_ids)
def test_contents_with_a_number_out_of_bounds_are_dropped_with_a_warning(content: dict[str, Any]) -> None:
    for given in (content, json.dumps(content)):
        built = build(make_row(contents=[given] if isinstance(given, dict) else "[" + given + "]")).events[0]
        assert "contents" not in built.event["custom_data"]
        assert any(w.startswith("contents: dropped") for w in built.warnings), built.warnings


def test_contents_within_bounds_are_sent() -> None:
    content = {"id": "a", "quantity": MAX_COUNT, "item_price": MAX_AMOUNT, "rank": MAX_JSON_INTEGER}
    assert build(make_row(contents=[content])).payload[0]["custom_data"]["contents"] == [content]


@pytest.mark.parametrize("value", [10 ** 400, "9" * 5000, 1e308, MAX_PROCESSING_OPTION_CODE + 1, -1],
                         ids=_ids)
@pytest.mark.parametrize("field", ["data_processing_options_country", "data_processing_options_state"])
def test_processing_option_codes_out_of_bounds_are_dropped_with_a_warning(value: Any, field: str) -> None:
    built = build(make_row(data_processing_options=["LDU"], **{field: value})).events[0]
    assert field not in built.event
    assert any(w.startswith(f"{field}: dropped") for w in built.warnings), built.warnings


def test_app_data_with_an_integer_past_json_precision_is_refused() -> None:
    app_data = {"advertiser_tracking_enabled": 1, "application_tracking_enabled": MAX_JSON_INTEGER + 1,
                "extinfo": ["a2", "com.example", "1.0", "1.0", "14.0"]}
    result = build(make_row(action_source="app", app_data=app_data))
    assert [s.reason for s in result.skipped] == ["APP_DATA_REQUIRED"]
