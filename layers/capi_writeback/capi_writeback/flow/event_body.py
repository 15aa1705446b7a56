"""SPEC §8: one event's body → the Meta server event to send, by the pipeline rows go through.

The body is mapped onto a conversion row (its `user_data` and `custom_data` objects are nested in the
row, which `rows.canonical_row` flattens under the registry's spellings) and built by
`events.build_events`: the same mapping, normalization, hashing and validation as every row, no
second copy of a rule. A row that would be skipped is an event Meta would refuse, so the body is
refused with VALIDATION_ERROR naming the skip reason (e.g. EVENT_TOO_OLD): nothing is sent.

The event id, when the body has none, comes from the event's content:
  "se-" + the first 32 hex digits of SHA-256(canonical_json({"pixel_id": <pixel>, "event": <the
  event exactly as built, without event_id>}))
i.e. the pixel, the event name, event_time (in unix seconds), action_source, event_source_url,
user_data (normalized and hashed, so two spellings of one email give the same id), custom_data,
app_data, messaging_channel and the data processing options, with numbers equal in value written
alike (a value of 10 and of 10.0 is one amount). A retry of the same event gets the same id (and the
ledger replays it); any change of content is another event. The content hash the ledger and the audit
row keep is the payload hash (payload.py) of that same form of [event], event_id included.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from capi_writeback.exceptions import InvalidRequest

if TYPE_CHECKING:
    from capi_writeback.contracts.events import SendEventRequest

CONTENT_ID_PREFIX = "se-"
_SAFE_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
# Where a skip reason points in the body (the `field` of the refusal's details).
REASON_FIELDS: Mapping[str, str] = {
    "MISSING_TIMESTAMP": "event_time",
    "EVENT_TOO_OLD": "event_time",
    "EVENT_IN_FUTURE": "event_time",
    "INVALID_EVENT_NAME": "event_name",
    "UNKNOWN_OUTCOME_TYPE": "event_name",
    "INVALID_ACTION_SOURCE": "action_source",
    "MISSING_EVENT_SOURCE_URL": "event_source_url",
    "MISSING_USER_AGENT": "user_data.client_user_agent",
    "APP_DATA_REQUIRED": "app_data",
    "MESSAGING_CHANNEL_REQUIRED": "messaging_channel",
    "MISSING_MESSAGING_IDENTIFIERS": "user_data",
    "PURCHASE_MISSING_VALUE": "custom_data.value",
    "PURCHASE_MISSING_CURRENCY": "custom_data.currency",
    "INVALID_CURRENCY": "custom_data.currency",
    "NO_CUSTOMER_IDENTIFIERS": "user_data",
}
_TOP_LEVEL = ("event_source_url", "app_data", "messaging_channel", "data_processing_options",
              "data_processing_options_country", "data_processing_options_state")


@dataclass(frozen=True)
class OneEvent:
    """The event to send, what the response and the audit row say about it."""

    event: dict[str, Any]
    event_id: str
    event_time: int
    content_hash: str  # the payload hash of [event] (payload.py): what the audit row records
    match_quality: str
    warnings: list[str]


def build_one(request: SendEventRequest, settings: Any, now: float, pixel_id: str) -> OneEvent:
    """The event of `request` as rows are built (profile defaults: country, currency), or
    InvalidRequest naming each field that is wrong and, for an event Meta would refuse, its reason."""
    from capi_writeback.built import SkippedRow
    from capi_writeback.events import stream_events
    from capi_writeback.payload import payload_hash

    warnings: list[str] = []
    event_time = _event_time(request.event_time, warnings)
    row = _as_row(request, event_time, warnings)
    # The body names its fields itself: a profile's column mapping (for exports) does not apply.
    stream = stream_events([row], dataclasses.replace(settings, column_mapping={}), now,
                           hash_payload=False, samples=0)
    (built,) = (item for chunk in stream for item in chunk.rows)
    if isinstance(built, SkippedRow):
        skipped = built
        reason = str(skipped.reason)
        raise InvalidRequest(
            f"Meta would refuse this event ({reason}): {skipped.detail}. Nothing was sent.",
            fix="Correct the field named in details and send the event again.",
            details=[{"field": REASON_FIELDS.get(reason, "body"), "type": reason, "reason": reason,
                      "message": skipped.detail}])
    event = built.event
    if request.event_id is None:
        event["event_id"] = content_event_id(pixel_id, event)
    return OneEvent(event=event, event_id=str(event["event_id"]), event_time=event_time,
                    content_hash=payload_hash([_same_numbers(event)]), match_quality=built.match_quality,
                    warnings=warnings + [w for w in built.warnings if w not in warnings])


def content_event_id(pixel_id: str, event: Mapping[str, Any]) -> str:
    """The id of an event that came without one: a digest of its content (module docstring)."""
    from capi_writeback.payload import canonical_json

    content = _same_numbers({k: v for k, v in event.items() if k != "event_id"})
    digest = hashlib.sha256(canonical_json({"pixel_id": pixel_id, "event": content})).hexdigest()
    return CONTENT_ID_PREFIX + digest[:32]


def _same_numbers(value: Any) -> Any:
    """`value` with every whole float as an int: equal numbers serialize alike (10.0 -> 10)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _same_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_same_numbers(v) for v in value]
    return value


def _event_time(value: int | str, warnings: list[str]) -> int:
    """Unix seconds; milliseconds and ISO-8601 text converted with a warning (SPEC §8)."""
    from capi_writeback.rows import parse_occurred_at

    try:
        seconds, converted = parse_occurred_at(value)
    except ValueError:
        raise InvalidRequest(details=[{
            "field": "event_time", "type": "MISSING_TIMESTAMP",
            "message": "event_time must be unix seconds (or unix milliseconds, or ISO-8601 text)"}]) from None
    if converted:
        warnings.append("event_time: unix milliseconds converted to seconds")
    elif isinstance(value, str) and not value.strip().isdigit():
        warnings.append("event_time: ISO-8601 converted to unix seconds")
    return seconds


def _as_row(request: SendEventRequest, event_time: int, warnings: list[str]) -> dict[str, Any]:
    """The body as a conversion row. A user_data key that is no user_data field of the registry is
    refused (its value may be PII that cannot be hashed by a rule nobody stated); a custom_data key
    outside the registry is dropped with a warning (custom properties are not sent yet)."""
    unknown = [f"user_data.{_shown(key)}" for key in request.user_data if not _is_field(key, "user_data")]
    if unknown:
        raise InvalidRequest(
            "user_data holds keys that are no customer information field.",
            fix="Use the keys of a conversion row (email, phone, ...) or CAPI's (em, ph, ...); see the "
                "user_data description in /v1/openapi.json.",
            details=[{"field": name, "type": "extra_forbidden", "message": "Unknown user_data key."}
                     for name in unknown])
    custom = dict(request.custom_data or {})
    for key in [k for k in custom if not _is_field(k, "custom_data")]:
        del custom[key]
        warnings.append(f"custom_data.{_shown(key)}: dropped; not a custom_data field this service sends")
    row: dict[str, Any] = {
        "conversion_id": request.event_id or "event",
        "occurred_at": event_time,
        "event_name": request.event_name,
        "action_source": request.action_source,
        "user_data": request.user_data,
    }
    if custom:
        row["custom_data"] = custom
    if request.event_id is not None:
        row["event_id"] = request.event_id
    for name in _TOP_LEVEL:
        value = getattr(request, name)
        if value is not None:
            row[name] = value
    return row


def _is_field(key: str, part: str) -> bool:
    """Whether `key` (any spelling) is a field of the event's `user_data` or `custom_data`."""
    from capi_writeback.fields import FIELDS, Place
    from capi_writeback.rows import canonical_key

    places = (Place.HASHED, Place.USER_DATA) if part == "user_data" else (Place.CUSTOM_DATA,)
    name = canonical_key(key)
    return name is not None and FIELDS[name].place in places


def _shown(key: str) -> str:
    """A key as a refusal or warning may name it (a key can be user data: an email used as a key)."""
    return key if key and len(key) <= 40 and set(key) <= _SAFE_KEY_CHARS else "(unknown field)"
