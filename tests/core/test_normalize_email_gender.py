"""Emails with invisible, compatibility or control characters (issue 9), and gender synonyms
(CAPI-REFERENCE §3.1 `em`: trim, lowercase; `ge`: m/f)."""

from __future__ import annotations

import pytest
from capi_writeback.normalize.email import normalize_email
from capi_writeback.normalize.gender import normalize_gender


@pytest.mark.parametrize(("raw", "expected"), [
    # Invisible format characters (zero-width, BOM, bidi marks and overrides, soft hyphen) are
    # copy/paste artifacts, not part of the address: stripped.
    ("john\u200b@example.com", "john@example.com"), ("\ufeffjohn@example.com", "john@example.com"),
    ("jo\u200dhn@exam\u200cple.com", "john@example.com"), ("john@example.com\u2060", "john@example.com"),
    ("\u202ejohn@example.com\u202c", "john@example.com"),
    ("\u200ejohn@example.com\u200f", "john@example.com"),
    ("\u2066john@example.com\u2069", "john@example.com"), ("jo\u00adhn@example.com", "john@example.com"),
    # Fullwidth and other compatibility forms: NFKC gives the address that was meant.
    ("ｊｏｈｎ@example.com", "john@example.com"), ("john＠example．com", "john@example.com"),
    ("ＪＯＨＮ＠ＥＸＡＭＰＬＥ．ＣＯＭ", "john@example.com"),
    ("\u3000john@example.com\u3000", "john@example.com"),
    ("john@example.com\u00a0", "john@example.com"),
    # Control characters (NUL, C0/C1) mean a corrupted value: dropped, never hashed.
    ("john\x00@example.com", None), ("john@example.com\x00x", None), ("jo\x07hn@example.com", None),
    ("john@exa\x85mple.com", None), ("john@example.com\x7f", None),
    # Unicode addresses stay as written (NFC), only lowercased.
    ("Jöhn@Exämple.de", "jöhn@exämple.de"), ("jo\u0308hn@example.de", "jöhn@example.de"),
])
def test_email_invisible_and_compatibility_characters(raw: str, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("Lady", "f"), ("Ma'am", "f"), ("Gentleman", "m"), ("Sir", "m"),
])
def test_gender_synonyms(raw: str, expected: str) -> None:
    assert normalize_gender(raw) == expected


def test_the_format_character_class_covers_every_cf_code_point() -> None:
    import sys
    import unicodedata

    from capi_writeback.normalize.email import _FORMAT

    for code in range(sys.maxunicode + 1):
        char = chr(code)
        category = unicodedata.category(char)
        if category == "Cf":
            assert _FORMAT.fullmatch(char), hex(code)
        elif _FORMAT.fullmatch(char):
            assert category == "Cn", hex(code)  # assigned as Cf by a later Unicode than Python's
