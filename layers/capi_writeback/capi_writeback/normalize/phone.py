"""Phone: E.164 digits without '+' (CAPI-REFERENCE §3.1), country code added from the row's or
profile's country when missing.

Letters and symbols are stripped first, as Meta says. Numbers written internationally ('+' or '00')
take a cheap path; national numbers go through `phonenumbers` (about 15-25 µs a call), cached
because the same numbers repeat across rows and exports.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

_NANP = frozenset({"us", "ca", "pr", "vi", "gu", "as", "mp", "um"})
_NON_DIGITS = re.compile(r"[^0-9]+")
_EXTENSION = re.compile(r"\s*(?:;\s*ext=|(?:extension|extn|ext|x)\.?|#)\s*:?\s*[0-9]{1,7}\s*\Z",
                        re.IGNORECASE)
# E.164 numbers (country code included) have 7 to 15 digits in practice (Niue has 7).
_MIN_DIGITS, _MAX_DIGITS = 7, 15


def normalize_phone(value: str, country: str | None = None) -> str | None:
    """`'(650) 555-1212'` with country us -> `'16505551212'`; unusable numbers give None.
    An extension (`ext. 12`, `x12`, `#12`) is not part of the number: dropped."""
    found = _normalize(value, country)
    if found is None:
        extension = _EXTENSION.search(value)
        if extension is not None and extension.start() > 0:
            return _normalize(value[:extension.start()], country)
    return found


def _normalize(value: str, country: str | None) -> str | None:
    text = value.strip()
    international = text.startswith("+")
    digits = _NON_DIGITS.sub("", text)
    if not digits:
        return None
    if not international and digits.startswith("00"):
        international, digits = True, digits[2:]
    if international:
        if len(digits) == 11 and digits[0] == "1" and digits[1] in "23456789":
            return digits  # +1 NANP: the digits already are E.164
        return _international(digits, strict=False)
    if country is None:
        # No country to infer from: accept it only if it reads as a valid international number.
        return _international(digits, strict=True)
    if country in _NANP:
        if len(digits) == 10 and digits[0] in "23456789":
            return "1" + digits
        if len(digits) == 11 and digits[0] == "1" and digits[1] in "23456789":
            return digits
    return _national(digits, country.upper())


def _international(digits: str, strict: bool) -> str | None:
    digits = digits.lstrip("0")
    if not _MIN_DIGITS <= len(digits) <= _MAX_DIGITS:
        return None
    if not any(int(digits[:n]) in COUNTRY_CODE_TO_REGION_CODE for n in (1, 2, 3)):
        return None
    return _parse("+" + digits, None, strict)


@lru_cache(maxsize=65536)
def _national(digits: str, region: str) -> str | None:
    return _parse(digits, region, False)


@lru_cache(maxsize=65536)
def _parse(text: str, region: str | None, strict: bool) -> str | None:
    """E.164 digits of a number that is possible (right length), or valid when `strict`."""
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if strict:
        ok = phonenumbers.is_valid_number(parsed)
    else:  # "local only" numbers lack an area code Meta would need
        ok = phonenumbers.is_possible_number_with_reason(parsed) == phonenumbers.ValidationResult.IS_POSSIBLE
    if not ok:
        return None
    # E.164 keeps meaningful leading zeros (Italy); national_number alone would lose them.
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)[1:]
    return e164 if _MIN_DIGITS <= len(e164) <= _MAX_DIGITS else None
