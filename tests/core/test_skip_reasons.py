"""One test per skip reason: a row that would make Meta reject a batch is skipped, not sent."""

from __future__ import annotations

from typing import Any

from capi_writeback.events import build_events
from capi_writeback.reading import InvalidRow
from capi_writeback.settings import ProfileSettings
from capi_writeback.validate import SkipReason

from .conftest import NOW, make_row

DAY = 86400
WEBSITE = {"action_source": "website", "event_source_url": "https://shop.example.com/thanks",
           "client_user_agent": "Mozilla/5.0"}
APP_DATA = {"advertiser_tracking_enabled": 1, "extinfo": ["i2", "com.example", "1.0", "1.0", "17.1"]}


def reasons(*rows: Any, settings: ProfileSettings | None = None) -> list[tuple[SkipReason, str]]:
    result = build_events(list(rows), settings or ProfileSettings(), NOW)
    return [(s.reason, s.detail) for s in result.skipped]


def only_reason(*rows: Any, settings: ProfileSettings | None = None) -> SkipReason:
    found = reasons(*rows, settings=settings)
    assert len(found) == 1, found
    return found[0][0]


def test_the_base_row_is_valid() -> None:
    assert reasons(make_row()) == []


def test_invalid_row() -> None:
    assert only_reason(InvalidRow("not valid JSON")) is SkipReason.INVALID_ROW
    assert only_reason("a string, not an object") is SkipReason.INVALID_ROW


def test_missing_conversion_id() -> None:
    assert only_reason(make_row(conversion_id=None)) is SkipReason.MISSING_CONVERSION_ID
    assert only_reason(make_row(conversion_id="   ")) is SkipReason.MISSING_CONVERSION_ID
    assert reasons(make_row(conversion_id=0)) == []


def test_duplicate_conversion_id() -> None:
    found = reasons(make_row(), make_row(email="other@example.com"))
    assert [r for r, _ in found] == [SkipReason.DUPLICATE_CONVERSION_ID]


def test_missing_timestamp() -> None:
    assert only_reason(make_row(occurred_at=None)) is SkipReason.MISSING_TIMESTAMP
    assert only_reason(make_row(occurred_at="last tuesday")) is SkipReason.MISSING_TIMESTAMP


def test_event_too_old() -> None:
    assert only_reason(make_row(occurred_at=NOW - 7 * DAY - 1)) is SkipReason.EVENT_TOO_OLD
    assert reasons(make_row(occurred_at=NOW - 7 * DAY)) == []


def test_physical_store_may_be_62_days_old() -> None:
    assert reasons(make_row(occurred_at=NOW - 62 * DAY, action_source="physical_store")) == []
    old = make_row(occurred_at=NOW - 62 * DAY - 1, action_source="physical_store")
    assert only_reason(old) is SkipReason.EVENT_TOO_OLD


def test_event_in_future() -> None:
    assert only_reason(make_row(occurred_at=NOW + 61)) is SkipReason.EVENT_IN_FUTURE
    assert reasons(make_row(occurred_at=NOW + 60)) == []


def test_unknown_outcome_type() -> None:
    assert only_reason(make_row(outcome_type="refund_issued")) is SkipReason.UNKNOWN_OUTCOME_TYPE
    assert only_reason(make_row(outcome_type=None)) is SkipReason.UNKNOWN_OUTCOME_TYPE


def test_invalid_event_name() -> None:
    assert only_reason(make_row(event_name="Big Sale!")) is SkipReason.INVALID_EVENT_NAME
    assert only_reason(make_row(event_name="fb_thing")) is SkipReason.INVALID_EVENT_NAME


def test_invalid_action_source() -> None:
    assert only_reason(make_row(action_source="carrier_pigeon")) is SkipReason.INVALID_ACTION_SOURCE
    assert only_reason(make_row(), settings=ProfileSettings(action_source="nope")) is \
        SkipReason.INVALID_ACTION_SOURCE


def test_missing_event_source_url() -> None:
    no_url = make_row(**{**WEBSITE, "event_source_url": None})
    assert only_reason(no_url) is SkipReason.MISSING_EVENT_SOURCE_URL
    assert only_reason(make_row(**{**WEBSITE, "event_source_url": "shop.example.com"})) is \
        SkipReason.MISSING_EVENT_SOURCE_URL
    assert reasons(make_row(**WEBSITE)) == []


def test_missing_user_agent() -> None:
    assert only_reason(make_row(**{**WEBSITE, "client_user_agent": None})) is SkipReason.MISSING_USER_AGENT


def test_app_data_required() -> None:
    assert only_reason(make_row(action_source="app")) is SkipReason.APP_DATA_REQUIRED
    bad = {**APP_DATA, "extinfo": ["x2"]}
    assert only_reason(make_row(action_source="app", app_data=bad)) is SkipReason.APP_DATA_REQUIRED
    no_att = {"extinfo": APP_DATA["extinfo"]}
    assert only_reason(make_row(action_source="app", app_data=no_att)) is SkipReason.APP_DATA_REQUIRED
    assert reasons(make_row(action_source="app", app_data=APP_DATA)) == []


def test_messaging_channel_required() -> None:
    messenger = {"action_source": "business_messaging", "page_id": "1", "page_scoped_user_id": "2"}
    assert only_reason(make_row(**messenger)) is SkipReason.MESSAGING_CHANNEL_REQUIRED
    unknown = make_row(**messenger, messaging_channel="sms")
    assert only_reason(unknown) is SkipReason.MESSAGING_CHANNEL_REQUIRED
    assert reasons(make_row(**messenger, messaging_channel="messenger")) == []


def test_missing_messaging_identifiers() -> None:
    whatsapp = make_row(action_source="business_messaging", messaging_channel="whatsapp")
    assert only_reason(whatsapp) is SkipReason.MISSING_MESSAGING_IDENTIFIERS
    assert reasons({**whatsapp, "ctwa_clid": "ARAkLkA8rmlF"}) == []


def test_purchase_missing_value() -> None:
    assert only_reason(make_row(value=None)) is SkipReason.PURCHASE_MISSING_VALUE
    assert only_reason(make_row(value="about ten")) is SkipReason.PURCHASE_MISSING_VALUE
    assert only_reason(make_row(value=-5)) is SkipReason.PURCHASE_MISSING_VALUE


def test_purchase_missing_currency() -> None:
    assert only_reason(make_row(currency=None)) is SkipReason.PURCHASE_MISSING_CURRENCY
    assert reasons(make_row(currency=None), settings=ProfileSettings(currency="eur")) == []


def test_invalid_currency() -> None:
    assert only_reason(make_row(currency="dollars")) is SkipReason.INVALID_CURRENCY
    lead = make_row(outcome_type="lead_created", currency="XYZ", value=None)
    assert only_reason(lead) is SkipReason.INVALID_CURRENCY
    assert only_reason(make_row(currency=None), settings=ProfileSettings(currency="bucks")) is \
        SkipReason.INVALID_CURRENCY


def test_no_customer_identifiers() -> None:
    assert only_reason(make_row(email=None)) is SkipReason.NO_CUSTOMER_IDENTIFIERS
    assert only_reason(make_row(email="not an email")) is SkipReason.NO_CUSTOMER_IDENTIFIERS


def test_baseline_invalid_combinations_are_not_enough() -> None:
    weak = [
        {"city": "Austin", "country": "US", "state": "TX", "zip": "73301", "gender": "f",
         "client_user_agent": "Mozilla/5.0"},
        {"date_of_birth": "1990-01-01", "client_user_agent": "Mozilla/5.0"},
        {"first_name": "Ann", "gender": "f"},
        {"last_name": "Lee", "gender": "m"},
        {"last_name": "Lee"},
        {"client_user_agent": "Mozilla/5.0"},
    ]
    for extra in weak:
        assert only_reason(make_row(email=None, **extra)) is SkipReason.NO_CUSTOMER_IDENTIFIERS, extra
    assert reasons(make_row(email=None, first_name="Ann", last_name="Lee")) == []
    assert reasons(make_row(email=None, client_ip_address="203.0.113.7")) == []


def test_every_reason_is_covered_here() -> None:
    covered = {
        "INVALID_ROW", "MISSING_CONVERSION_ID", "DUPLICATE_CONVERSION_ID", "MISSING_TIMESTAMP",
        "EVENT_TOO_OLD", "EVENT_IN_FUTURE", "UNKNOWN_OUTCOME_TYPE", "INVALID_EVENT_NAME",
        "INVALID_ACTION_SOURCE", "MISSING_EVENT_SOURCE_URL", "MISSING_USER_AGENT", "APP_DATA_REQUIRED",
        "PURCHASE_MISSING_VALUE", "PURCHASE_MISSING_CURRENCY", "INVALID_CURRENCY", "NO_CUSTOMER_IDENTIFIERS",
        "MESSAGING_CHANNEL_REQUIRED", "MISSING_MESSAGING_IDENTIFIERS",
    }
    assert {r.value for r in SkipReason} == covered
