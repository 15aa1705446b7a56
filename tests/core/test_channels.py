"""Validation completeness (issue 11): business messaging (`messaging_channel` and each channel's
identifiers), app identifiers (`madid`, `anon_id`) and the `app_data` rules (CAPI-REFERENCE §2.1,
§2.3, §3.1, §12). Rows and single events share these rules: both are built by `events.py`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from capi_writeback.events import BuildResult, build_events
from capi_writeback.fields import CUSTOMER_KEYS, FIELDS, RAW_FIELDS, SOURCE_BOUND, STRONG_KEYS, SYNONYMS
from capi_writeback.limits import MESSAGING_CHANNEL_NAMES
from capi_writeback.rows import canonical_row, prepare_for_storage
from capi_writeback.settings import ProfileSettings
from capi_writeback.validate import MESSAGING_CHANNELS, SkipReason
from capi_writeback_local.meta_emulator.rules import Strictness, check_event

from .conftest import NOW, make_row

PROFILE = ProfileSettings(currency="USD")
IDFA = "6D92078A-8246-4BA4-AE5B-76104861E7DC"
APP_DATA = {"advertiser_tracking_enabled": 1, "extinfo": ["i2", "com.example", "1.0", "1.0", "17.1"]}
MESSENGER = {"action_source": "business_messaging", "messaging_channel": "messenger",
             "page_id": "104358498765432", "page_scoped_user_id": "6543210987654321"}
WHATSAPP = {"action_source": "business_messaging", "messaging_channel": "whatsapp",
            "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM"}
INSTAGRAM = {"action_source": "business_messaging", "messaging_channel": "instagram",
             "ig_account_id": "17841400000000001", "ig_sid": "1234567890123456"}


def build(*rows: Any) -> BuildResult:
    return build_events(list(rows), PROFILE, NOW)


def only_reason(row: dict[str, Any]) -> tuple[SkipReason, str]:
    result = build(row)
    assert len(result.skipped) == 1 and not result.events, result.events
    return result.skipped[0].reason, result.skipped[0].detail


def sent(row: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    result = build(row)
    assert not result.skipped, result.skipped
    (built,) = result.events
    assert check_event(built.event, NOW, Strictness()) == []  # the emulator's independent rules
    return built.event, built.warnings


# --- the registry ---------------------------------------------------------------------------------

def test_the_new_identifiers_are_registry_entries_sent_unhashed() -> None:
    new = {"madid", "anon_id", "page_id", "page_scoped_user_id", "ctwa_clid", "ig_account_id", "ig_sid"}
    assert new <= set(RAW_FIELDS) and new <= CUSTOMER_KEYS and new <= STRONG_KEYS
    assert {"whatsapp_business_account_id", "instagram_business_account_id"} <= set(RAW_FIELDS)
    assert not {"whatsapp_business_account_id", "instagram_business_account_id"} & CUSTOMER_KEYS
    assert FIELDS["messaging_channel"].key == "messaging_channel"
    assert SYNONYMS["psid"] == "page_scoped_user_id" and SYNONYMS["idfa"] == "madid"
    assert {key: set(sources) for key, sources in SOURCE_BOUND.items()} == {
        "madid": {"app"}, "anon_id": {"app"},
        **{key: {"business_messaging"} for key in (
            "page_id", "page_scoped_user_id", "ctwa_clid", "ig_account_id", "ig_sid",
            "whatsapp_business_account_id", "instagram_business_account_id")}}


def test_the_channels_are_the_ones_the_request_models_publish() -> None:
    assert set(MESSAGING_CHANNELS) == set(MESSAGING_CHANNEL_NAMES)


def test_the_new_fields_are_read_from_nested_user_data_under_their_spellings() -> None:
    row = canonical_row({"user_data": {"psid": "42", "IDFA": IDFA}, "messaging_channel": "Messenger"})
    assert row == {"page_scoped_user_id": "42", "madid": IDFA, "messaging_channel": "Messenger"}


# --- app events ------------------------------------------------------------------------------------

def test_an_app_event_may_be_identified_by_its_advertising_or_install_id_alone() -> None:
    for ids in ({"madid": IDFA}, {"anon_id": "XZ1A2B3C4D5E6F"}):
        event, _warnings = sent(make_row(email=None, action_source="app", app_data=APP_DATA, **ids))
        assert event["user_data"] == ids  # unhashed, one value each


@pytest.mark.parametrize("value", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "  "])
def test_an_unusable_advertising_id_is_dropped_with_a_warning(value: str) -> None:
    event, warnings = sent(make_row(action_source="app", app_data=APP_DATA, madid=value))
    assert "madid" not in event["user_data"]
    assert any(w.startswith("madid: dropped") for w in warnings) == bool(value.strip())


def test_app_identifiers_count_only_for_app_events() -> None:
    reason, _detail = only_reason(make_row(email=None, madid=IDFA))  # a system_generated event
    assert reason is SkipReason.NO_CUSTOMER_IDENTIFIERS
    event, warnings = sent(make_row(madid=IDFA, anon_id="XZ1"))
    assert "madid" not in event["user_data"] and "anon_id" not in event["user_data"]
    assert "madid: dropped; only sent with action_source app" in warnings


def test_advertiser_tracking_enabled_is_sent_as_0_or_1() -> None:
    for given, expected in ((True, 1), (False, 0), ("1", 1), ("false", 0), (0, 0)):
        app_data = {**APP_DATA, "advertiser_tracking_enabled": given, "application_tracking_enabled": given}
        event, _warnings = sent(make_row(action_source="app", app_data=app_data))
        assert event["app_data"]["advertiser_tracking_enabled"] == expected
        assert event["app_data"]["application_tracking_enabled"] == expected


@pytest.mark.parametrize(("app_data", "detail"), [
    ({**APP_DATA, "advertiser_tracking_enabled": "maybe"}, "advertiser_tracking_enabled must be"),
    ({**APP_DATA, "advertiser_tracking_enabled": 2}, "advertiser_tracking_enabled must be"),
    ({**APP_DATA, "advertiser_tracking_enabled": None}, "advertiser_tracking_enabled"),
    ({**APP_DATA, "extinfo": ["a2", "", "", "", "14", *[""] * 12]}, "at most 16"),
    ({**APP_DATA, "extinfo": ["a2", ["nested"], "", "", "14"]}, "extinfo[1]"),
    ({**APP_DATA, "extinfo": ["a2", {"x": 1}, "", "", "14"]}, "extinfo[1]"),
    ({**APP_DATA, "extinfo": "a2,com.example"}, "extinfo"),
    ({**APP_DATA, "extinfo": ["a2", "", "", "", "  "]}, "extinfo[4]"),
])
def test_app_data_that_meta_would_refuse_is_skipped(app_data: dict[str, Any], detail: str) -> None:
    reason, found = only_reason(make_row(action_source="app", app_data=app_data))
    assert reason is SkipReason.APP_DATA_REQUIRED and detail in found, found


def test_optional_app_data_keys_are_checked_and_unknown_ones_dropped() -> None:
    app_data = {**APP_DATA, "vendor_id": "B0B0B0B0-0000-4000-8000-000000000000", "url_schemes": ["ex://"],
                "campaign_ids": 1234, "application_tracking_enabled": "sometimes", "madid": IDFA,
                "Jane.Doe@example.com": 1, "installer_package": ["not", "text"]}
    event, warnings = sent(make_row(action_source="app", app_data=app_data))
    assert event["app_data"] == {
        "advertiser_tracking_enabled": 1, "extinfo": [*APP_DATA["extinfo"], *[""] * 11],
        "vendor_id": "B0B0B0B0-0000-4000-8000-000000000000", "url_schemes": ["ex://"], "campaign_ids": "1234"}
    assert "app_data.application_tracking_enabled: dropped a value that is not 0 or 1" in warnings
    assert "app_data.installer_package: dropped a value that is not text" in warnings
    assert "app_data.madid: dropped an unknown key" in warnings
    assert "app_data.(unknown key): dropped an unknown key" in warnings
    assert "Jane" not in json.dumps(warnings)  # a key may be user data: never echoed


def test_app_data_of_an_event_that_is_no_app_event_is_dropped_with_a_warning() -> None:
    event, warnings = sent(make_row(app_data=APP_DATA))
    assert "app_data" not in event
    assert "app_data: dropped; only sent with action_source app" in warnings


# --- business messaging ----------------------------------------------------------------------------

@pytest.mark.parametrize("channel_row", [MESSENGER, WHATSAPP, INSTAGRAM], ids=["messenger", "whatsapp",
                                                                                "instagram"])
def test_a_business_messaging_event_carries_its_channel_and_channel_ids(channel_row: dict[str, Any]) -> None:
    event, _warnings = sent(make_row(email=None, **channel_row))
    assert event["action_source"] == "business_messaging"
    assert event["messaging_channel"] == channel_row["messaging_channel"]
    ids = {k: v for k, v in channel_row.items() if k not in ("action_source", "messaging_channel")}
    assert event["user_data"] == ids


def test_the_channel_is_written_as_meta_spells_it() -> None:
    event, _warnings = sent(make_row(**{**WHATSAPP, "messaging_channel": " WhatsApp "}))
    assert event["messaging_channel"] == "whatsapp"


def test_business_messaging_needs_a_known_channel() -> None:
    for channel in (None, "sms", ""):
        row = make_row(**{**MESSENGER, "messaging_channel": channel})
        reason, detail = only_reason(row)
        assert reason is SkipReason.MESSAGING_CHANNEL_REQUIRED
        assert "instagram, messenger, whatsapp" in detail


@pytest.mark.parametrize(("channel_row", "missing", "named"), [
    (MESSENGER, "page_scoped_user_id", "page_id and page_scoped_user_id"),
    (MESSENGER, "page_id", "page_id and page_scoped_user_id"),
    (WHATSAPP, "ctwa_clid", "ctwa_clid"),
    (INSTAGRAM, "ig_sid", "ig_account_id and ig_sid"),
])
def test_each_channel_needs_its_identifiers(channel_row: dict[str, Any], missing: str, named: str) -> None:
    reason, detail = only_reason(make_row(**{**channel_row, missing: None}))
    assert reason is SkipReason.MISSING_MESSAGING_IDENTIFIERS
    assert named in detail and channel_row["messaging_channel"] in detail


def test_messaging_ids_must_be_ids() -> None:
    event, warnings = sent(make_row(**{**MESSENGER, "page_scoped_user_id": ["not digits", "65432"]}))
    assert event["user_data"]["page_scoped_user_id"] == "65432"  # the first usable value
    assert "page_scoped_user_id: dropped a value that is not valid" in warnings


def test_messaging_fields_of_other_events_are_dropped_with_a_warning() -> None:
    event, warnings = sent(make_row(messaging_channel="whatsapp", ctwa_clid="ARAkLkA8"))
    assert "messaging_channel" not in event and "ctwa_clid" not in event["user_data"]
    assert "messaging_channel: dropped; only sent with action_source business_messaging" in warnings
    assert "ctwa_clid: dropped; only sent with action_source business_messaging" in warnings


def test_stored_rows_keep_the_new_ids_and_build_the_same_event() -> None:
    for row in (make_row(**MESSENGER), make_row(action_source="app", app_data=APP_DATA, madid=IDFA)):
        stored = prepare_for_storage(row, PROFILE, NOW)
        assert isinstance(stored, dict)
        assert build(json.loads(json.dumps(stored))).payload == build(row).payload
