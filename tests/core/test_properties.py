"""Property tests (hypothesis): normalizers never raise, are idempotent, never hash twice, and always
produce 64 lowercase hex or nothing; the builder accounts for every row whatever it is given."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from capi_writeback.events import build_events
from capi_writeback.fields import HASHED_FIELDS, RAW_FIELDS, ROW_KEYS, SYNONYMS
from capi_writeback.hashing import sha256_hex
from capi_writeback.normalize.currency import normalize_currency, parse_amount
from capi_writeback.normalize.phone import normalize_phone
from capi_writeback.rows import parse_occurred_at, prepare_for_storage
from capi_writeback.settings import ProfileSettings
from capi_writeback.user_data import hash_field
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import NOW

HEX64 = re.compile(r"[0-9a-f]{64}")
COUNTRIES = st.sampled_from([None, "us", "gb", "de", "fr", "ca", "in", "br", "jp", "it"])
PROFILE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text that looks like real PII often enough to reach the interesting branches.
pii_text = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"\+?[0-9 ()\-.]{4,20}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9._%+\-]{1,12}@[A-Za-z0-9\-]{1,10}\.[a-z]{2,4}", fullmatch=True),
    st.from_regex(r"[0-9]{1,4}[/.\-][0-9]{1,2}[/.\-][0-9]{2,4}", fullmatch=True),
    st.sampled_from(["United States", "California", "Male", "f", "SW1A 1AA", "94107-1234", "São Paulo",
                     "O'Brien", "정", "2/16/1997", "(650)555-1212", "DE", "woman"]),
)
FIELD_NORMALIZERS: list[tuple[str, Callable[[str, str | None], str | None]]] = [
    (name, field.normalize) for name, field in HASHED_FIELDS.items() if field.normalize is not None
]


@PROFILE
@given(value=pii_text, country=COUNTRIES, which=st.sampled_from(FIELD_NORMALIZERS))
def test_normalizers_never_raise_and_are_idempotent(
    value: str, country: str | None, which: tuple[str, Callable[[str, str | None], str | None]]
) -> None:
    field, normalize = which
    once = normalize(value, country)
    if once is None:
        return
    assert isinstance(once, str) and once
    if field == "phone":
        # The normalized form is E.164 digits: written internationally it stays the same.
        assert normalize("+" + once, country) == once
    else:
        assert normalize(once, country) == once, field


@PROFILE
@given(value=pii_text, country=COUNTRIES, field=st.sampled_from(sorted(HASHED_FIELDS)))
def test_hash_output_is_64_lowercase_hex_or_absent_and_never_hashed_twice(
    value: str, country: str | None, field: str
) -> None:
    hashed = hash_field(field, value, country)
    if hashed is None:
        return
    assert HEX64.fullmatch(hashed)
    assert hash_field(field, hashed, country) == hashed
    assert hash_field(field, hashed.upper(), country) == hashed


@PROFILE
@given(digest=st.from_regex(r"[0-9a-fA-F]{64}", fullmatch=True), field=st.sampled_from(sorted(HASHED_FIELDS)))
def test_any_sha256_hex_passes_through(digest: str, field: str) -> None:
    assert hash_field(field, digest, "us") == digest.lower()


@PROFILE
@given(value=st.text(max_size=40), field=st.sampled_from(sorted(RAW_FIELDS)))
def test_raw_field_normalizers_never_raise_and_are_idempotent(value: str, field: str) -> None:
    normalize = RAW_FIELDS[field].normalize
    assert normalize is not None
    once = normalize(value, None)
    if once is not None:
        assert normalize(once, None) == once


@PROFILE
@given(value=st.one_of(st.text(max_size=20), st.integers(), st.floats(), st.booleans(), st.none()))
def test_money_and_time_parsers_never_raise_unexpectedly(value: Any) -> None:
    amount = parse_amount(value)
    assert amount is None or amount >= 0
    if isinstance(value, str):
        currency = normalize_currency(value)
        assert currency is None or normalize_currency(currency) == currency
    try:
        seconds, _ = parse_occurred_at(value)
    except ValueError:
        return
    assert isinstance(seconds, int) and seconds > 0


@PROFILE
@given(national=st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True))
def test_nanp_fast_path_matches_the_library(national: str) -> None:
    from capi_writeback.normalize.phone import _parse

    assert normalize_phone(national, "us") == _parse(national, "US", False)


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
row_keys = st.sampled_from(sorted(ROW_KEYS | set(SYNONYMS)))
good_values: dict[str, Any] = {
    "conversion_id": st.text(min_size=1, max_size=8),
    "occurred_at": st.integers(NOW - 9 * 86400, NOW + 120),
    "outcome_type": st.sampled_from(["payment_received", "lead_created", "search", "nope"]),
    "email": pii_text, "phone": pii_text, "value": st.one_of(st.integers(-5, 500), st.text(max_size=6)),
    "currency": st.sampled_from(["usd", "EUR", "xx"]),
}
rows = st.fixed_dictionaries({}, optional=good_values).flatmap(
    lambda base: st.dictionaries(row_keys, json_values, max_size=6).map(lambda extra: {**extra, **base}))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(st.one_of(rows, json_values), max_size=6), country=COUNTRIES)
def test_builder_accounts_for_every_row_and_emits_only_hashed_pii(
    batch: list[Any], country: str | None
) -> None:
    result = build_events(batch, ProfileSettings(country=country, currency="USD"), NOW)
    indices = sorted([e.index for e in result.events] + [s.index for s in result.skipped])
    assert indices == list(range(len(batch)))
    json.dumps(result.payload, allow_nan=False)  # serializable, no NaN
    for event in result.payload:
        for key, value in event["user_data"].items():
            if key not in RAW_FIELDS:
                assert all(HEX64.fullmatch(v[:64]) for v in value), key
    for raw in batch:
        if isinstance(raw, dict):
            prepare_for_storage(raw, ProfileSettings(country=country), NOW)  # never raises


def test_hash_of_normalized_value_is_plain_sha256() -> None:
    assert hash_field("email", "A@Example.com", None) == sha256_hex("a@example.com")


pii_rows = st.fixed_dictionaries(
    {"conversion_id": st.text(min_size=1, max_size=8).filter(str.strip),
     "outcome_type": st.sampled_from(["payment_received", "lead_created"]),
     "occurred_at": st.one_of(st.integers(NOW - 6 * 86400, NOW), st.integers(NOW - 6 * 86400, NOW).map(
         lambda s: s * 1000))},
    optional={field: st.one_of(pii_text, st.lists(pii_text, max_size=3)) for field in HASHED_FIELDS}
    | {"client_ip_address": st.sampled_from(["203.0.113.7", "2001:db8::1", "bad ip"]),
       "client_user_agent": st.text(max_size=10), "fbclid": st.sampled_from(["IwAR2xYzAbCdEf", "x y"]),
       "value": st.sampled_from(["12.50", 7, "n/a"]), "currency": st.sampled_from(["usd", "EUR"])},
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(row=pii_rows, country=COUNTRIES)
def test_building_from_the_stored_row_gives_the_same_event(row: dict[str, Any], country: str | None) -> None:
    profile = ProfileSettings(country=country, currency="USD")
    stored = prepare_for_storage(row, profile, NOW)
    assert isinstance(stored, dict)
    stored = json.loads(json.dumps(stored))
    from_raw = build_events([row], profile, NOW)
    from_stored = build_events([stored], profile, NOW)
    assert from_stored.payload == from_raw.payload
    assert [(s.reason, s.detail) for s in from_stored.skipped] == \
        [(s.reason, s.detail) for s in from_raw.skipped]
    text = json.dumps(stored, ensure_ascii=False)
    for field in HASHED_FIELDS:
        for value in stored.get(field, []):
            assert HEX64.fullmatch(value[:64]), field
    assert all(isinstance(stored.get(f, []), list) for f in HASHED_FIELDS), text
