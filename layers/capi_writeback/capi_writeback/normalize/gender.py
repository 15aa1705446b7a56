"""Gender: `m` or `f` (CAPI-REFERENCE §3.1), from common synonyms; anything else is dropped."""

from __future__ import annotations

_GENDER = {
    **dict.fromkeys(
        ("m", "male", "man", "men", "mr", "boy", "he", "him", "masculine", "masc", "h", "homme",
         "hombre", "masculino", "männlich", "mannlich", "maennlich", "mann", "uomo", "maschio", "gentleman",
         "sir"), "m"),
    **dict.fromkeys(
        ("f", "female", "woman", "women", "mrs", "ms", "miss", "girl", "she", "her", "feminine",
         "fem", "w", "femme", "mujer", "femenino", "feminino", "weiblich", "frau", "donna",
         "femmina", "lady", "ma'am", "maam", "madam"), "f"),
}


def normalize_gender(value: str, country: str | None = None) -> str | None:
    """`'Female'` -> `'f'`, `'M.'` -> `'m'`; unknown or non-binary values give None."""
    text = value.strip().lower().rstrip(".")
    return _GENDER.get(text)
