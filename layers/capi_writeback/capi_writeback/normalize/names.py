"""First name, last name and city: lowercase, no punctuation or spaces, UTF-8 letters kept
(CAPI-REFERENCE §3.1: `valéry`, `정`, `newyork`)."""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=32768)
def normalize_name(value: str, country: str | None = None) -> str | None:
    """`' Mary-Ann '` -> `'maryann'`; `'VALÉRY'` -> `'valéry'`; nothing left -> None."""
    text = unicodedata.normalize("NFC", value).lower()
    if not text.isalnum():  # combining marks (Devanagari/Thai vowel signs...) belong to the letters
        text = "".join(ch for ch in text if ch.isalnum() or unicodedata.category(ch)[0] == "M")
    text = unicodedata.normalize("NFC", text)
    return text or None


@lru_cache(maxsize=32768)
def normalize_city(value: str, country: str | None = None) -> str | None:
    """`'New York'` -> `'newyork'`; `'São Paulo'` -> `'sãopaulo'`; digits are not part of a city."""
    text = unicodedata.normalize("NFC", value).lower()
    if not text.isalpha():
        text = "".join(ch for ch in text if ch.isalpha() or unicodedata.category(ch)[0] == "M")
    text = unicodedata.normalize("NFC", text)
    return text or None
