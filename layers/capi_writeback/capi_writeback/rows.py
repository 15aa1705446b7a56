"""Conversion rows (SPEC §4): canonical keys (synonyms, CAPI's own keys, a profile column mapping),
timestamps, and the hashed form a row is stored in (reading files of rows: `reading.py`).

A stored row holds no raw PII: every hashed field is already normalized and hashed, so building an
event from it gives the same event as building from the raw row.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from capi_writeback import fields
from capi_writeback.fields import HASHED_FIELDS, MULTI_VALUE_FIELDS, RAW_FIELDS, ROW_KEYS, SYNONYMS, spelling
from capi_writeback.mapping import EventNameError, event_table, resolve_event_name
from capi_writeback.settings import ProfileSettings
from capi_writeback.user_data import hashed_values, raw_value, row_country
from capi_writeback.validate import SkipReason, action_source_problem

StoredRow = dict[str, Any]

_NESTED = ("user_data", "custom_data")
_UNSEEN = "\x00unseen"
_KNOWN: dict[str, str | None] = {}  # raw key -> canonical key (or None), filled as keys are seen
_PLANS: dict[tuple[Any, ...], tuple[str | None, ...] | None] = {}  # raw keys -> canonical keys
_NO_PLAN: Any = object()
_IDENTITY: Any = ("<keys already canonical>",)
MS_THRESHOLD = 100_000_000_000  # 1973 in ms, year 5138 in s: larger numbers are milliseconds
_MAX_UNIX = 100_000_000_000_000


class Rejection(NamedTuple):
    """A row that can never become an event, with the reason code and a human detail."""

    reason: SkipReason
    detail: str


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {list: "an array", dict: "an object", str: "a string", int: "a number", float: "a number",
            bool: "a boolean"}.get(type(value), type(value).__name__)


@lru_cache(maxsize=4096)
def canonical_key(key: str) -> str | None:
    """`'Email Address'` -> `'email'`, `'em'` -> `'email'`; unknown keys -> None."""
    text = spelling(key)
    if text in ROW_KEYS:
        return text
    return SYNONYMS.get(text)


def _forget_keys() -> None:
    """The registry changed: what a key means must be looked up again."""
    canonical_key.cache_clear()
    _KNOWN.clear()
    _PLANS.clear()


fields.on_change(_forget_keys)


def canonical_row(raw: Mapping[str, Any], column_mapping: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The row under canonical keys: the profile's column mapping first, then synonyms; nested
    `user_data`/`custom_data` objects are flattened; empty values dropped; unknown keys dropped.
    Two spellings of one PII field (`email` and `em`) are merged into a list.

    A row that already is canonical (canonical keys, no empty values) is returned as is, not
    copied: callers must not mutate the result."""
    if not column_mapping and type(raw) is dict:
        # Rows of one export share their keys: resolve each distinct key tuple once.
        keys = tuple(raw)
        plan = _PLANS.get(keys, _NO_PLAN)
        if plan is _NO_PLAN:
            plan = None if any(k in _NESTED for k in keys) else tuple(
                canonical_key(k) if isinstance(k, str) else None for k in keys)
            if plan == keys:
                plan = _IDENTITY
            if len(_PLANS) < 1024:
                _PLANS[keys] = plan
        if plan is _IDENTITY:
            values = raw.values()
            if None not in values and "" not in values:
                return raw
            return {k: v for k, v in raw.items() if v is not None and v != ""}
        if plan is not None:
            row: dict[str, Any] = {}
            for name, value in zip(plan, raw.values(), strict=True):
                if name is None or value is None or value == "":
                    continue
                if name not in row:
                    row[name] = value
                else:
                    _put(row, name, value)
            return row
    return _canonical_row(raw, column_mapping)


def _canonical_row(raw: Mapping[str, Any], column_mapping: Mapping[str, str] | None) -> dict[str, Any]:
    row: dict[str, Any] = {}
    known = _KNOWN
    for key, value in raw.items():
        if value is None or value == "":
            continue
        if column_mapping and key in column_mapping:
            name: str | None = column_mapping[key]
            if name not in ROW_KEYS:
                name = canonical_key(name) if isinstance(name, str) else None
        else:
            name = known.get(key, _UNSEEN)
            if name is _UNSEEN:
                if key in _NESTED and isinstance(value, Mapping):
                    for inner_key, inner_value in canonical_row(value, column_mapping).items():
                        _put(row, inner_key, inner_value)
                    continue
                name = canonical_key(key) if isinstance(key, str) else None
                if isinstance(key, str) and len(known) < 4096 and key not in _NESTED:
                    known[key] = name  # never the nested keys: the next row's may be an object
        if name is None:
            continue
        if name not in row:
            row[name] = value
        else:
            _put(row, name, value)
    return row


def unknown_keys(raw: Mapping[str, Any], column_mapping: Mapping[str, str] | None = None) -> list[str]:
    """Keys of `raw` that `canonical_row` ignores (to tell the user about unmapped columns)."""
    mapping = column_mapping or {}
    return [k for k in raw if k not in _NESTED and k not in mapping
            and (not isinstance(k, str) or canonical_key(k) is None)]


def _put(row: dict[str, Any], key: str, value: Any) -> None:
    if key not in row:
        row[key] = value
    elif key in MULTI_VALUE_FIELDS:
        current = row[key] if isinstance(row[key], list) else [row[key]]
        row[key] = current + (value if isinstance(value, list) else [value])


def parse_occurred_at(value: Any) -> tuple[int, str | None]:
    """Unix seconds from unix seconds, unix milliseconds (with a warning) or ISO-8601 (a missing
    zone means UTC). Raises ValueError with a message that names the problem."""
    if type(value) is int and 0 < value < MS_THRESHOLD:
        return value, None  # the usual case: unix seconds
    if isinstance(value, bool) or value is None:
        raise ValueError("occurred_at is missing")
    if isinstance(value, str):
        text = value.strip()
        try:
            number: float = float(text)
        except ValueError:
            return _parse_iso(text), None
    elif isinstance(value, int):  # compared exactly: float() of a 309-digit integer overflows
        number = value if -_MAX_UNIX < value < _MAX_UNIX else math.inf
    elif isinstance(value, (float, Decimal)):  # Decimal: numbers read back from DynamoDB
        try:
            number = float(value)
        except ValueError:  # Decimal("sNaN")
            number = math.nan
    else:
        raise ValueError(f"occurred_at must be a number or an ISO-8601 string, not {_kind(value)}")
    if not number == number or number < 1 or number >= _MAX_UNIX:
        raise ValueError("occurred_at is not a plausible unix time")
    if number >= MS_THRESHOLD:
        return int(number // 1000), "occurred_at looked like unix milliseconds; converted to seconds"
    return int(number), None


def _parse_iso(text: str) -> int:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("occurred_at is neither a unix time nor an ISO-8601 date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


class Identity(NamedTuple):
    """What makes a row an event at all, parsed once."""

    conversion_id: str
    occurred_at: int
    time_warning: str | None
    event_name: str
    action_source: str | None  # the row's own, lowercased; None means the profile default


def row_identity(row: Mapping[str, Any], table: Mapping[str, str]) -> Identity | Rejection:
    """The checks that no later data can fix: conversion_id, timestamp, event name, action_source."""
    conversion_id = row.get("conversion_id")
    if conversion_id is None or isinstance(conversion_id, (bool, dict, list)) \
            or not str(conversion_id).strip() or _missing_number(conversion_id):
        return Rejection(SkipReason.MISSING_CONVERSION_ID, "conversion_id is required")
    try:
        occurred_at, time_warning = parse_occurred_at(row.get("occurred_at"))
    except ValueError as exc:
        return Rejection(SkipReason.MISSING_TIMESTAMP, str(exc))
    try:
        event_name = resolve_event_name(_opt_text(row.get("event_name")), _opt_text(row.get("outcome_type")),
                                        table)
    except EventNameError as exc:
        reason = SkipReason.UNKNOWN_OUTCOME_TYPE if exc.unknown_outcome else SkipReason.INVALID_EVENT_NAME
        return Rejection(reason, str(exc))
    action_source = None
    if "action_source" in row:
        action_source = str(row["action_source"]).strip().lower()
        found = action_source_problem(action_source)
        if found is not None:
            return Rejection(*found)
    return Identity(str(conversion_id).strip(), occurred_at, time_warning, event_name, action_source)


def _opt_text(value: Any) -> str | None:
    if type(value) is str:
        return value.strip() or None
    if value is None or isinstance(value, (dict, list)) or _missing_number(value):
        return None
    text = str(value).strip()
    return text or None


def _missing_number(value: Any) -> bool:
    """NaN/Infinity (json.loads accepts them; pandas writes NaN for a missing value)."""
    return isinstance(value, float) and not math.isfinite(value)


def prepare_for_storage(
    raw: Mapping[str, Any], settings: ProfileSettings, now: float
) -> StoredRow | Rejection:
    """The row as it may be stored: canonical keys, PII normalized and hashed, occurred_at as int
    unix seconds, outcome_type/event_name and non-PII fields kept; or a Rejection for rows that can
    never become an event. `now` is accepted for symmetry with build_events (age is checked then)."""
    if not isinstance(raw, Mapping):
        return Rejection(SkipReason.INVALID_ROW, "a row must be an object")
    row = canonical_row(raw, settings.column_mapping)
    identity = row_identity(row, event_table(settings.event_mapping))
    if isinstance(identity, Rejection):
        return identity
    warnings: list[str] = [identity.time_warning] if identity.time_warning else []
    country = row_country(row, settings.country)
    stored: StoredRow = {}
    for key, value in row.items():
        if key in HASHED_FIELDS:
            hashed = hashed_values(row, key, country, warnings)
            if hashed:
                stored[key] = hashed
        elif key in RAW_FIELDS:
            kept = raw_value(row, key, country, warnings)
            if kept is not None:
                stored[key] = kept
        elif key == "_warnings":
            if isinstance(value, list):
                warnings.extend(str(w) for w in value)
        else:
            stored[key] = value
    stored["conversion_id"] = identity.conversion_id
    stored["occurred_at"] = identity.occurred_at
    if warnings:
        stored["_warnings"] = warnings
    return stored
