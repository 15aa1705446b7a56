"""Normalization of conversion-row PII into Meta `user_data` values: one normalizer per field,
and this module is the one place that says which row field becomes which `user_data` key and
whether it is hashed (CAPI-REFERENCE §3.1, SPEC §5).

Every normalizer takes `(value, country)` (country: lowercase ISO alpha-2 or None) and returns the
normalized plain string, or None when the value cannot be normalized; callers drop such values with
a warning naming the field, never send them as a junk hash.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from capi_writeback.hashing import already_hashed, sha256_hex
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
    "fbc_from_fbclid",
    "hash_field",
    "hashed_values",
    "normalize_currency",
    "raw_value",
    "row_country",
]


def hash_field(field: str, value: str, country: str | None) -> str | None:
    """The `user_data` value for one raw value of `field`: passed through if already hashed,
    else normalized and hashed; None when it cannot be normalized."""
    hashed = already_hashed(value)
    if hashed is not None:
        return hashed
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
    out: list[str] = []
    for text in _values(row.get(field), field, warnings):
        hashed = hash_field(field, text, country)
        if hashed is None:
            warnings.append(f"{field}: dropped a value that could not be normalized")
        elif hashed not in out:
            out.append(hashed)
    return out


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
        if split and (";" in value or "|" in value):
            for sep in _SEPARATORS:
                value = value.replace(sep, "\x00")
            return [part for part in value.split("\x00") if part.strip()]
        return [value] if value.strip() else []
    if isinstance(value, bool) or not isinstance(value, (int, float, list, tuple)):
        warnings.append(f"{field}: dropped a value of type {type(value).__name__}")
        return []
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
