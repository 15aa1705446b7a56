"""Email: trim and lowercase (CAPI-REFERENCE §3.1); values that are not an address are dropped."""

from __future__ import annotations

import re

# Deliberately loose: one @, no whitespace or address delimiters (<>,;: quotes...), dot-separated
# domain labels, a top-level domain of letters (or punycode).
_SPECIAL = r'@\s<>()\[\],;:"\\'
_EMAIL = re.compile(rf"[^{_SPECIAL}]+@(?:[^{_SPECIAL}.]+\.)+(?:[^\W\d_]{{2,63}}|xn--[a-z0-9-]+)")


def normalize_email(value: str, country: str | None = None) -> str | None:
    """`' John@Example.COM '` -> `'john@example.com'`; a `mailto:` prefix is removed and
    `'John <john@x.com>'` gives the address inside the brackets."""
    text = value.strip().lower()
    if text.startswith("mailto:"):
        text = text[7:].strip()
    if text.endswith(">") and "<" in text:
        text = text[text.rindex("<") + 1:-1].strip()
    if _EMAIL.fullmatch(text) is None:
        return None
    return text
