"""Building events: shape, determinism, custom_data, warnings, match quality, batches, payload hash,
and the stored (hashed) form of a row."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from capi_writeback.events import BuildResult, build_events, event_id_for
from capi_writeback.hashing import is_hashed, sha256_hex
from capi_writeback.payload import batches, payload_hash
from capi_writeback.quality import match_quality
from capi_writeback.rows import Rejection, prepare_for_storage
from capi_writeback.settings import ProfileSettings
from capi_writeback.validate import SkipReason

from .conftest import NOW, make_row

FULL = make_row(
    phone="(650) 555-1212", first_name="John", last_name="Smith", city="San Francisco",
    state="California", zip="94107-1234", country="United States", date_of_birth="2/16/1997",
    gender="Male", external_id=" crm-1 ", client_ip_address="203.0.113.7",
    client_user_agent="Mozilla/5.0", fbp="fb.1.1596403881668.1116446470", fbclid="IwAR2xYzAbCdEf",
    content_ids="sku-1, sku-2", contents='[{"id": "sku-1", "quantity": "2", "item_price": "9.99"}]',
    order_id=1001, num_items="2", content_type="product", predicted_ltv="300",
)


def build(*rows: Any, settings: ProfileSettings | None = None) -> BuildResult:
    return build_events(list(rows), settings or ProfileSettings(), NOW)


def test_full_event_shape() -> None:
    event = build(FULL).payload[0]
    assert event["event_name"] == "Purchase"
    assert event["event_time"] == NOW - 3600
    assert event["action_source"] == "system_generated"
    assert event["event_id"] == "cw-" + hashlib.sha256(b"ord-1").hexdigest()[:32]
    user = event["user_data"]
    assert user["em"] == [sha256_hex("john_smith@gmail.com")]
    assert user["ph"] == [sha256_hex("16505551212")]
    assert user["fn"] == [sha256_hex("john")]
    assert user["ln"] == [sha256_hex("smith")]
    assert user["ct"] == [sha256_hex("sanfrancisco")]
    assert user["st"] == [sha256_hex("ca")]
    assert user["zp"] == [sha256_hex("94107")]
    assert user["country"] == [sha256_hex("us")]
    assert user["db"] == [sha256_hex("19970216")]
    assert user["ge"] == [sha256_hex("m")]
    assert user["external_id"] == [sha256_hex("crm-1")]
    assert user["client_ip_address"] == "203.0.113.7"
    assert user["client_user_agent"] == "Mozilla/5.0"
    assert user["fbp"] == "fb.1.1596403881668.1116446470"
    assert user["fbc"] == f"fb.1.{(NOW - 3600) * 1000}.IwAR2xYzAbCdEf"
    assert event["custom_data"] == {
        "value": 19.99, "currency": "USD", "content_ids": ["sku-1", "sku-2"],
        "contents": [{"id": "sku-1", "quantity": 2, "item_price": 9.99}], "order_id": "1001",
        "num_items": 2, "content_type": "product", "predicted_ltv": 300,
    }


def test_hashed_fields_are_hashed_and_raw_fields_are_not() -> None:
    user = build(FULL).payload[0]["user_data"]
    for key in ("em", "ph", "fn", "ln", "ct", "st", "zp", "country", "db", "ge", "external_id"):
        assert all(is_hashed(v) for v in user[key]), key
    for key in ("client_ip_address", "client_user_agent", "fbc", "fbp"):
        assert not is_hashed(user[key]), key


def test_event_id_from_the_row_wins_and_derived_ids_are_stable() -> None:
    assert build(make_row(event_id=" order-77 ")).payload[0]["event_id"] == "order-77"
    assert event_id_for("ord-1") == event_id_for("ord-1") != event_id_for("ord-2")
    assert build(make_row()).payload[0]["event_id"] == event_id_for("ord-1")


def test_explicit_fbc_is_kept_and_not_rebuilt_from_fbclid() -> None:
    fbc = "fb.1.1596403881668.AbCdEf"
    assert build(make_row(fbc=fbc, fbclid="IwAR2xYzAbCdEf")).payload[0]["user_data"]["fbc"] == fbc


def test_lists_of_pii_values_are_deduplicated_in_order() -> None:
    row = make_row(email=["B@example.com", "a@example.com", "b@example.com "],
                   phone='["+1 650 555 1212", "+44 7911 123456"]')
    user = build(row).payload[0]["user_data"]
    assert user["em"] == [sha256_hex("b@example.com"), sha256_hex("a@example.com")]
    assert user["ph"] == [sha256_hex("16505551212"), sha256_hex("447911123456")]


def test_a_json_list_in_a_csv_cell_is_a_list_of_values() -> None:
    row = make_row(email='["B@example.com", "a@example.com"]', first_name='["Ann", "Bob"]',
                   phone='["+1 650 555 1212"]', country='["UK"]', zip="[SW1A 1AA]")
    user = build(row).payload[0]["user_data"]
    assert user["em"] == [sha256_hex("b@example.com"), sha256_hex("a@example.com")]
    assert user["fn"] == [sha256_hex("ann"), sha256_hex("bob")]
    assert user["ph"] == [sha256_hex("16505551212")]
    assert user["country"] == [sha256_hex("gb")]
    assert user["zp"] == [sha256_hex("sw1a1aa")]  # not JSON: the value as written


def test_phone_gets_the_country_code_from_row_then_profile() -> None:
    uk = build(make_row(phone="07911 123456", country="United Kingdom")).payload[0]["user_data"]
    assert uk["ph"] == [sha256_hex("447911123456")]
    profile = build(make_row(phone="07911 123456"), settings=ProfileSettings(country="GB")).payload[0]
    assert profile["user_data"]["ph"] == [sha256_hex("447911123456")]
    none = build(make_row(phone="07911 123456"))
    assert "ph" not in none.payload[0]["user_data"]
    assert none.events[0].warnings == ["phone: dropped a value that could not be normalized"]


def test_unnormalizable_values_are_dropped_with_a_warning_naming_the_field() -> None:
    row = make_row(phone="call me", gender="other", date_of_birth="someday", client_ip_address="999.1.1.1",
                   fbp="nope", fbclid="bad click id")
    result = build(row)
    user = result.payload[0]["user_data"]
    assert set(user) == {"em"}
    warnings = result.events[0].warnings
    for field in ("phone", "gender", "date_of_birth", "client_ip_address", "fbp", "fbclid"):
        assert any(w.startswith(field + ":") for w in warnings), field
    assert not any("call me" in w or "someday" in w for w in warnings + result.warnings)


def test_md5_digests_are_dropped_with_a_warning_not_hashed_again() -> None:
    md5 = hashlib.md5(b"someone").hexdigest()
    row = make_row(first_name=md5, zip=md5, city=md5.upper(), external_id=md5)
    result = build(row)
    assert set(result.payload[0]["user_data"]) == {"em", "external_id"}
    for field in ("first_name", "zip", "city"):
        assert any(w.startswith(field + ":") for w in result.events[0].warnings), field


def test_a_row_with_odd_warnings_is_built_not_raised_on() -> None:
    result = build(make_row(_warnings=[[], {"x": 1}, 3, "note"]))
    assert result.events and result.events[0].warnings == ["[]", "{'x': 1}", "3", "note"]


def test_result_warnings_summarize_rows() -> None:
    rows = [make_row(conversion_id=f"c{i}", phone="x") for i in range(8)]
    result = build(*rows)
    assert result.warnings == [
        "phone: dropped a value that could not be normalized (rows 0, 1, 2, 3, 4 and 3 more)"]


def test_milliseconds_are_converted_with_a_warning() -> None:
    result = build(make_row(occurred_at=(NOW - 60) * 1000))
    assert result.payload[0]["event_time"] == NOW - 60
    assert any("milliseconds" in w for w in result.events[0].warnings)


def test_currency_defaults_from_the_profile_and_is_uppercased() -> None:
    event = build(make_row(currency=None), settings=ProfileSettings(currency="eur")).payload[0]
    assert event["custom_data"]["currency"] == "EUR"
    lead = build(make_row(outcome_type="lead_created", value=None, currency=None),
                 settings=ProfileSettings(currency="eur")).payload[0]
    assert "custom_data" not in lead


def test_processing_options_are_passed_through() -> None:
    event = build(make_row(data_processing_options=["LDU"], data_processing_options_country="1",
                           data_processing_options_state=1000)).payload[0]
    assert event["data_processing_options"] == ["LDU"]
    assert event["data_processing_options_country"] == 1
    assert event["data_processing_options_state"] == 1000
    assert build(make_row(data_processing_options=[])).payload[0]["data_processing_options"] == []


@pytest.mark.parametrize(("cell", "expected"), [
    ('["LDU"]', ["LDU"]), ("[]", []), (" [ ] ", []), ("LDU", ["LDU"]), ("LDU, X", ["LDU", "X"]),
])
def test_processing_options_from_a_csv_cell(cell: str, expected: list[str]) -> None:
    event = build(make_row(data_processing_options=cell)).payload[0]
    assert event["data_processing_options"] == expected


@pytest.mark.parametrize(("cell", "expected"), [
    ('["sku-1", "sku-2"]', ["sku-1", "sku-2"]), ("[1, 2]", ["1", "2"]), ("sku-1,sku-2", ["sku-1", "sku-2"]),
])
def test_content_ids_from_a_csv_cell(cell: str, expected: list[str]) -> None:
    event = build(make_row(content_ids=cell)).payload[0]
    assert event["custom_data"]["content_ids"] == expected


def test_processing_options_json_that_is_not_a_list_of_strings_is_dropped() -> None:
    built = build(make_row(data_processing_options='[1, 2]')).events[0]
    assert "data_processing_options" not in built.event
    assert any(w.startswith("data_processing_options:") for w in built.warnings)


def test_app_events_carry_padded_extinfo() -> None:
    app_data = {"advertiser_tracking_enabled": 1, "extinfo": ["a2", "com.example", "1", "1", "14"]}
    event = build(make_row(action_source="app", app_data=app_data)).payload[0]
    assert event["app_data"]["extinfo"][:5] == ["a2", "com.example", "1", "1", "14"]
    assert len(event["app_data"]["extinfo"]) == 16


def test_non_finite_numbers_in_copied_objects_never_reach_the_payload() -> None:
    app_data = {"advertiser_tracking_enabled": float("inf"), "extinfo": ["a2", "", "", "", "14"]}
    rows = [make_row(conversion_id="c1", contents=[{"id": "a", "brand": float("nan")}]),
            make_row(conversion_id="c2", action_source="app", app_data=app_data)]
    result = build(*rows)
    assert result.payload_hash.startswith("sha256:")  # serializable: no NaN/Infinity inside
    assert "contents" not in result.payload[0].get("custom_data", {})
    assert [s.reason for s in result.skipped] == [SkipReason.APP_DATA_REQUIRED]


def test_nan_in_a_pii_field_is_a_missing_value_not_the_name_nan() -> None:
    nan = float("nan")
    row = make_row(first_name=nan, city=nan, state=float("inf"), zip=[nan, "94107"])
    user = build(row).payload[0]["user_data"]
    assert "fn" not in user and "ct" not in user and "st" not in user
    assert user["zp"] == [sha256_hex("94107")]


def test_nan_as_event_id_or_event_name_is_a_missing_value() -> None:
    nan = float("nan")
    rows = [make_row(conversion_id="c1", event_id=nan, event_name=nan),
            make_row(conversion_id="c2", event_id=nan, event_name=nan)]
    payload = build(*rows).payload
    assert [e["event_id"] for e in payload] == [event_id_for("c1"), event_id_for("c2")]
    assert payload[0]["event_name"] == "Purchase"  # from outcome_type
    assert build(make_row(conversion_id=nan)).skipped[0].reason == SkipReason.MISSING_CONVERSION_ID


def test_app_data_as_json_text_from_a_csv_cell() -> None:
    cell = '{"advertiser_tracking_enabled": 1, "extinfo": ["i2", "com.example", "1", "1", "17.1"]}'
    event = build(make_row(action_source="app", app_data=cell)).payload[0]
    assert event["app_data"]["advertiser_tracking_enabled"] == 1
    assert event["app_data"]["extinfo"][:5] == ["i2", "com.example", "1", "1", "17.1"]


@pytest.mark.parametrize(("user_data", "expected"), [
    ({"fbp": "x", "em": ["h"], "ph": ["h"], "client_ip_address": "1.2.3.4", "client_user_agent": "ua"},
     "great"),
    ({"em": ["h"], "ph": ["h"], "client_ip_address": "1.2.3.4", "client_user_agent": "ua"}, "good"),
    ({"em": ["h"], "client_user_agent": "ua"}, "good"),
    ({"ph": ["h"], "client_ip_address": "1.2.3.4"}, "good"),
    ({"em": ["h"], "ph": ["h"], "fbp": "x"}, "weak"),
    ({"client_ip_address": "1.2.3.4", "client_user_agent": "ua", "fbp": "x"}, "weak"),
    ({"external_id": ["h"]}, "weak"),
])
def test_match_quality(user_data: dict[str, Any], expected: str) -> None:
    assert match_quality(user_data) == expected


def test_result_counts() -> None:
    rows = [FULL, make_row(conversion_id="c2", outcome_type="lead_created"),
            make_row(conversion_id="c3", client_user_agent="ua"), make_row(conversion_id="c4", value=None)]
    result = build(*rows)
    assert result.events_by_name == {"Lead": 1, "Purchase": 2}
    assert result.match_quality == {"great": 1, "good": 1, "weak": 1}
    assert [s.reason for s in result.skipped] == [SkipReason.PURCHASE_MISSING_VALUE]
    assert [(e.index, e.conversion_id) for e in result.events] == [(0, "ord-1"), (1, "c2"), (2, "c3")]
    assert result.skipped[0].index == 3 and result.skipped[0].conversion_id == "c4"


def test_a_row_that_breaks_the_builder_costs_only_that_row() -> None:
    class Exploding(dict[str, Any]):
        def items(self) -> Any:
            raise RuntimeError("boom")

    result = build(Exploding(conversion_id="x"), make_row())
    assert [s.reason for s in result.skipped] == [SkipReason.INVALID_ROW]
    assert len(result.events) == 1


def test_batches_split_in_order_at_1000() -> None:
    events = [{"n": i} for i in range(2501)]
    split = batches(events)
    assert [len(b) for b in split] == [1000, 1000, 501]
    assert [e for b in split for e in b] == events
    assert batches([]) == []
    with pytest.raises(ValueError):
        batches(events, 1001)


def test_payload_hash_is_the_hash_of_the_canonical_batch_hashes() -> None:
    """The definition in payload.py (and docs/architecture.md), computed independently."""
    def digest(batch: list[dict[str, Any]]) -> bytes:
        text = json.dumps(batch, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).digest()

    events = [{"b": "é", "a": [1, 2.5], "n": i} for i in range(2001)]
    expected = hashlib.sha256(digest(events[:1000]) + digest(events[1000:2000]) + digest(events[2000:]))
    assert payload_hash(events) == "sha256:" + expected.hexdigest()
    one = [{"b": "é", "a": [1, 2.5]}]
    canonical = '[{"a":[1,2.5],"b":"é"}]'.encode()
    assert payload_hash(one) == "sha256:" + hashlib.sha256(hashlib.sha256(canonical).digest()).hexdigest()
    assert payload_hash([{"a": [1, 2.5], "b": "é"}]) == payload_hash(one)
    assert payload_hash(one) != payload_hash([{"b": "e", "a": [1, 2.5]}])
    assert payload_hash([]) == "sha256:" + hashlib.sha256(b"").hexdigest()


def test_same_input_gives_the_same_payload_hash() -> None:
    first = build(FULL, make_row(conversion_id="c2"))
    second = build(json.loads(json.dumps(FULL)), make_row(conversion_id="c2"))
    assert first.payload_hash == second.payload_hash
    assert first.payload_hash.startswith("sha256:") and len(first.payload_hash) == 71
    assert build(FULL).payload_hash != first.payload_hash


# --- stored rows -------------------------------------------------------------------------------

RAW_PII = ("john_smith@gmail.com", "650", "John", "Smith", "San Francisco", "94107", "crm-1")


def test_stored_row_holds_no_raw_pii() -> None:
    stored = prepare_for_storage(FULL, ProfileSettings(), NOW)
    assert isinstance(stored, dict)
    text = json.dumps(stored)
    for raw in RAW_PII:
        assert raw not in text, raw
    assert stored["occurred_at"] == NOW - 3600
    assert stored["outcome_type"] == "payment_received"
    assert stored["conversion_id"] == "ord-1"
    assert stored["value"] == "19.99" and stored["currency"] == "USD"
    assert stored["client_ip_address"] == "203.0.113.7"
    assert stored["fbclid"] == "IwAR2xYzAbCdEf"
    for key in ("email", "phone", "first_name", "last_name", "city", "state", "zip", "country",
                "date_of_birth", "gender", "external_id"):
        assert all(is_hashed(v) for v in stored[key]), key


@pytest.mark.parametrize("row", [
    FULL,
    make_row(phone="07911 123456", country="GB", occurred_at=(NOW - 100) * 1000),
    make_row(phone="07911 123456", em="second@example.com", gender="nope"),
    make_row(event_name="qualified_demo", value=None, currency=None, fbclid="IwAR2xYzAbCdEf"),
    make_row(**{"Email Address": "x@example.com", "email": None}),
])
def test_building_from_the_stored_row_gives_the_same_event(row: dict[str, Any]) -> None:
    settings = ProfileSettings(country="GB")
    stored = prepare_for_storage(row, settings, NOW)
    assert isinstance(stored, dict)
    stored = json.loads(json.dumps(stored))  # as it comes back from storage
    from_raw = build_events([row], settings, NOW)
    from_stored = build_events([stored], settings, NOW)
    assert from_stored.payload == from_raw.payload
    assert from_stored.payload_hash == from_raw.payload_hash
    assert sorted(from_stored.events[0].warnings) == sorted(from_raw.events[0].warnings)


@pytest.mark.parametrize(("row", "reason"), [
    (make_row(conversion_id=None), SkipReason.MISSING_CONVERSION_ID),
    (make_row(occurred_at=None), SkipReason.MISSING_TIMESTAMP),
    (make_row(occurred_at="soon"), SkipReason.MISSING_TIMESTAMP),
    (make_row(outcome_type="refund"), SkipReason.UNKNOWN_OUTCOME_TYPE),
    (make_row(event_name="Not Valid"), SkipReason.INVALID_EVENT_NAME),
    (make_row(action_source="fax"), SkipReason.INVALID_ACTION_SOURCE),
])
def test_rows_that_can_never_become_events_are_rejected(row: dict[str, Any], reason: SkipReason) -> None:
    rejection = prepare_for_storage(row, ProfileSettings(), NOW)
    assert isinstance(rejection, Rejection)
    assert rejection.reason is reason and rejection.detail


def test_old_rows_are_still_storable() -> None:
    old = make_row(occurred_at=NOW - 30 * 86400)
    assert isinstance(prepare_for_storage(old, ProfileSettings(), NOW), dict)


def test_settings_round_trip() -> None:
    settings = ProfileSettings(action_source="website", country="US", currency="USD",
                               event_mapping={"x": "Lead"}, column_mapping={"Mail": "email"})
    assert ProfileSettings.from_dict(settings.to_dict()) == settings
    assert ProfileSettings.from_dict(None) == ProfileSettings()
    assert ProfileSettings.from_dict({"country": " ", "event_mapping": None}).country is None


def test_unknown_columns_are_reported_once_with_their_rows() -> None:
    rows = [make_row(conversion_id=f"c{i}", **{"Emial": "x@example.com", "notes": "vip"}) for i in range(3)]
    rows.append(make_row(conversion_id="c9"))
    result = build(*rows)
    assert "ignored unknown column 'Emial' (map it with the profile's column_mapping) (rows 0, 1, 2)" in \
        result.warnings
    assert len([w for w in result.warnings if "ignored unknown column" in w]) == 2
    mapping = {"Emial": "email", "notes": "order_id"}
    mapped = build_events(rows[:1], ProfileSettings(column_mapping=mapping), NOW)
    assert not [w for w in mapped.warnings if "ignored" in w]
    assert mapped.payload[0]["custom_data"]["order_id"] == "vip"
