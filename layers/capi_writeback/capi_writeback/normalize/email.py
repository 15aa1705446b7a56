"""Email: trim and lowercase (CAPI-REFERENCE §3.1); values that are not an address are dropped."""

from __future__ import annotations

import re

# Deliberately loose: one @, no whitespace, a dot in the domain, no dot at either end of it.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.][^@\s]*\.[^@\s.]+")


def normalize_email(value: str, country: str | None = None) -> str | None:
    """`' John@Example.COM '` -> `'john@example.com'`; a `mailto:` prefix is removed."""
    text = value.strip().lower()
    if text.startswith("mailto:"):
        text = text[7:].strip()
    if _EMAIL.fullmatch(text) is None:
        return None
    return text
