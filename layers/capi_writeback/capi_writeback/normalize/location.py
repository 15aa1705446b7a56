"""State, postal code and country (CAPI-REFERENCE §3.1).

- state: US state names -> 2-letter codes; other values lowercase without punctuation or spaces
  (not truncated).
- zip: lowercase, no spaces or dashes; US ZIP+4 -> 5 digits; UK postcodes without the space.
- country: English names (and common local and short names) -> ISO 3166-1 alpha-2.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from capi_writeback.normalize.countries import COUNTRY_NAMES, ISO_COUNTRIES

US_STATES = {
    "alabama": "al", "alaska": "ak", "arizona": "az", "arkansas": "ar", "california": "ca",
    "colorado": "co", "connecticut": "ct", "delaware": "de", "districtofcolumbia": "dc",
    "washingtondc": "dc", "florida": "fl", "georgia": "ga", "hawaii": "hi", "idaho": "id",
    "illinois": "il", "indiana": "in", "iowa": "ia", "kansas": "ks", "kentucky": "ky",
    "louisiana": "la", "maine": "me", "maryland": "md", "massachusetts": "ma", "michigan": "mi",
    "minnesota": "mn", "mississippi": "ms", "missouri": "mo", "montana": "mt", "nebraska": "ne",
    "nevada": "nv", "newhampshire": "nh", "newjersey": "nj", "newmexico": "nm", "newyork": "ny",
    "northcarolina": "nc", "northdakota": "nd", "ohio": "oh", "oklahoma": "ok", "oregon": "or",
    "pennsylvania": "pa", "rhodeisland": "ri", "southcarolina": "sc", "southdakota": "sd",
    "tennessee": "tn", "texas": "tx", "utah": "ut", "vermont": "vt", "virginia": "va",
    "washington": "wa", "westvirginia": "wv", "wisconsin": "wi", "wyoming": "wy",
    "puertorico": "pr", "guam": "gu", "americansamoa": "as", "usvirginislands": "vi",
    "northernmarianaislands": "mp",
}

# Frequent ways of writing a country that the locale data does not list.
_COUNTRY_SYNONYMS = {
    "usa": "us", "unitedstatesofamerica": "us", "america": "us", "us": "us", "uk": "gb",
    "greatbritain": "gb", "britain": "gb", "england": "gb", "scotland": "gb", "wales": "gb",
    "northernireland": "gb", "holland": "nl", "thenetherlands": "nl", "southkorea": "kr",
    "korea": "kr", "republicofkorea": "kr", "northkorea": "kp", "russia": "ru",
    "russianfederation": "ru", "czechia": "cz", "czechrepublic": "cz", "uae": "ae",
    "vietnam": "vn", "ivorycoast": "ci", "deutschland": "de",
    "españa": "es", "espana": "es", "brasil": "br", "macedonia": "mk",
    "burma": "mm", "eswatini": "sz", "capeverde": "cv", "hongkong": "hk", "macau": "mo",
    "taiwan": "tw", "iran": "ir", "syria": "sy", "laos": "la", "moldova": "md", "bolivia": "bo",
    "venezuela": "ve", "tanzania": "tz", "vatican": "va", "palestine": "ps", "unitedkingdom": "gb",
    "unitedkingdomofgreatbritainandnorthernireland": "gb", "cotedivoire": "ci", "drc": "cd",
    "drcongo": "cd", "democraticrepublicofthecongo": "cd", "republicofthecongo": "cg",
    "unitedarabemirates": "ae", "saudi": "sa", "newzealand": "nz", "österreich": "at", "osterreich": "at",
    "schweiz": "ch", "suisse": "ch", "svizzera": "ch", "italia": "it", "nederland": "nl",
    "belgique": "be", "belgië": "be", "polska": "pl", "sverige": "se", "norge": "no", "danmark": "dk",
    "suomi": "fi", "éire": "ie", "eire": "ie", "ελλάδα": "gr", "hellas": "gr", "magyarország": "hu",
    "česko": "cz", "românia": "ro", "россия": "ru", "україна": "ua", "ukraina": "ua", "日本": "jp",
    "nippon": "jp", "中国": "cn", "prc": "cn", "대한민국": "kr", "한국": "kr", "भारत": "in", "bharat": "in",
    "méxico": "mx", "perú": "pe", "türkiye": "tr", "turkiye": "tr",
}

_US_ZIP = re.compile(r"[0-9]{5}(?:-[0-9]{4})?")


def _letters(value: str) -> str:
    text = unicodedata.normalize("NFC", value).lower()
    if not text.isalnum():  # combining marks (Devanagari/Thai vowel signs...) belong to the letters
        text = "".join(ch for ch in text if ch.isalnum() or unicodedata.category(ch)[0] == "M")
    return unicodedata.normalize("NFC", text)


@lru_cache(maxsize=4096)
def normalize_country(value: str, country: str | None = None) -> str | None:
    """`'United States'` -> `'us'`, `'DE'` -> `'de'`, `'UK'` -> `'gb'`; unknown -> None."""
    text = _letters(value)
    if len(text) == 2 and text in ISO_COUNTRIES:
        return text
    return _COUNTRY_SYNONYMS.get(text) or COUNTRY_NAMES.get(text)


@lru_cache(maxsize=8192)
def normalize_state(value: str, country: str | None = None) -> str | None:
    """`'California'` -> `'ca'` (US or unknown country); `'Île-de-France'` -> `'îledefrance'`."""
    text = _letters(value)
    if not text:
        return None
    if country in (None, "us") and text in US_STATES:
        return US_STATES[text]
    return text


def normalize_zip(value: str, country: str | None = None) -> str | None:
    """`'94107-1234'` -> `'94107'`, `'M1 1AE'` -> `'m11ae'`; US ZIPs that lost a leading zero get
    it back (`'2134'` with country us -> `'02134'`)."""
    if country in (None, "us") and _US_ZIP.fullmatch(value):
        return value[:5]  # the common US case: 12345 or 12345-6789, nothing to clean
    return _normalize_zip(value, country)


@lru_cache(maxsize=32768)
def _normalize_zip(value: str, country: str | None) -> str | None:
    text = _letters(value)
    if not text:
        return None
    if text.isascii() and text.isdigit() and (country == "us" or (country is None and len(text) == 9)):
        if len(text) in (5, 9):
            return text[:5]
        if country == "us" and len(text) in (3, 4):
            return text.zfill(5)
        return None if country == "us" else text
    return text
