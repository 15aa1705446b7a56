"""The layer's own country tables against pycountry's ISO 3166-1 data (a test-only dependency: the
layer keeps a small table instead of pycountry's 23 MB and its import time)."""

from __future__ import annotations

from typing import Any

import pycountry
import pytest
from capi_writeback.normalize.countries import ALPHA3, COUNTRY_NAMES, ISO_COUNTRIES, ISO_NAMES
from capi_writeback.normalize.location import _COUNTRY_SYNONYMS, normalize_country

_ISO = list(pycountry.countries)


def test_every_iso_alpha2_code_is_known_and_nothing_else() -> None:
    assert {country.alpha_2.lower() for country in _ISO} == set(ISO_COUNTRIES)


def test_every_iso_alpha3_code_maps_to_its_alpha2() -> None:
    assert {country.alpha_3.lower(): country.alpha_2.lower() for country in _ISO} == ALPHA3


@pytest.mark.parametrize("country", _ISO, ids=lambda country: country.alpha_2)
def test_every_iso_name_maps_to_its_code(country: Any) -> None:
    code = country.alpha_2.lower()
    for attribute in ("name", "official_name", "common_name"):
        name = getattr(country, attribute, None)
        if name:
            assert normalize_country(name) == code, (attribute, name)
            assert normalize_country(name.upper()) == code, (attribute, name)
    assert normalize_country(country.alpha_3) == code


def test_tables_never_disagree_on_a_key() -> None:
    tables = (ALPHA3, COUNTRY_NAMES, ISO_NAMES, _COUNTRY_SYNONYMS)
    seen: dict[str, str] = {}
    for table in tables:
        for key, code in table.items():
            assert seen.setdefault(key, code) == code, key
            assert code in ISO_COUNTRIES, key
