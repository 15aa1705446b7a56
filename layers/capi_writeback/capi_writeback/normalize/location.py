"""State, postal code and country (CAPI-REFERENCE §3.1).

- state: US state names, codes and abbreviations -> 2-letter codes; other values lowercase without
  punctuation or spaces (not truncated); values with digits are dropped.
- zip: lowercase, no spaces or dashes; US ZIP+4 -> 5 digits; UK postcodes without the space.
- country: English and ISO names (and common local and short names), alpha-2 and alpha-3 codes ->
  ISO 3166-1 alpha-2.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from capi_writeback.normalize.countries import ALPHA3, COUNTRY_NAMES, ISO_COUNTRIES, ISO_NAMES

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
    "méxico": "mx", "perú": "pe", "türkiye": "tr", "turkiye": "tr", "swaziland": "sz",
    "macedoniatheformeryugoslavrepublicof": "mk", "theformeryugoslavrepublicofmacedonia": "mk",
}
# "Not available" markers whose letters would spell a code ("n/a" -> na, Namibia).
_NOT_AVAILABLE = frozenset({"n/a", "n.a.", "n.a", "n/a."})

_US_ZIP = re.compile(r"[0-9]{5}(?:-[0-9]{4})?")
# A ZIP+4 (or a ZIP and dashes) followed by anything: "12345-6789-extra", "12345-". Not 5+3 digits
# ("01310-100" is a Brazilian CEP).
_US_ZIP_DASH = re.compile(r"\s*([0-9]{5})(?:-[0-9]{4}(?![0-9A-Za-z])|-+\s*\Z)")
_US_ZIP_LEAD = re.compile(r"\s*([0-9]{5})(?![0-9A-Za-z])")  # with the US known: any 5 digits first
# Abbreviations of US state names in common use (GPO style manual, AP stylebook) that are not
# the postal code itself; only read as states when the country is the US or unknown.
_US_STATE_ABBREVIATIONS = {
    "ala": "al", "ariz": "az", "ark": "ar", "cal": "ca", "calif": "ca", "colo": "co", "conn": "ct",
    "del": "de", "fla": "fl", "ill": "il", "ind": "in", "kan": "ks", "kans": "ks", "mass": "ma",
    "mich": "mi", "minn": "mn", "miss": "ms", "mont": "mt", "neb": "ne", "nebr": "ne", "nev": "nv",
    "nmex": "nm", "ndak": "nd", "sdak": "sd", "okla": "ok", "ore": "or", "oreg": "or", "penn": "pa",
    "penna": "pa", "tenn": "tn", "tex": "tx", "wash": "wa", "wis": "wi", "wisc": "wi", "wva": "wv",
    "wyo": "wy",
}
# ANSI codes of the states, DC and the territories, plus the USPS military "states" (AA, AE, AP).
_US_CODES = frozenset(US_STATES.values()) | {"fm", "mh", "pw", "um", "aa", "ae", "ap"}
# Everything that names a US state -> its code.
_US_STATE_CODES = {**{code: code for code in _US_CODES}, **_US_STATE_ABBREVIATIONS, **US_STATES}
_US_STATE_NAMES_LONGEST_FIRST = sorted(US_STATES, key=len, reverse=True)
# What may follow a state name in a value that still names only that state ("California USA").
_US_STATE_SUFFIXES = frozenset({"us", "usa", "unitedstates", "unitedstatesofamerica", "america", "state"})

_COUNTRIES = {**ALPHA3, **COUNTRY_NAMES, **ISO_NAMES, **_COUNTRY_SYNONYMS}


def _letters(value: str) -> str:
    text = unicodedata.normalize("NFC", value).lower()
    if not text.isalnum():  # combining marks (Devanagari/Thai vowel signs...) belong to the letters
        text = "".join(ch for ch in text if ch.isalnum() or unicodedata.category(ch)[0] == "M")
    return unicodedata.normalize("NFC", text)


@lru_cache(maxsize=4096)
def normalize_country(value: str, country: str | None = None) -> str | None:
    """`'United States'` -> `'us'`, `'DE'` -> `'de'`, `'UK'` -> `'gb'`, `'DEU'` -> `'de'`,
    `'Korea, Republic of'` -> `'kr'`; unknown -> None. A digit is never part of a country, so
    `'us123'` is dropped rather than guessed, and `'n/a'` is not Namibia."""
    if value.strip().lower() in _NOT_AVAILABLE:
        return None
    text = _letters(value)
    if len(text) == 2:
        return text if text in ISO_COUNTRIES else _COUNTRIES.get(text)
    found = _COUNTRIES.get(text)
    if found is None and text:
        found = _country_variant(text)
    return found


def _country_variant(text: str) -> str | None:
    """The same name with its diacritics folded (`'Frânce'`) or without ISO's "(the)" / a
    leading "The" (`'Bahamas (the)'`, `'The Gambia'`)."""
    folded = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    for candidate in (folded, folded.removeprefix("the"), folded.removesuffix("the")):
        found = _COUNTRIES.get(candidate)
        if found is not None:
            return found
    return None


@lru_cache(maxsize=8192)
def normalize_state(value: str, country: str | None = None) -> str | None:
    """`'California'`, `'Calif.'`, `'CA'`, `'California, USA'` -> `'ca'` (US or unknown country);
    `'Île-de-France'` -> `'îledefrance'` elsewhere (lowercase, no punctuation, not truncated).

    A state never holds a digit (`'ca1'`, `'Florida 32801'`: a mis-mapped column), so such values
    are dropped. With the country known to be the US, only a US state, district or territory (name,
    code or common abbreviation) is kept. A state name glued to the country, the word "state" or its
    own code is that state; glued to anything else (`'Kansas City'` is in Missouri) it is not guessed.
    """
    text = _letters(value)
    if not text or (not text.isalpha() and any(ch.isdigit() for ch in text)):
        return None
    if country not in (None, "us"):
        return text
    code = _US_STATE_CODES.get(text) or _glued_us_state(text)
    if code is not None or country == "us":
        return code
    return text


def _glued_us_state(text: str) -> str | None:
    for name in _US_STATE_NAMES_LONGEST_FIRST:
        if text.startswith(name):
            code = US_STATES[name]
            rest = text[len(name):]
            return code if rest in _US_STATE_SUFFIXES or rest == code else None
    return None


def normalize_zip(value: str, country: str | None = None) -> str | None:
    """`'94107-1234'` -> `'94107'`, `'M1 1AE'` -> `'m11ae'`; US ZIPs that lost a leading zero get
    it back (`'2134'` with country us -> `'02134'`). A ZIP followed by more than its +4
    (`'12345-6789-extra'`) is its first five digits; one character is no postal code anywhere."""
    if country in (None, "us") and _US_ZIP.fullmatch(value):
        return value[:5]  # the common US case: 12345 or 12345-6789, nothing to clean
    return _normalize_zip(value, country)


@lru_cache(maxsize=32768)
def _normalize_zip(value: str, country: str | None) -> str | None:
    if country in (None, "us"):
        # US rule, first five digits: "12345-6789-extra"; for the US also "94107 USA".
        lead = (_US_ZIP_LEAD if country == "us" else _US_ZIP_DASH).match(value)
        if lead is not None:
            return lead[1]
    text = _letters(value)
    if len(text) < 2:
        return None
    if text.isascii() and text.isdigit() and (country == "us" or (country is None and len(text) == 9)):
        if len(text) in (5, 9):
            return text[:5]
        if country == "us" and len(text) in (3, 4):
            return text.zfill(5)
        return None if country == "us" else text
    return text
