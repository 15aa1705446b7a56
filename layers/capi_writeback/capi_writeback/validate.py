"""Rules that decide whether a row may be sent at all: anything that would make Meta reject the whole
batch (CAPI-REFERENCE §1.6, §2.1; SPEC §5) is skipped with a named reason instead.

One reason code enum, one function per rule; each returns a `Problem` or None.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from enum import StrEnum
from typing import Any, NamedTuple

from capi_writeback import limits
from capi_writeback.fields import BASELINE_INVALID, CUSTOMER_KEYS, STRONG_KEYS
from capi_writeback.normalize.currency import AMOUNT_RANGE

ACTION_SOURCES = frozenset(limits.ACTION_SOURCES)
MAX_AGE_SECONDS = 7 * 86400
PHYSICAL_STORE_MAX_AGE_SECONDS = 62 * 86400
FUTURE_TOLERANCE_SECONDS = 60
EXTINFO_LENGTH = 16
# business_messaging: each channel (limits.MESSAGING_CHANNEL_NAMES) and the user_data ids its events
# need (CAPI-REFERENCE §2.1, §12).
MESSAGING_CHANNELS: Mapping[str, tuple[str, ...]] = {
    "instagram": ("ig_account_id", "ig_sid"),
    "messenger": ("page_id", "page_scoped_user_id"),
    "whatsapp": ("ctwa_clid",),
}
_FLAGS = {"1": 1, "0": 0, "true": 1, "false": 0}
# Which user_data keys identify a customer, and which of them are too weak alone, is said by the
# field registry (`capi_writeback.fields`): CUSTOMER_KEYS, STRONG_KEYS, BASELINE_INVALID.


class SkipReason(StrEnum):
    """Why a row did not become an event (or could not be stored)."""

    INVALID_ROW = "INVALID_ROW"
    MISSING_CONVERSION_ID = "MISSING_CONVERSION_ID"
    DUPLICATE_CONVERSION_ID = "DUPLICATE_CONVERSION_ID"
    MISSING_TIMESTAMP = "MISSING_TIMESTAMP"
    EVENT_TOO_OLD = "EVENT_TOO_OLD"
    EVENT_IN_FUTURE = "EVENT_IN_FUTURE"
    UNKNOWN_OUTCOME_TYPE = "UNKNOWN_OUTCOME_TYPE"
    INVALID_EVENT_NAME = "INVALID_EVENT_NAME"
    INVALID_ACTION_SOURCE = "INVALID_ACTION_SOURCE"
    MISSING_EVENT_SOURCE_URL = "MISSING_EVENT_SOURCE_URL"
    MISSING_USER_AGENT = "MISSING_USER_AGENT"
    APP_DATA_REQUIRED = "APP_DATA_REQUIRED"
    PURCHASE_MISSING_VALUE = "PURCHASE_MISSING_VALUE"
    PURCHASE_MISSING_CURRENCY = "PURCHASE_MISSING_CURRENCY"
    INVALID_CURRENCY = "INVALID_CURRENCY"
    NO_CUSTOMER_IDENTIFIERS = "NO_CUSTOMER_IDENTIFIERS"
    MESSAGING_CHANNEL_REQUIRED = "MESSAGING_CHANNEL_REQUIRED"
    MISSING_MESSAGING_IDENTIFIERS = "MISSING_MESSAGING_IDENTIFIERS"


class Problem(NamedTuple):
    reason: SkipReason
    detail: str


def action_source_problem(action_source: str) -> Problem | None:
    if action_source in ACTION_SOURCES:
        return None
    return Problem(SkipReason.INVALID_ACTION_SOURCE,
                   f"action_source is not one of {', '.join(sorted(ACTION_SOURCES))}")


def event_time_problem(event_time: int, now: float, action_source: str) -> Problem | None:
    """Meta rejects the whole batch for an event older than 7 days (62 for physical_store); events
    more than a minute in the future are refused the same way."""
    max_age = PHYSICAL_STORE_MAX_AGE_SECONDS if action_source == "physical_store" else MAX_AGE_SECONDS
    age = now - event_time
    if age > max_age:
        return Problem(SkipReason.EVENT_TOO_OLD,
                       f"occurred {age / 86400:.1f} days ago; Meta accepts at most {max_age // 86400} days "
                       f"for action_source {action_source}")
    if -age > FUTURE_TOLERANCE_SECONDS:
        return Problem(SkipReason.EVENT_IN_FUTURE,
                       f"occurs {-age:.0f} s after now; at most {FUTURE_TOLERANCE_SECONDS} s ahead "
                       "is accepted")
    return None


def website_problem(event_source_url: str | None, client_user_agent: str | None) -> Problem | None:
    """Website events need the page URL and the browser's user agent."""
    if not event_source_url:
        return Problem(SkipReason.MISSING_EVENT_SOURCE_URL,
                       "website events need event_source_url (an http(s) URL)")
    if not client_user_agent:
        return Problem(SkipReason.MISSING_USER_AGENT, "website events need client_user_agent")
    return None


def app_data_problem(app_data: Any) -> Problem | None:
    """App events need app_data with advertiser_tracking_enabled (0 or 1) and extinfo: at most 16
    texts or numbers, [0] the version 'a2' (Android) or 'i2' (iOS), [4] the OS version."""
    if not isinstance(app_data, Mapping):
        return _app_data("app events need app_data")
    if "advertiser_tracking_enabled" not in app_data:
        return _app_data("app_data needs advertiser_tracking_enabled")
    if tracking_flag(app_data["advertiser_tracking_enabled"]) is None:
        return _app_data("app_data.advertiser_tracking_enabled must be 0 or 1 (or true/false)")
    extinfo = app_data.get("extinfo")
    if not isinstance(extinfo, list) or not extinfo:
        return _app_data(f"app_data.extinfo must be a list of at most {EXTINFO_LENGTH} texts")
    if len(extinfo) > EXTINFO_LENGTH:
        return _app_data(f"app_data.extinfo has at most {EXTINFO_LENGTH} entries, not {len(extinfo)}")
    for index, item in enumerate(extinfo):
        if not (item is None or isinstance(item, str) or (isinstance(item, int | float) and not isinstance(
                item, bool) and math.isfinite(item))):
            return _app_data(f"app_data.extinfo[{index}] must be a text or a number")
    if str(extinfo[0]) not in ("a2", "i2"):
        return _app_data("app_data.extinfo[0] must be 'a2' or 'i2'")
    if len(extinfo) < 5 or extinfo[4] is None or not str(extinfo[4]).strip():
        return _app_data("app_data.extinfo[4] (OS version) is required")
    return None


def _app_data(detail: str) -> Problem:
    return Problem(SkipReason.APP_DATA_REQUIRED, detail)


def tracking_flag(value: Any) -> int | None:
    """An app_data tracking flag as Meta's 0 or 1 (from a boolean, 0/1, or '0'/'1'/'true'/'false'),
    else None."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float) and value in (0, 1):
        return int(value)
    if isinstance(value, str):
        return _FLAGS.get(value.strip().lower())
    return None


def messaging_problem(channel: str | None, user_data: Collection[str]) -> Problem | None:
    """business_messaging events name their channel, and carry that channel's ids in user_data."""
    if channel is None or channel not in MESSAGING_CHANNELS:
        return Problem(SkipReason.MESSAGING_CHANNEL_REQUIRED,
                       "business_messaging events need messaging_channel: one of "
                       + ", ".join(sorted(MESSAGING_CHANNELS)))
    needed = MESSAGING_CHANNELS[channel]
    if any(key not in user_data for key in needed):
        return Problem(SkipReason.MISSING_MESSAGING_IDENTIFIERS,
                       f"{channel} events need {' and '.join(needed)} in user_data")
    return None


def currency_problem(given: Any, normalized: str | None) -> Problem | None:
    """A currency that is present but not ISO 4217 makes the event invalid."""
    if given not in (None, "") and normalized is None:
        return Problem(SkipReason.INVALID_CURRENCY, "currency is not an ISO 4217 code")
    return None


def purchase_problem(value_given: Any, value: float | int | None, currency: str | None) -> Problem | None:
    """Purchase needs a non-negative numeric value and a currency."""
    if value is None:
        detail = ("Purchase events need value" if value_given in (None, "")
                  else f"value is not an amount {AMOUNT_RANGE}")
        return Problem(SkipReason.PURCHASE_MISSING_VALUE, detail)
    if currency is None:
        return Problem(SkipReason.PURCHASE_MISSING_CURRENCY,
                       "Purchase events need currency (row or profile default)")
    return None


def identifiers_problem(keys: Collection[str]) -> Problem | None:
    """At least one customer identifier, and not only one of Meta's baseline-invalid combinations."""
    if not STRONG_KEYS.isdisjoint(keys):
        return None  # any key outside every baseline-invalid combination is enough
    present = {key for key in keys if key in CUSTOMER_KEYS}
    if not present:
        return Problem(SkipReason.NO_CUSTOMER_IDENTIFIERS, "no usable customer identifier")
    for combo in BASELINE_INVALID:
        if present <= combo:
            return Problem(SkipReason.NO_CUSTOMER_IDENTIFIERS,
                           f"only {', '.join(sorted(present))}: too weak for Meta to match "
                           "(add email, phone, external_id, fbc/fbp or IP)")
    return None
