"""Rows: synonyms, column mapping, lists of PII values, timestamps."""

from __future__ import annotations

from decimal import Decimal

import pytest
from capi_writeback.rows import canonical_row, parse_occurred_at, unknown_keys


@pytest.mark.parametrize(("key", "canonical"), [
    ("em", "email"), ("ph", "phone"), ("fn", "first_name"), ("ln", "last_name"), ("ct", "city"),
    ("st", "state"), ("zp", "zip"), ("db", "date_of_birth"), ("ge", "gender"),
    ("event_time", "occurred_at"), ("Email Address", "email"), ("Phone-Number", "phone"),
    ("ZIP Code", "zip"), ("IP", "client_ip_address"), ("User Agent", "client_user_agent"),
    ("customer_id", "external_id"), ("Conversion ID", "conversion_id"), ("COUNTRY", "country"),
])
def test_synonyms(key: str, canonical: str) -> None:
    assert canonical_row({key: "v"}) == {canonical: "v"}


def test_empty_values_and_unknown_keys_are_dropped() -> None:
    raw = {"email": "", "phone": None, "notes": "vip", "conversion_id": "c"}
    assert canonical_row(raw) == {"conversion_id": "c"}
    assert unknown_keys(raw) == ["notes"]


def test_column_mapping_comes_before_synonyms() -> None:
    raw = {"Kunde E-Mail": "a@example.com", "Bestellnr": "o-1", "Wann": "1763890000", "ip": "1.2.3.4"}
    mapping = {"Kunde E-Mail": "email", "Bestellnr": "conversion_id", "Wann": "occurred_at", "ip": "notes"}
    assert canonical_row(raw, mapping) == {
        "email": "a@example.com", "conversion_id": "o-1", "occurred_at": "1763890000",
    }
    assert unknown_keys(raw, mapping) == []


def test_two_spellings_of_a_pii_field_are_merged_into_a_list() -> None:
    row = canonical_row({"email": "a@example.com", "em": ["b@example.com", "c@example.com"]})
    assert row == {"email": ["a@example.com", "b@example.com", "c@example.com"]}
    assert canonical_row({"value": 1, "amount": 2}) == {"value": 1}


def test_nested_user_data_and_custom_data_are_flattened() -> None:
    raw = {"conversion_id": "c", "user_data": {"em": "a@example.com", "client_ip_address": "1.2.3.4"},
           "custom_data": {"value": 5, "currency": "EUR"}}
    assert canonical_row(raw) == {"conversion_id": "c", "email": "a@example.com",
                                  "client_ip_address": "1.2.3.4", "value": 5, "currency": "EUR"}


def test_a_non_object_user_data_does_not_stop_later_rows_from_being_flattened() -> None:
    junk = {"conversion_id": "1", "user_data": "junk", "custom_data": 3}
    assert canonical_row(junk) == {"conversion_id": "1"}
    assert canonical_row({"conversion_id": "2", "user_data": {"em": "a@b.co"}, "custom_data": {"value": 3}}) \
        == {"conversion_id": "2", "email": "a@b.co", "value": 3}


@pytest.mark.parametrize(("value", "expected", "warns"), [
    (1763890000, 1763890000, False),
    ("1763890000", 1763890000, False),
    (1763890000.7, 1763890000, False),
    (Decimal("1763890000"), 1763890000, False),
    (1763890000123, 1763890000, True),
    ("1763890000123", 1763890000, True),
    ("2025-11-23T09:26:40Z", 1763890000, False),
    ("2025-11-23T10:26:40+01:00", 1763890000, False),
    ("2025-11-23T09:26:40", 1763890000, False),
    ("2025-11-23 09:26:40.500", 1763890000, False),
])
def test_occurred_at(value: object, expected: int, warns: bool) -> None:
    seconds, warning = parse_occurred_at(value)
    assert seconds == expected
    assert (warning is not None) == warns


@pytest.mark.parametrize("value", [None, "", "yesterday", True, 0, -5, float("nan"), [1], {"a": 1},
                                   10**15, 10**400, -10**400, "1" * 400, "9" * 5000, "1e400", float("inf"),
                                   Decimal("1e400"), Decimal("NaN"), Decimal("sNaN")],
                         ids=lambda v: repr(v)[:24])
def test_bad_occurred_at(value: object) -> None:
    with pytest.raises(ValueError, match="occurred_at"):
        parse_occurred_at(value)


def test_a_canonical_row_is_used_as_is_and_empty_values_are_still_dropped() -> None:
    clean = {"conversion_id": "c", "email": "a@example.com"}
    assert canonical_row(clean) is clean
    assert canonical_row({"conversion_id": "c", "email": ""}) == {"conversion_id": "c"}
    assert canonical_row({"conversion_id": "c", "email": None}) == {"conversion_id": "c"}
    assert canonical_row({"conversion_id": "c", "em": "a@example.com", "email": "b@example.com"}) == {
        "conversion_id": "c", "email": ["a@example.com", "b@example.com"]}
