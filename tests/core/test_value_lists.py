"""Where a list of values comes from (issue 9, first normalization defect): a JSON list, or a JSON list
written in a CSV cell; never a scalar split on `|` or `;`. Splitting `test|name@example.com` sent the
hash of `name@example.com`, a different and valid person."""

from __future__ import annotations

import json
from typing import Any

import pytest
from capi_writeback.events import BuildResult, build_events
from capi_writeback.hashing import sha256_hex
from capi_writeback.rows import prepare_for_storage
from capi_writeback.settings import ProfileSettings
from capi_writeback.user_data import clear_caches, hash_field, hashed_user_data, hashed_values, row_country

from .conftest import NOW, make_row

PROFILE = ProfileSettings(currency="USD")


def build(row: dict[str, Any], settings: ProfileSettings = PROFILE) -> BuildResult:
    return build_events([row], settings, NOW)


def from_storage(row: dict[str, Any], settings: ProfileSettings = PROFILE) -> BuildResult:
    stored = prepare_for_storage(row, settings, NOW)
    assert isinstance(stored, dict)
    return build(json.loads(json.dumps(stored)), settings)


@pytest.mark.parametrize("separator", ["|", ";"])
def test_a_scalar_email_holding_a_separator_is_one_value(separator: str) -> None:
    # `|` is a legal character of an address: the address is hashed whole, never its tail.
    email = f"test{separator}name@example.com"
    user = build(make_row(email=email, phone="+1 650 555 1212")).payload[0]["user_data"]
    assert sha256_hex("name@example.com") not in user.get("em", [])
    assert sha256_hex("test") not in user.get("em", [])
    if separator == "|":
        assert user["em"] == [sha256_hex(email)]
    else:  # `;` is not legal in an unquoted address: dropped, not guessed
        assert "em" not in user


@pytest.mark.parametrize("cell", ["a@example.com|b@example.com", "a@example.com;b@example.com"])
def test_two_addresses_in_one_scalar_are_dropped_with_a_hint_not_split(cell: str) -> None:
    built = build(make_row(email=cell, phone="+1 650 555 1212")).events[0]
    assert "em" not in built.event["user_data"]
    assert any(w.startswith("email: dropped") and "JSON list" in w for w in built.warnings), built.warnings


@pytest.mark.parametrize("dob", ["1990|12|31", "1990;12;31"])
def test_a_date_of_birth_with_separators_is_one_date(dob: str) -> None:
    user = build(make_row(date_of_birth=dob)).payload[0]["user_data"]
    assert user["db"] == [sha256_hex("19901231")]


def test_a_country_with_a_separator_is_one_unusable_value() -> None:
    built = build(make_row(country="us|ca")).events[0]
    assert "country" not in built.event["user_data"]
    assert any(w.startswith("country: dropped") for w in built.warnings)
    assert row_country({"country": "us|ca"}, None) is None
    assert row_country({"country": "us|ca"}, "de") == "de"


def test_a_phone_pair_in_one_scalar_is_not_two_phones() -> None:
    user = build(make_row(phone="+1 650 555 1212|+44 7911 123456")).payload[0]["user_data"]
    assert sha256_hex("16505551212") not in user.get("ph", [])
    assert sha256_hex("447911123456") not in user.get("ph", [])


@pytest.mark.parametrize("value", [
    ["a@example.com", "b@example.com"],
    '["a@example.com", "b@example.com"]',
    ' ["a@example.com", "b@example.com"] ',
])
def test_a_json_list_is_still_a_list_of_values(value: Any) -> None:
    user = build(make_row(email=value)).payload[0]["user_data"]
    assert user["em"] == [sha256_hex("a@example.com"), sha256_hex("b@example.com")]


@pytest.mark.parametrize("field", ["email", "first_name", "city", "date_of_birth", "country", "state", "zip"])
@pytest.mark.parametrize("value", ["x|y", "x;y", "Ann|Bob", "1990|12|31", "test|name@example.com", "us;ca"])
def test_the_fast_path_memo_and_the_general_path_agree(field: str, value: str) -> None:
    """`hashed_user_data` short-cuts single strings and memoized fields; it must give exactly what
    `hashed_values` gives, warnings included, the first time and once the memo holds the value."""
    row = {field: value}
    for _ in range(2):
        fast_warnings: list[str] = []
        general_warnings: list[str] = []
        fast = hashed_user_data(row, "us", fast_warnings)
        general = hashed_values(row, field, "us", general_warnings)
        assert next(iter(fast.values()), []) == general
        assert fast_warnings == general_warnings


def test_hashing_a_json_list_text_whole_does_not_poison_the_memo() -> None:
    """The fast path trusts the memo for any string; a text that is a JSON list must never be in it."""
    clear_caches()
    cell = '["Ann", "Bob"]'
    assert hash_field("first_name", cell, None) == sha256_hex("annbob")  # asked for one value: one value
    assert hashed_user_data({"first_name": cell}, None, [])["fn"] == [sha256_hex("ann"), sha256_hex("bob")]


@pytest.mark.parametrize("overrides", [
    {"email": "test|name@example.com"},
    {"email": "a@example.com;b@example.com", "phone": "+1 650 555 1212"},
    {"date_of_birth": "1990|12|31"},
    {"country": "us|ca", "phone": "650 555 1212"},
    {"first_name": "Ann|Bob", "email": '["a@example.com", "b@example.com"]'},
    {"content_ids": "sku-1|sku-2", "data_processing_options": "LDU;X"},
])
def test_the_stored_row_builds_the_same_event(overrides: dict[str, Any]) -> None:
    row = make_row(**overrides)
    assert from_storage(row).payload == build(row).payload
    assert from_storage(row, ProfileSettings(country="us", currency="USD")).payload == \
        build(row, ProfileSettings(country="us", currency="USD")).payload


@pytest.mark.parametrize(("cell", "expected"), [
    ("sku-1|sku-2", ["sku-1|sku-2"]), ("sku-1;sku-2", ["sku-1;sku-2"]),
    ("sku-1, sku-2", ["sku-1", "sku-2"]), ('["sku|1", "sku;2"]', ["sku|1", "sku;2"]),
])
def test_content_ids_split_only_on_a_comma(cell: str, expected: list[str]) -> None:
    assert build(make_row(content_ids=cell)).payload[0]["custom_data"]["content_ids"] == expected


@pytest.mark.parametrize(("cell", "expected"), [
    ("LDU", ["LDU"]), ("LDU;X", ["LDU;X"]), ("LDU|X", ["LDU|X"]), ("LDU, X", ["LDU", "X"]),
])
def test_processing_options_are_not_split_on_a_semicolon_or_a_bar(cell: str, expected: list[str]) -> None:
    assert build(make_row(data_processing_options=cell)).payload[0]["data_processing_options"] == expected
