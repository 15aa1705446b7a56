"""Normalization of conversion-row PII into Meta `user_data` values: one normalizer per field,
and this module is the one place that says which row field becomes which `user_data` key and
whether it is hashed (CAPI-REFERENCE §3.1, SPEC §5).

Every normalizer takes `(value, country)` (country: lowercase ISO alpha-2 or None) and returns the
normalized plain string, or None when the value cannot be normalized; callers drop such values with
a warning naming the field, never send them as a junk hash.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from capi_writeback.hashing import already_hashed, looks_md5, sha256_hex
from capi_writeback.normalize.currency import normalize_currency
from capi_writeback.normalize.dates import normalize_date_of_birth
from capi_writeback.normalize.email import normalize_email
from capi_writeback.normalize.gender import normalize_gender
from capi_writeback.normalize.identifiers import (
    fbc_from_fbclid,
    normalize_external_id,
    normalize_fb_cookie,
    normalize_ip,
    normalize_user_agent,
)
from capi_writeback.normalize.location import normalize_country, normalize_state, normalize_zip
from capi_writeback.normalize.names import normalize_city, normalize_name
from capi_writeback.normalize.phone import normalize_phone

Normalizer = Callable[[str, str | None], str | None]

# canonical row field -> (user_data key, normalizer); these are hashed after normalizing.
HASHED_FIELDS: dict[str, tuple[str, Normalizer]] = {
    "email": ("em", normalize_email),
    "phone": ("ph", normalize_phone),
    "first_name": ("fn", normalize_name),
    "last_name": ("ln", normalize_name),
    "city": ("ct", normalize_city),
    "state": ("st", normalize_state),
    "zip": ("zp", normalize_zip),
    "country": ("country", normalize_country),
    "date_of_birth": ("db", normalize_date_of_birth),
    "gender": ("ge", normalize_gender),
    "external_id": ("external_id", normalize_external_id),
}

# canonical row field -> normalizer; sent as is (never hashed), one value each.
RAW_FIELDS: dict[str, Callable[[str], str | None]] = {
    "client_ip_address": normalize_ip,
    "client_user_agent": normalize_user_agent,
    "fbc": normalize_fb_cookie,
    "fbp": normalize_fb_cookie,
}

_SEPARATORS = (";", "|")

__all__ = [
    "HASHED_FIELDS",
    "RAW_FIELDS",
    "clear_caches",
    "fbc_from_fbclid",
    "hash_field",
    "hashed_user_data",
    "hashed_values",
    "normalize_currency",
    "raw_value",
    "row_country",
]


# Fields whose values repeat across rows (names, places, genders, dates): their final hash is
# memoized, which turns most of them into one dict lookup. Unique-per-row fields are not memoized.
_MEMO_FIELDS = frozenset({"first_name", "last_name", "city", "state", "country", "gender", "date_of_birth"})
_MEMO_MAX = 50_000
# country -> field -> raw value -> hash (None: cannot be normalized)
_memo: dict[str | None, dict[str, dict[str, str | None]]] = {}
_memo_size = 0
_MISSING: Any = object()
_PLAN = tuple((field, key, normalizer, field in _MEMO_FIELDS)
              for field, (key, normalizer) in HASHED_FIELDS.items())


def hash_field(field: str, value: str, country: str | None) -> str | None:
    """The `user_data` value for one raw value of `field`: passed through if already hashed,
    else normalized and hashed; None when it cannot be normalized."""
    if field in _MEMO_FIELDS:
        memo = _field_memos(country)[field]
        try:
            return memo[value]
        except KeyError:
            pass
        global _memo_size
        if _memo_size >= _MEMO_MAX:
            clear_caches()
            memo = _field_memos(country)[field]
        _memo_size += 1
        result = memo[value] = _hash_field(field, value, country)
        return result
    return _hash_field(field, value, country)


def _field_memos(country: str | None) -> dict[str, dict[str, str | None]]:
    memos = _memo.get(country)
    if memos is None:
        memos = _memo[country] = {field: {} for field in _MEMO_FIELDS}
    return memos


def _hash_field(field: str, value: str, country: str | None) -> str | None:
    if len(value) >= 32:
        hashed = already_hashed(value)
        if hashed is not None:
            return hashed
        if field != "external_id" and looks_md5(value):
            return None  # hashing a digest again gives junk; ids may well look like one
    normalized = HASHED_FIELDS[field][1](value, country)
    return None if normalized is None else sha256_hex(normalized)


def row_country(row: Mapping[str, Any], default: str | None) -> str | None:
    """The plain country that phone/state/zip/date rules use: the row's (first usable), else the
    profile's. A hashed row country cannot be read, so the profile's applies then."""
    for text in _texts(row.get("country")):
        code = normalize_country(text)
        if code is not None:
            return code
    return normalize_country(default) if default else None


def hashed_values(
    row: Mapping[str, Any], field: str, country: str | None, warnings: list[str]
) -> list[str]:
    """All usable hashed values of `field` in `row`, deduplicated in input order."""
    value = row.get(field)
    if type(value) is str and ";" not in value and "|" not in value and "[" not in value:  # the common case
        hashed = hash_field(field, value, country) if value.strip() else None
        if hashed is None:
            if value.strip():
                warnings.append(f"{field}: dropped a value that could not be normalized")
            return []
        return [hashed]
    out: list[str] = []
    for text in _values(row.get(field), field, warnings):
        hashed = hash_field(field, text, country)
        if hashed is None:
            warnings.append(f"{field}: dropped a value that could not be normalized")
        elif hashed not in out:
            out.append(hashed)
    return out


def hashed_user_data(row: Mapping[str, Any], country: str | None, warnings: list[str]) -> dict[str, Any]:
    """`user_data` for every PII field of `row`: hashed fields as lists of hashes (under Meta's keys),
    unhashed ones as single strings. The hot path of event building, so single string values and
    memoized fields take a short cut; the result is exactly that of `hashed_values`/`raw_value`."""
    user_data: dict[str, Any] = {}
    memos = _field_memos(country)
    for field, key, normalize, memoized in _PLAN:
        value = row.get(field)
        if value is None:
            continue
        if memoized:
            hashed = memos[field].get(value, _MISSING) if type(value) is str else _MISSING
            if hashed is not _MISSING:  # seen before (never a value holding separators)
                if hashed is not None:
                    user_data[key] = [hashed]
                elif value.strip():
                    warnings.append(f"{field}: dropped a value that could not be normalized")
                continue
        if type(value) is str and ";" not in value and "|" not in value and "[" not in value:
            if memoized:
                hashed = hash_field(field, value, country)
            elif len(value) >= 32:
                hashed = _hash_field(field, value, country)
            else:
                normalized = normalize(value, country)
                hashed = None if normalized is None else sha256_hex(normalized)
            if hashed is not None:
                user_data[key] = [hashed]
            elif value.strip():
                warnings.append(f"{field}: dropped a value that could not be normalized")
            continue
        values = hashed_values(row, field, country, warnings)
        if values:
            user_data[key] = values
    for field, normalize_raw in RAW_FIELDS.items():
        value = row.get(field)
        if value is None:
            continue
        if type(value) is str:
            found = normalize_raw(value)
            if found is not None:
                user_data[field] = found
                continue
        found = raw_value(row, field, warnings)
        if found is not None:
            user_data[field] = found
    return user_data


def raw_value(row: Mapping[str, Any], field: str, warnings: list[str]) -> str | None:
    """The first usable value of an unhashed field (ip, user agent, fbc, fbp)."""
    for text in _values(row.get(field), field, warnings, split=False):
        value = RAW_FIELDS[field](text)
        if value is not None:
            return value
        warnings.append(f"{field}: dropped a value that is not valid")
    return None


def _values(value: Any, field: str, warnings: list[str], split: bool = True) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        if split and value[:1] == "[" and value.rstrip()[-1:] == "]":  # a JSON list (CSV cell)
            try:
                items = json.loads(value)
            except ValueError:
                items = None
            if isinstance(items, list):
                return _values(items, field, warnings, split)
        if split and (";" in value or "|" in value):
            for sep in _SEPARATORS:
                value = value.replace(sep, "\x00")
            return [part for part in value.split("\x00") if part.strip()]
        return [value] if value.strip() else []
    if isinstance(value, bool) or not isinstance(value, (int, float, list, tuple)):
        warnings.append(f"{field}: dropped a value of type {type(value).__name__}")
        return []
    if isinstance(value, float) and not math.isfinite(value):
        return []  # NaN (json.loads accepts it; pandas' missing value) is no value, not the text 'nan'
    if isinstance(value, (int, float)):
        return [_number_text(value)]
    out: list[str] = []
    for item in value:
        out.extend(_values(item, field, warnings, split))
    return out


def _texts(value: Any) -> list[str]:
    return _values(value, "country", [])


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def clear_caches() -> None:
    """Empty the memo caches of the normalizers (benchmarks measure cold runs with it)."""
    from capi_writeback.normalize import dates, location, names, phone

    global _memo_size
    _memo.clear()
    _memo_size = 0
    for cached in (names.normalize_name, names.normalize_city, location.normalize_country,
                   location.normalize_state, location._normalize_zip, dates.normalize_date_of_birth,
                   phone._national, phone._parse):
        cached.cache_clear()
