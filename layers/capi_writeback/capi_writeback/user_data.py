"""A row's customer information as Meta's `user_data` (CAPI-REFERENCE §3, SPEC §5): every registered
user_data field (`capi_writeback.fields`) normalized by its normalizer, then hashed or kept as is.

Where several values of a field come from: a list, or a JSON list written as text (a CSV cell). A
scalar is one value, whatever it holds: `test|name@example.com` is one address, never split on `|`
or `;` into a different person's. A value that only says "missing" (`MISSING_MARKERS`: `n/a`,
`null`, `-`, pandas' `NaN`...) is no value, like an empty one: not hashed, and no warning.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from capi_writeback import fields
from capi_writeback.fields import HASHED_FIELDS, MEMO_FIELDS, RAW_FIELDS
from capi_writeback.hashing import already_hashed, looks_md5, sha256_hex
from capi_writeback.normalize import Normalizer
from capi_writeback.normalize.location import normalize_country

_MEMO_MAX = 50_000
# country -> field -> raw value -> hash (None: cannot be normalized)
_memo: dict[str | None, dict[str, dict[str, str | None]]] = {}
_memo_size = 0
_MISSING: Any = object()
_LIST_HINTS = (",", ";", "|")
# What exports write for a missing value, spelled exactly (after trimming): "Nan" is a given name,
# "Na" a family name and "NA" Namibia, so neither the case nor the spelling is loosened.
MISSING_MARKERS = frozenset({
    "n/a", "N/A", "N/a", "#N/A", "null", "NULL", "Null", "(null)", "none", "None", "NONE", "-", "--",
    "nan", "NaN", "undefined", "Undefined", "UNDEFINED",
})
# (field, user_data key, normalizer, memoized), rebuilt when the registry changes.
_plan: tuple[tuple[str, str, Normalizer, bool], ...] = ()
_raw_plan: tuple[tuple[str, str, Normalizer], ...] = ()


def _replan() -> None:
    global _plan, _raw_plan
    _plan = tuple((f.name, f.key or f.name, f.normalize, f.memoized)
                  for f in HASHED_FIELDS.values() if f.normalize is not None)
    _raw_plan = tuple((f.name, f.key or f.name, f.normalize)
                      for f in RAW_FIELDS.values() if f.normalize is not None)
    clear_caches()


def hash_field(field: str, value: str, country: str | None) -> str | None:
    """The `user_data` value for one raw value of `field`: passed through if already hashed,
    else normalized and hashed; None when it cannot be normalized."""
    if field in MEMO_FIELDS:
        memo = _field_memos(country)[field]
        try:
            return memo[value]
        except KeyError:
            pass
        global _memo_size
        if _memo_size >= _MEMO_MAX:
            clear_caches()
            memo = _field_memos(country)[field]
        result = _hash_field(field, value, country)
        if "[" not in value:  # the fast path reads the memo only for values that are no JSON list
            _memo_size += 1
            memo[value] = result
        return result
    return _hash_field(field, value, country)


def _field_memos(country: str | None) -> dict[str, dict[str, str | None]]:
    memos = _memo.get(country)
    if memos is None:
        memos = _memo[country] = {field: {} for field in MEMO_FIELDS}
    return memos


def _blank(value: str) -> bool:
    """Empty after trimming, or only a marker of a missing value."""
    text = value.strip()
    return not text or text in MISSING_MARKERS


def _hash_field(field: str, value: str, country: str | None) -> str | None:
    if len(value) >= 32:
        hashed = already_hashed(value)
        if hashed is not None:
            return hashed
        if field != "external_id" and looks_md5(value):
            return None  # hashing a digest again gives junk; ids may well look like one
    elif _blank(value):
        return None
    normalize = HASHED_FIELDS[field].normalize
    normalized = normalize(value, country) if normalize is not None else None
    return None if normalized is None else sha256_hex(normalized)


def _unusable(field: str, value: str) -> str:
    """The warning for a value that was dropped; a hint when it may be several values in one."""
    if any(sep in value for sep in _LIST_HINTS):
        return f"{field}: dropped a value that could not be normalized (several values? write a JSON list)"
    return f"{field}: dropped a value that could not be normalized"


def row_country(row: Mapping[str, Any], default: str | None) -> str | None:
    """The plain country that phone/state/zip/date rules use: the row's (first usable), else the
    profile's. A hashed row country cannot be read, so the profile's applies then."""
    for text in _values(row.get("country"), "country", []):
        code = normalize_country(text)
        if code is not None:
            return code
    return normalize_country(default) if default else None


def hashed_values(
    row: Mapping[str, Any], field: str, country: str | None, warnings: list[str]
) -> list[str]:
    """All usable hashed values of `field` in `row`, deduplicated in input order."""
    value = row.get(field)
    if type(value) is str and "[" not in value:  # the common case: one value
        hashed = hash_field(field, value, country)
        if hashed is None:
            if not _blank(value):
                warnings.append(_unusable(field, value))
            return []
        return [hashed]
    out: list[str] = []
    for text in _values(value, field, warnings):
        hashed = hash_field(field, text, country)
        if hashed is None:
            warnings.append(_unusable(field, text))
        elif hashed not in out:
            out.append(hashed)
    return out


def hashed_user_data(row: Mapping[str, Any], country: str | None, warnings: list[str]) -> dict[str, Any]:
    """`user_data` for every PII field of `row`: hashed fields as lists of hashes (under Meta's keys),
    unhashed ones as single strings. The hot path of event building, so single string values and
    memoized fields take a short cut; the result is exactly that of `hashed_values`/`raw_value`."""
    user_data: dict[str, Any] = {}
    memos = _field_memos(country)
    for field, key, normalize, memoized in _plan:
        value = row.get(field)
        if value is None:
            continue
        if memoized:
            hashed = memos[field].get(value, _MISSING) if type(value) is str else _MISSING
            if hashed is not _MISSING:  # seen before (never a JSON list: see hash_field)
                if hashed is not None:
                    user_data[key] = [hashed]
                elif not _blank(value):
                    warnings.append(_unusable(field, value))
                continue
        if type(value) is str and "[" not in value:
            if memoized:
                hashed = hash_field(field, value, country)
            elif len(value) >= 32:
                hashed = _hash_field(field, value, country)
            elif _blank(value):
                continue
            else:
                normalized = normalize(value, country)
                hashed = None if normalized is None else sha256_hex(normalized)
            if hashed is not None:
                user_data[key] = [hashed]
            elif not _blank(value):
                warnings.append(_unusable(field, value))
            continue
        values = hashed_values(row, field, country, warnings)
        if values:
            user_data[key] = values
    for field, key, normalize in _raw_plan:
        value = row.get(field)
        if value is None:
            continue
        if type(value) is str and not _blank(value):
            found = normalize(value, country)
            if found is not None:
                user_data[key] = found
                continue
        found = raw_value(row, field, country, warnings)
        if found is not None:
            user_data[key] = found
    return user_data


def raw_value(row: Mapping[str, Any], field: str, country: str | None, warnings: list[str]) -> str | None:
    """The first usable value of an unhashed field (ip, user agent, fbc, fbp)."""
    normalize = RAW_FIELDS[field].normalize
    for text in _values(row.get(field), field, warnings, parse_json=False):
        value = normalize(text, country) if normalize is not None else None
        if value is not None:
            return value
        warnings.append(f"{field}: dropped a value that is not valid")
    return None


def _values(value: Any, field: str, warnings: list[str], parse_json: bool = True) -> list[str]:
    """The texts of a field's value: each item of a list (or of a JSON list written as text), or
    the one scalar as written."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        if parse_json and "[" in value:
            text = value.strip()
            if text[:1] == "[" and text[-1:] == "]":  # a JSON list (CSV cell)
                try:
                    items = json.loads(text)
                except ValueError:
                    items = None
                if isinstance(items, list):
                    return _values(items, field, warnings, parse_json)
        return [] if _blank(value) else [value]
    if isinstance(value, bool) or not isinstance(value, (int, float, list, tuple)):
        warnings.append(f"{field}: dropped a value of type {type(value).__name__}")
        return []
    if isinstance(value, float) and not math.isfinite(value):
        return []  # NaN (json.loads accepts it; pandas' missing value) is no value, not the text 'nan'
    if isinstance(value, (int, float)):
        return [_number_text(value)]
    out: list[str] = []
    for item in value:
        out.extend(_values(item, field, warnings, parse_json))
    return out


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


fields.on_change(_replan)
_replan()
