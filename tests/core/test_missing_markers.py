"""A PII value that only says "missing" (`n/a`, `null`, `-`, pandas' `NaN`...) is no value: never hashed
as the name "na" or the user agent "-", and no warning either (it is an empty cell, not a bad one)."""

from __future__ import annotations

from typing import Any

import pytest
from capi_writeback.events import build_events
from capi_writeback.fields import HASHED_FIELDS, RAW_FIELDS
from capi_writeback.hashing import sha256_hex
from capi_writeback.rows import prepare_for_storage
from capi_writeback.settings import ProfileSettings
from capi_writeback.user_data import MISSING_MARKERS, hash_field, hashed_user_data

from .conftest import NOW, make_row

MARKERS = ["n/a", "N/A", "null", "NULL", "none", "None", "-", "nan", "NaN", "undefined", " n/a ", "\tnull\n",
           "#N/A", "--"]
FIELDS = sorted(HASHED_FIELDS)


@pytest.mark.parametrize("marker", MARKERS)
@pytest.mark.parametrize("field", FIELDS)
def test_a_missing_marker_is_no_value_of_any_hashed_field(field: str, marker: str) -> None:
    assert hash_field(field, marker, "us") is None
    warnings: list[str] = []
    assert hashed_user_data({field: marker}, "us", warnings) == {}
    assert warnings == []


@pytest.mark.parametrize("marker", MARKERS)
@pytest.mark.parametrize("field", sorted(RAW_FIELDS))
def test_a_missing_marker_is_no_value_of_an_unhashed_field(field: str, marker: str) -> None:
    warnings: list[str] = []
    assert hashed_user_data({field: marker}, "us", warnings) == {}
    assert warnings == []


@pytest.mark.parametrize("marker", MARKERS)
def test_markers_in_a_list_are_skipped_and_the_real_values_kept(marker: str) -> None:
    warnings: list[str] = []
    row = {"first_name": [marker, "Ada"], "external_id": f'["{marker.strip()}", "c-1"]'}
    user_data = hashed_user_data(row, None, warnings)
    assert user_data == {"fn": [sha256_hex("ada")], "external_id": [sha256_hex("c-1")]}
    assert warnings == []


@pytest.mark.parametrize(("field", "value", "plain"), [
    ("first_name", "Nan", "nan"),  # a given name, not pandas' NaN
    ("last_name", "Na", "na"),  # a Korean family name
    ("country", "NA", "na"),  # Namibia
    ("first_name", "Nonie", "nonie"),
    ("external_id", "null-1", "null-1"),
])
def test_real_values_that_look_like_markers_are_kept(field: str, value: str, plain: str) -> None:
    assert hash_field(field, value, None) == sha256_hex(plain)


def test_the_markers_are_exact_spellings() -> None:
    assert {"n/a", "N/A", "null", "none", "-", "nan", "NaN", "undefined"} <= MISSING_MARKERS
    assert not {"Nan", "NAN", "na", "NA", "nil", "Nil"} & MISSING_MARKERS


def _event_of(**row: Any) -> dict[str, Any]:
    result = build_events([make_row(**row)], ProfileSettings(), NOW)
    assert result.skipped == [], result.skipped
    built = result.events[0]
    assert not any(w.split(":")[0] in row for w in built.warnings), built.warnings
    return built.event


def test_markers_leave_no_trace_in_the_event_or_the_stored_row() -> None:
    row = {"first_name": "N/A", "last_name": "null", "city": "-", "external_id": "undefined",
           "client_user_agent": "-", "phone": "NaN", "gender": "none"}
    event = _event_of(**row)
    assert set(event["user_data"]) == {"em"}
    stored = prepare_for_storage(make_row(**row), ProfileSettings(), NOW)
    assert isinstance(stored, dict)
    assert not set(row) & set(stored) and "_warnings" not in stored
