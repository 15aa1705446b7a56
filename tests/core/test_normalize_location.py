"""Country, state and ZIP defects of issue 9, judged against Meta's documented normalization
(CAPI-REFERENCE §3.1, D-CI): ISO names and alpha-3 codes, digits, abbreviations, ZIP+4 tails."""

from __future__ import annotations

import pytest
from capi_writeback.normalize.location import normalize_country, normalize_state, normalize_zip


@pytest.mark.parametrize(("raw", "expected"), [
    # ISO 3166-1 short names as ISO writes them, and the ways exports flatten them.
    ("Korea, Republic of", "kr"), ("Korea Republic of", "kr"), ("Korea (Republic of)", "kr"),
    ("Korea, Democratic People's Republic of", "kp"), ("Iran Islamic Republic of", "ir"),
    ("Iran, Islamic Republic of", "ir"), ("Virgin Islands British", "vg"), ("Virgin Islands, U.S.", "vi"),
    ("Macao", "mo"), ("Taiwan Province of China", "tw"), ("Taiwan, Province of China", "tw"),
    ("Bolivia (Plurinational State of)", "bo"), ("Venezuela, Bolivarian Republic of", "ve"),
    ("Tanzania, United Republic of", "tz"), ("Moldova, Republic of", "md"), ("Syrian Arab Republic", "sy"),
    ("Lao People's Democratic Republic", "la"), ("Holy See (Vatican City State)", "va"),
    ("Congo, The Democratic Republic of the", "cd"), ("Micronesia, Federated States of", "fm"),
    ("Palestine, State of", "ps"), ("Sint Maarten (Dutch part)", "sx"), ("Saint Martin (French part)", "mf"),
    ("Bonaire, Sint Eustatius and Saba", "bq"), ("Brunei Darussalam", "bn"), ("Viet Nam", "vn"),
    ("Cabo Verde", "cv"), ("Åland Islands", "ax"), ("Aland Islands", "ax"), ("Curacao", "cw"),
    ("Reunion", "re"), ("Saint Barthélemy", "bl"), ("Türkiye", "tr"), ("Czechia", "cz"),
    ("United States Minor Outlying Islands", "um"), ("Netherlands (Kingdom of the)", "nl"),
    ("Plurinational State of Bolivia", "bo"), ("Republic of Korea", "kr"), ("Islamic Republic of Iran", "ir"),
    # ISO alpha-3 codes.
    ("DEU", "de"), ("kor", "kr"), ("GBR", "gb"), ("usa", "us"), ("IND", "in"), ("CHE", "ch"), ("NLD", "nl"),
    ("ZAF", "za"), ("VGB", "vg"), ("MAC", "mo"), ("TWN", "tw"), ("PRK", "kp"), ("FRA", "fr"), ("ESP", "es"),
    # Stray digits: never guess which country was meant.
    ("us123", None), ("123us", None), ("ca1", None), ("Japan2024", None), ("DEU1", None),
    # Former and alternative ISO names; "not available" is not Namibia (na).
    ("Swaziland", "sz"), ("Macedonia, the former Yugoslav Republic of", "mk"), ("n/a", None), ("N/A", None),
    ("NA", "na"),
])
def test_country_iso_names_and_alpha3(raw: str, expected: str | None) -> None:
    assert normalize_country(raw) == expected


@pytest.mark.parametrize(("raw", "country", "expected"), [
    # A state never holds a digit: such a value is a mis-mapped column (or a state and a ZIP), dropped.
    ("ca1", None, None), ("ca1", "us", None), ("123", None, None), ("123", "us", None),
    ("Florida32801", "us", None), ("75", "fr", None), ("tx9", "us", None),
    # Common (GPO/AP) abbreviations of US states.
    ("Calif.", None, "ca"), ("Calif.", "us", "ca"), ("Penn.", None, "pa"), ("Penna.", "us", "pa"),
    ("Fla.", "us", "fl"), ("Mass.", None, "ma"), ("Tex.", "us", "tx"), ("Wash.", "us", "wa"),
    ("Ariz.", "us", "az"), ("Tenn.", "us", "tn"), ("Okla.", "us", "ok"), ("W. Va.", "us", "wv"),
    ("N. Dak.", "us", "nd"), ("N.Y.", "us", "ny"),
    # A state name followed by the country, "state" or its own code: the state.
    ("CaliforniaUSA", None, "ca"), ("California, USA", "us", "ca"), ("Texas State", "us", "tx"),
    ("New York NY", "us", "ny"), ("Virginia, United States", None, "va"),
    ("West Virginia USA", "us", "wv"), ("Arkansas US", "us", "ar"),
    # A city is not a state (Kansas City is in Missouri): not guessed.
    ("Kansas City", "us", None), ("NewYorkCity", "us", None),
    # With the US known, only a state (name, code or abbreviation) is a US state.
    ("zz", "us", None), ("Narnia", "us", None), ("Ontario", "us", None),
    # Outside the US: lowercase, no punctuation or spaces, not truncated (abbreviations are US-only).
    ("Ontario", "ca", "ontario"), ("Penn.", "de", "penn"), ("Calif.", "mx", "calif"),
])
def test_state(raw: str, country: str | None, expected: str | None) -> None:
    assert normalize_state(raw, country) == expected


@pytest.mark.parametrize(("raw", "country", "expected"), [
    # No postal code system has one-character codes.
    ("1", None, None), ("a", None, None), (" 7 ", None, None), ("-1", None, None), ("1", "gb", None),
    # US ZIP+4 rule: the first five digits, whatever follows the ZIP+4.
    ("12345-6789-extra", None, "12345"), ("12345-6789-extra", "us", "12345"), ("12345-", None, "12345"),
    ("90210-1234-more-data", None, "90210"), (" 37221-3312 ", None, "37221"), ("94107 USA", "us", "94107"),
    ("94107-1234 ", "us", "94107"),
    # Only the ZIP+4 shape is cut when the country is unknown: a Brazilian CEP (5+3 digits) is not one.
    ("01310-100", None, "01310100"), ("12345-678", None, "12345678"), ("12345---", None, "12345"),
])
def test_zip(raw: str, country: str | None, expected: str | None) -> None:
    assert normalize_zip(raw, country) == expected
