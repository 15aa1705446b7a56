"""Email: trim and lowercase (CAPI-REFERENCE §3.1); values that are not an address are dropped.

Beyond Meta's trim+lowercase, only what cannot be part of the address a person typed is undone:
invisible format characters (zero-width spaces and joiners, BOM, bidi marks and overrides, soft
hyphen: Unicode category Cf) are removed, and compatibility forms (fullwidth `ｊｏｈｎ＠…`) are
folded by NFKC. A control character (NUL, C0/C1) means a corrupted value: it is dropped, never
repaired, since nobody can tell what it replaced.
"""

from __future__ import annotations

import re
import unicodedata

# Deliberately loose: one @, no whitespace, control characters or address delimiters
# (<>,;: quotes...), dot-separated domain labels, a top-level domain of letters (or punycode).
_SPECIAL = r'@\s<>()\[\],;:"\\\x00-\x1f\x7f-\x9f'
_EMAIL = re.compile(rf"[^{_SPECIAL}]+@(?:[^{_SPECIAL}.]+\.)+(?:[^\W\d_]{{2,63}}|xn--[a-z0-9-]+)")
# Unicode format characters (category Cf, Unicode 15.1; a test checks it against unicodedata).
_FORMAT = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)


def normalize_email(value: str, country: str | None = None) -> str | None:
    """`' John@Example.COM '` -> `'john@example.com'`; a `mailto:` prefix is removed and
    `'John <john@x.com>'` gives the address inside the brackets."""
    text = value if value.isascii() else _unicode_clean(value)
    text = text.strip().lower()
    if text.startswith("mailto:"):
        text = text[7:].strip()
    if text.endswith(">") and "<" in text:
        text = text[text.rindex("<") + 1:-1].strip()
    if _EMAIL.fullmatch(text) is None:
        return None
    return text


def _unicode_clean(value: str) -> str:
    """Without format characters, NFKC: `'ｊｏｈｎ\\u200b＠example.com'` -> `'john@example.com'`."""
    text = value if value.isprintable() else _FORMAT.sub("", value)  # isprintable: no Cf, fast
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)
