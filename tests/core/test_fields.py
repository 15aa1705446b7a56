"""The field registry: every list the pipeline uses is derived from it, it refuses contradictory
entries, and a new PII field is one registry entry plus one normalizer (issue 9)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
from capi_writeback import fields
from capi_writeback.events import BuildResult, build_events
from capi_writeback.fields import (
    BASELINE_INVALID,
    CUSTOMER_KEYS,
    FIELDS,
    HASHED_FIELDS,
    MEMO_FIELDS,
    MULTI_VALUE_FIELDS,
    RAW_FIELDS,
    ROW_KEYS,
    STRONG_KEYS,
    SYNONYMS,
    Field,
    Place,
    key_of,
    register,
    spelling,
    unregister,
)
from capi_writeback.hashing import sha256_hex
from capi_writeback.rows import canonical_row, prepare_for_storage, unknown_keys
from capi_writeback.settings import ProfileSettings
from capi_writeback.validate import SkipReason, identifiers_problem

from .conftest import NOW, make_row

# SPEC §4's row keys, plus app_data (app events, CAPI-REFERENCE §2.3) and a stored row's _warnings.
SPEC_ROW_KEYS = {
    "conversion_id", "outcome_type", "event_name", "occurred_at", "action_source", "event_source_url",
    "event_id", "email", "phone", "first_name", "last_name", "city", "state", "zip", "country",
    "date_of_birth", "gender", "external_id", "client_ip_address", "client_user_agent", "fbc", "fbp",
    "fbclid", "value", "currency", "content_ids", "contents", "content_type", "content_name",
    "content_category", "order_id", "num_items", "search_string", "status", "predicted_ltv",
    "data_processing_options", "data_processing_options_country", "data_processing_options_state",
    "app_data", "_warnings",
}
# CAPI-REFERENCE §12: business messaging (the channel and each channel's ids) and app identifiers.
CHANNEL_IDS = {"madid", "anon_id", "page_id", "page_scoped_user_id", "ctwa_clid", "ig_account_id", "ig_sid"}
CHANNEL_KEYS = {"messaging_channel", "whatsapp_business_account_id", "instagram_business_account_id",
                *CHANNEL_IDS}
PROFILE = ProfileSettings(currency="USD")


def build(*rows: Any) -> BuildResult:
    return build_events(list(rows), PROFILE, NOW)


def test_the_row_keys_are_spec_section_4() -> None:
    assert set(ROW_KEYS) == SPEC_ROW_KEYS | CHANNEL_KEYS == set(FIELDS)


def test_user_data_fields_and_their_meta_keys() -> None:
    """CAPI-REFERENCE §3.1: which keys are hashed, which are sent as they are."""
    assert {name: f.key for name, f in HASHED_FIELDS.items()} == {
        "email": "em", "phone": "ph", "first_name": "fn", "last_name": "ln", "city": "ct", "state": "st",
        "zip": "zp", "country": "country", "date_of_birth": "db", "gender": "ge",
        "external_id": "external_id"}
    assert {name: f.key for name, f in RAW_FIELDS.items()} == {
        "client_ip_address": "client_ip_address", "client_user_agent": "client_user_agent",
        "fbc": "fbc", "fbp": "fbp", **{name: name for name in CHANNEL_KEYS - {"messaging_channel"}}}
    assert all(f.hashed and f.multi and f.normalize is not None for f in HASHED_FIELDS.values())
    assert not any(f.hashed or f.multi for f in RAW_FIELDS.values())


def test_meta_keys_are_accepted_as_synonyms() -> None:
    for name, field in HASHED_FIELDS.items():
        assert SYNONYMS.get(field.key or "", name) == name
    assert SYNONYMS["em"] == "email" and SYNONYMS["db"] == "date_of_birth"
    assert SYNONYMS["event_time"] == "occurred_at" and SYNONYMS["dpo"] == "data_processing_options"


def test_every_spelling_is_canonical_and_means_one_field() -> None:
    for other, name in SYNONYMS.items():
        assert spelling(other) == other and other not in FIELDS and name in FIELDS
    keys = [f.key for f in FIELDS.values() if f.key is not None]
    assert len(keys) == len(set(keys))


def test_customer_identifiers_and_the_weak_ones() -> None:
    assert set(CUSTOMER_KEYS) == {"em", "ph", "fn", "ln", "db", "ge", "ct", "st", "zp", "country",
                                  "external_id", "client_ip_address", "client_user_agent", "fbc", "fbp",
                                  *CHANNEL_IDS}
    assert set(STRONG_KEYS) == {"em", "ph", "external_id", "client_ip_address", "fbc", "fbp", *CHANNEL_IDS}
    weak = {f.key for f in FIELDS.values() if f.weak}
    assert weak == set(CUSTOMER_KEYS) - set(STRONG_KEYS)
    # Every key of Meta's too-weak combinations is a registered identifier: renaming a key in the
    # registry cannot silently switch the baseline rule off.
    assert frozenset().union(*BASELINE_INVALID) <= CUSTOMER_KEYS


def test_memoized_and_multi_valued_fields() -> None:
    assert set(MEMO_FIELDS) == {"first_name", "last_name", "city", "state", "country", "gender",
                                "date_of_birth"}
    assert set(MULTI_VALUE_FIELDS) == set(HASHED_FIELDS) | {"content_ids", "contents",
                                                            "data_processing_options"}


def test_key_of() -> None:
    assert key_of("email") == "em" and key_of("fbp") == "fbp" and key_of("value") == "value"
    with pytest.raises(KeyError, match="row-only"):
        key_of("conversion_id")


def _digits(value: str, country: str | None) -> str | None:
    """The throw-away field's normalizer: at least six digits, nothing else kept."""
    digits = "".join(ch for ch in value if ch.isdigit())
    return digits if len(digits) >= 6 else None


@pytest.mark.parametrize(("field", "problem"), [
    (lambda: Field("Loyalty", Place.HASHED, normalize=_digits), "lowercase"),
    (lambda: Field("loyalty", Place.HASHED, synonyms=("Club Card",), normalize=_digits), "lowercase"),
    (lambda: Field("loyalty", Place.HASHED), "normalizer"),
    (lambda: Field("loyalty", Place.USER_DATA), "normalizer"),
    (lambda: Field("loyalty", Place.ROW, key="lty"), "no key"),
    (lambda: Field("loyalty", Place.CUSTOM_DATA, identifier=True), "only user_data"),
    (lambda: Field("loyalty", Place.EVENT, normalize=_digits), "only user_data"),
])
def test_a_contradictory_field_is_refused(field: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        field()


@pytest.mark.parametrize("field", [
    Field("email", Place.HASHED, normalize=_digits),  # a name that is taken
    Field("loyalty", Place.HASHED, synonyms=("mail",), normalize=_digits),  # a spelling that is taken
    Field("loyalty", Place.HASHED, synonyms=("phone",), normalize=_digits),  # another field's name
    Field("loyalty", Place.HASHED, key="em", normalize=_digits),  # Meta's key of another field
])
def test_a_clashing_registration_is_refused_and_changes_nothing(field: Field) -> None:
    before = (dict(FIELDS), dict(SYNONYMS), set(CUSTOMER_KEYS))
    with pytest.raises(ValueError):
        register(field)
    assert (dict(FIELDS), dict(SYNONYMS), set(CUSTOMER_KEYS)) == before


# --- a new PII field is one registry entry plus one normalizer ------------------------------------

LOYALTY = Field("loyalty_number", Place.HASHED, key="lyn", synonyms=("loyalty_card", "club_card_no"),
                normalize=_digits, identifier=True, multi=True)


@pytest.fixture(params=[False, True], ids=["plain", "memoized"])
def loyalty(request: pytest.FixtureRequest) -> Iterator[Field]:
    """The throw-away field, registered for one test and removed after it."""
    field = dataclasses.replace(LOYALTY, memoized=request.param)
    register(field)
    try:
        yield field
    finally:
        unregister(field.name)
    assert "loyalty_number" not in FIELDS and "lyn" not in SYNONYMS


def test_a_new_field_is_read_under_its_spellings(loyalty: Field) -> None:
    for spelled in ("loyalty_number", "lyn", "Loyalty Card", "club-card-no"):
        assert canonical_row({spelled: "12-3456-78"}) == {"loyalty_number": "12-3456-78"}
        assert unknown_keys({spelled: "x"}) == []
    assert canonical_row({"lyn": "111111", "loyalty_card": ["222222"]}) == {
        "loyalty_number": ["111111", "222222"]}  # multi-valued: two spellings merge


def test_a_new_field_is_normalized_hashed_and_sent_in_user_data(loyalty: Field) -> None:
    for _ in range(2):  # cold, then with the memo (if any) warm
        built = build(make_row(email=None, **{"Club Card No": "12-3456-78"})).events[0]
        assert built.event["user_data"] == {"lyn": [sha256_hex("12345678")]}
    user = build(make_row(lyn='["111111", "222222", "111-111"]')).payload[0]["user_data"]
    assert user["lyn"] == [sha256_hex("111111"), sha256_hex("222222")]
    digest = sha256_hex("999999")
    assert build(make_row(lyn=digest.upper())).payload[0]["user_data"]["lyn"] == [digest]
    dropped = build(make_row(lyn="12")).events[0]
    assert "lyn" not in dropped.event["user_data"]
    assert any(w.startswith("loyalty_number: dropped") for w in dropped.warnings)


def test_a_new_field_is_stored_hashed_and_builds_the_same_event(loyalty: Field) -> None:
    row = make_row(email=None, loyalty_card="12-3456-78")
    stored = prepare_for_storage(row, PROFILE, NOW)
    assert isinstance(stored, dict)
    assert stored["loyalty_number"] == [sha256_hex("12345678")]
    assert "12-3456-78" not in json.dumps(stored)
    assert build(json.loads(json.dumps(stored))).payload == build(row).payload


def test_a_new_identifier_is_enough_to_send(loyalty: Field) -> None:
    assert identifiers_problem({"lyn": ["x"]}) is None
    assert build(make_row(email=None, lyn="12-3456-78")).skipped == []


def test_a_new_field_not_flagged_as_identifier_does_not_count() -> None:
    register(dataclasses.replace(LOYALTY, identifier=False))
    try:
        result = build(make_row(email=None, lyn="12-3456-78"))
        assert [s.reason for s in result.skipped] == [SkipReason.NO_CUSTOMER_IDENTIFIERS]
    finally:
        unregister("loyalty_number")


def test_a_new_unhashed_field_is_sent_as_is() -> None:
    """The shape of CAPI-REFERENCE §12's messaging and app ids (page_scoped_user_id, madid...):
    unhashed, one value, a customer identifier."""
    def trimmed(value: str, country: str | None) -> str | None:
        return value.strip() or None

    register(Field("demo_scoped_id", Place.USER_DATA, synonyms=("dsid",), normalize=trimmed, identifier=True))
    try:
        row = make_row(email=None, dsid=["  ", " 4242 ", "5353"])
        assert build(row).payload[0]["user_data"] == {"demo_scoped_id": "4242"}
        stored = prepare_for_storage(row, PROFILE, NOW)
        assert isinstance(stored, dict) and stored["demo_scoped_id"] == "4242"
        assert build(stored).payload == build(row).payload
    finally:
        unregister("demo_scoped_id")


def test_after_removal_the_field_is_unknown_again() -> None:
    canonical_row({"lyn": "1"})  # the key is looked up (and remembered) before registration
    register(LOYALTY)
    assert canonical_row({"lyn": "1"}) == {"loyalty_number": "1"}
    unregister("loyalty_number")
    assert canonical_row({"lyn": "1"}) == {}
    assert unknown_keys({"lyn": "1"}) == ["lyn"]
    assert fields.FIELDS is FIELDS  # the views are the same objects, updated in place
