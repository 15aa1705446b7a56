"""Currency: ISO 4217 code, sent uppercase (Meta accepts either case, CAPI-REFERENCE §4).
Precious metals and bond units (XAU, XBA...) are ISO 4217 codes but not currencies: refused."""

from __future__ import annotations

import math
import re
from decimal import Decimal

from capi_writeback.limits import MAX_AMOUNT

ISO_4217 = frozenset({
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN",
    "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
    "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP", "CVE", "CZK", "DJF",
    "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD",
    "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD",
    "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK",
    "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK",
    "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK",
    "SGD", "SHP", "SLE", "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT",
    "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS",
    "VED", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG",
    "XDR", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
})


def normalize_currency(value: str) -> str | None:
    """`' usd '` -> `'USD'`; anything that is not an ISO 4217 code gives None."""
    code = value.strip().upper()
    return code if code in ISO_4217 else None


_PLAIN = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,15})?")
_SYMBOLS = "$€£¥₹₩₽₺₪₫₴₦₱ "


AMOUNT_RANGE = f"from 0 to {MAX_AMOUNT:,}"
"""How warnings and skip details say which amounts are read (`limits.MAX_AMOUNT`)."""


def parse_amount(value: object) -> float | int | None:
    """A money amount as a number: `142.52`, `'142.52'`, `'$1,234.50'`, `'12,5'` (decimal comma).

    Negative, non-finite, non-numeric values and amounts over `limits.MAX_AMOUNT` give None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_AMOUNT else None
    if isinstance(value, Decimal):  # numbers read back from DynamoDB
        if not value.is_finite() or not 0 <= value <= MAX_AMOUNT:
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) and 0 <= value <= MAX_AMOUNT else None
    if not isinstance(value, str):
        return None
    if _PLAIN.fullmatch(value):  # "129.90", "49": the usual export, nothing to clean
        return float(value) if "." in value else int(value)
    text = value.strip().strip(_SYMBOLS).upper()
    if len(text) > 3 and text[-3:].isalpha():  # "12.50 USD"
        text = text[:-3].strip()
    if len(text) > 3 and text[:3].isalpha():  # "USD 12.50"
        text = text[3:].strip()
    if "," in text:
        if "." in text and text.rindex(",") > text.rindex("."):
            text = text.replace(".", "").replace(",", ".")  # "1.234,50": dots group thousands
        elif "." in text or text.count(",") > 1 or len(text) - text.index(",") == 4:
            text = text.replace(",", "")  # thousands separators
        else:
            text = text.replace(",", ".")  # decimal comma
    if not text or not all(ch in "0123456789." for ch in text) or text.count(".") > 1 or text == ".":
        return None
    number = float(text)
    if not number <= MAX_AMOUNT:
        return None
    if number.is_integer() and "." not in text and len(text) < 17:
        return int(text)
    return number
