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
    text = "".join(ch for ch in value if unicodedata.category(ch) != "Cf")
    return unicodedata.normalize("NFKC", text)
