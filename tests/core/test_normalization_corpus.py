"""The agreement corpus: clear-cut normalization cases, each judged against Meta's documented rules
(CAPI-REFERENCE §3.1, D-CI), run through the real leaf normalizers.

`data/normalization_cases.jsonl`, one case a line:
- `field`: the row field; `input`: the raw value; `country`: the row's country (lowercase alpha-2)
  or null;
- `expected`: the normalized plain value (what gets hashed), or null when the value must be dropped;
- `rule`: the documented rule the case is judged by; `from`: where the case was seen (a public test
  suite such as "PB stateUtil.test", "PHP ServerSideNormalizeTest", or "own"); `note`: present where
  that source behaves otherwise and why the rule wins; `through: "user_data"`: the case is about how
  a value is read (a missing-value marker such as `n/a`), not about the leaf normalizer.

Every case runs twice: through its leaf normalizer (except `through: "user_data"` cases), and
through `user_data.hash_field`, the path a row's value takes, whose hash must be that of `expected`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from capi_writeback.hashing import sha256_hex
from capi_writeback.normalize.dates import normalize_date_of_birth
from capi_writeback.normalize.email import normalize_email
from capi_writeback.normalize.gender import normalize_gender
from capi_writeback.normalize.identifiers import normalize_external_id
from capi_writeback.normalize.location import normalize_country, normalize_state, normalize_zip
from capi_writeback.normalize.names import normalize_city, normalize_name
from capi_writeback.normalize.phone import normalize_phone
from capi_writeback.user_data import hash_field

CASES_PATH = Path(__file__).parent / "data" / "normalization_cases.jsonl"
KEYS = {"field", "input", "country", "expected", "rule", "from", "note", "through"}

NORMALIZERS: dict[str, Callable[[str, str | None], str | None]] = {
    "email": normalize_email,
    "phone": normalize_phone,
    "first_name": normalize_name,
    "last_name": normalize_name,
    "city": normalize_city,
    "state": normalize_state,
    "zip": normalize_zip,
    "country": normalize_country,
    "date_of_birth": normalize_date_of_birth,
    "gender": normalize_gender,
    "external_id": normalize_external_id,
}


def load_cases() -> list[dict[str, Any]]:
    with CASES_PATH.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


CASES = load_cases()


def _case_id(case: dict[str, Any]) -> str:
    return f"{case['field']}-{case['country'] or 'any'}-{case['input']!r}"


LEAF_CASES = [case for case in CASES if case.get("through") != "user_data"]


@pytest.mark.parametrize("case", LEAF_CASES, ids=[_case_id(case) for case in LEAF_CASES])
def test_case(case: dict[str, Any]) -> None:
    normalize = NORMALIZERS[case["field"]]
    assert normalize(case["input"], case["country"]) == case["expected"], case.get("note", case["rule"])


@pytest.mark.parametrize("case", CASES, ids=[_case_id(case) for case in CASES])
def test_case_through_hash_field(case: dict[str, Any]) -> None:
    """The full path of a row's value: missing markers, already-hashed values, then the normalizer."""
    expected = None if case["expected"] is None else sha256_hex(case["expected"])
    found = hash_field(case["field"], case["input"], case["country"])
    assert found == expected, case.get("note", case["rule"])


def test_the_corpus_is_well_formed_and_covers_every_pii_field() -> None:
    assert len(CASES) >= 500
    seen = set()
    for case in CASES:
        assert set(case) <= KEYS and {"field", "input", "country", "expected", "rule", "from"} <= set(case)
        assert case["field"] in NORMALIZERS
        assert case["rule"].split()[0].startswith("D-"), case  # cites Meta's documented rule
        assert case.get("through", "user_data") == "user_data"
        key = (case["field"], case["input"], case["country"])
        assert key not in seen, key
        seen.add(key)
    fields = {case["field"] for case in CASES}
    assert fields == set(NORMALIZERS)
    assert {case["input"] for case in CASES if "|" in case["input"]} >= {
        "test|name@example.com", "1990|12|31", "United|States", "555|123|4567", "Sarah|"}
    for field in NORMALIZERS:
        outcomes = [case["expected"] for case in CASES if case["field"] == field]
        assert None in outcomes and any(outcomes), field  # each field has kept and dropped cases


def test_meta_doc_vectors_in_the_corpus_hash_to_metas_published_digests() -> None:
    published = {
        "john_smith@gmail.com": "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f",
        "16505551212": "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176",
        "mary": "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec",
        "19970216": "01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c",
        "us": "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621",
    }
    vectors = [case for case in CASES if case["from"] == "D-CI test vector"]
    assert len(vectors) >= 8
    for case in vectors:
        if case["expected"] in published:
            assert sha256_hex(case["expected"]) == published[case["expected"]]
