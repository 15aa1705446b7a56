"""Dates of birth exported with a time of day (issue 9): the date is read, the time ignored
(CAPI-REFERENCE §3.1 `db`: YYYYMMDD)."""

from __future__ import annotations

import pytest
from capi_writeback.normalize.dates import normalize_date_of_birth


@pytest.mark.parametrize(("raw", "country", "expected"), [
    ("1990-12-31 00:00:00", None, "19901231"), ("1990-12-31T00:00:00Z", None, "19901231"),
    ("12/31/1990 00:00", None, "19901231"), ("12/31/1990 12:00:00 AM", "us", "19901231"),
    ("31.12.1990 00:00:00", "de", "19901231"), ("1990/12/31 10:30", None, "19901231"),
    ("31/12/1990 23:59:59 +01:00", "fr", "19901231"), ("Dec 31, 1990 00:00", None, "19901231"),
    ("19901231 00:00:00", None, "19901231"), ("1990-12-31 00:00:00.000000 UTC", None, "19901231"),
    # Still not a date of birth.
    ("12:30", None, None), ("00:00:00", None, None), ("31/12 10:30", "fr", None),
])
def test_date_of_birth_followed_by_a_time(raw: str, country: str | None, expected: str | None) -> None:
    assert normalize_date_of_birth(raw, country) == expected
