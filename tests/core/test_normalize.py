"""Table-driven normalization and hashing tests, including every CAPI-REFERENCE §3.2 test vector."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import phonenumbers
import pytest
from capi_writeback.hashing import already_hashed, is_hashed, sha256_hex
from capi_writeback.normalize.currency import normalize_currency, parse_amount
from capi_writeback.normalize.dates import normalize_date_of_birth
from capi_writeback.normalize.email import normalize_email
from capi_writeback.normalize.gender import normalize_gender
from capi_writeback.normalize.identifiers import (
    fbc_from_fbclid,
    normalize_external_id,
    normalize_fb_cookie,
    normalize_ip,
)
from capi_writeback.normalize.location import normalize_country, normalize_state, normalize_zip
from capi_writeback.normalize.names import normalize_city, normalize_name
from capi_writeback.normalize.phone import normalize_phone
from capi_writeback.user_data import hash_field

# (field, raw value, country, expected hash) — CAPI-REFERENCE §3.2, from Meta's docs and verified there.
META_VECTORS = [
    ("email", "john_smith@gmail.com", None,
     "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"),
    ("phone", "(650)555-1212", "us", "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"),
    ("first_name", "mary", None, "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec"),
    ("first_name", "정", None, "8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14"),
    ("first_name", "valéry", None, "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"),
    ("date_of_birth", "2/16/1997", None, "01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c"),
    ("country", "United States", None, "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"),
    ("gender", "m", None, "62c66a7a5dd70c3146618063c344e531e6d4b59e379808443ce962b3abd63c5a"),
    ("gender", "f", None, "252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111"),
    # Messier spellings of the same values must land on the same hashes.
    ("email", "  John_Smith@GMAIL.com ", None,
     "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"),
    ("phone", "+1 650 555 1212", None, "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"),
    ("first_name", " MARY. ", None, "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec"),
    ("first_name", "VALÉRY", None, "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"),
    ("first_name", "vale\u0301ry", None, "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"),
    ("date_of_birth", "1997-02-16", None, "01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c"),
    ("country", "usa", None, "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"),
    ("gender", "Male", None, "62c66a7a5dd70c3146618063c344e531e6d4b59e379808443ce962b3abd63c5a"),
    ("gender", "FEMALE", None, "252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111"),
]


@pytest.mark.parametrize(("field", "raw", "country", "expected"), META_VECTORS)
def test_meta_test_vectors(field: str, raw: str, country: str | None, expected: str) -> None:
    assert hash_field(field, raw, country) == expected


def test_vectors_are_plain_sha256_of_the_normalized_text() -> None:
    assert sha256_hex("john_smith@gmail.com") == hashlib.sha256(b"john_smith@gmail.com").hexdigest()
    assert sha256_hex("정") == hashlib.sha256("정".encode()).hexdigest()


@pytest.mark.parametrize(("raw", "expected"), [
    ("john@example.com", "john@example.com"),
    ("  John@Example.COM\t", "john@example.com"),
    ("mailto:a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk"),
    ("not-an-email", None),
    ("a@b", None),
    ("a b@example.com", None),
    ("@example.com", None),
    ("a@@example.com", None),
    ("a@example.", None),
    ("", None),
    # Display-name forms are unwrapped; trailing junk is not part of an address (never hash it).
    ("John Doe <John@Example.com>", "john@example.com"), ("<john@example.com>", "john@example.com"),
    ("john@example.com,", None), ("john@example.com>", None), ("<john@example.com", None),
    ("jöhn@exämple.de", "jöhn@exämple.de"), ("a@b.xn--p1ai", "a@b.xn--p1ai"),
])
def test_email(raw: str, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(("raw", "country", "expected"), [
    ("(650)555-1212", "us", "16505551212"),
    ("650.555.1212", "us", "16505551212"),
    ("1-650-555-1212", "us", "16505551212"),
    ("+1 (650) 555-1212", "de", "16505551212"),
    ("tel: 650 555 1212 (mobile)", "us", "16505551212"),
    ("07911 123456", "gb", "447911123456"),
    ("+44 (0)7911 123456", None, "447911123456"),
    ("0044 7911 123456", "fr", "447911123456"),
    ("00447911123456", None, "447911123456"),
    ("030 123456", "de", "4930123456"),
    ("06 12 34 56 78", "fr", "33612345678"),
    ("+39 06 1234 5678", None, "390612345678"),  # Italian leading zero is part of the number
    ("(416) 555-0123", "ca", "14165550123"),
    ("6505551212", None, None),  # no country code and no country to infer it from
    ("12", "us", None),
    ("no phone", "us", None),
    ("", "us", None),
    ("+999 1234 5678", None, None),  # no such country calling code
    # An extension is not part of the number Meta matches on: the number is kept without it.
    ("650-555-1212 ext. 123", "us", "16505551212"), ("+1 650 555 1212 x123", None, "16505551212"),
    ("(650) 555-1212 #204", "us", "16505551212"), ("+44 20 7946 0958 ext 12", None, "442079460958"),
    ("020 7946 0958 Extension 7", "gb", "442079460958"), ("555-1212 x 12", "us", None),
])
def test_phone(raw: str, country: str | None, expected: str | None) -> None:
    assert normalize_phone(raw, country) == expected


@pytest.mark.parametrize("national", ["2125550199", "4155550100", "6505551212", "9175550123"])
def test_phone_fast_path_agrees_with_phonenumbers(national: str) -> None:
    parsed = phonenumbers.parse(national, "US")
    reference = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)[1:]
    assert normalize_phone(national, "us") == reference
    assert normalize_phone("1" + national, "us") == reference


@pytest.mark.parametrize(("raw", "expected"), [
    ("Mary", "mary"), ("  Mary-Ann ", "maryann"), ("O'Brien", "obrien"), ("VALÉRY", "valéry"),
    ("정", "정"), ("Jean Luc", "jeanluc"), ("...", None), ("", None), ("Zoë!", "zoë"),
    # Vowel signs and other combining marks are part of the letters (UTF-8 names are kept as written).
    ("राम", "राम"), ("प्रिया-शर्मा", "प्रियाशर्मा"), ("สมศักดิ์", "สมศักดิ์"),
])
def test_names(raw: str, expected: str | None) -> None:
    assert normalize_name(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("New York", "newyork"), ("São Paulo", "sãopaulo"), ("St. Louis", "stlouis"),
    ("Winston-Salem", "winstonsalem"), ("District 9", "district"), ("123", None),
    ("नई दिल्ली", "नईदिल्ली"),
])
def test_city(raw: str, expected: str | None) -> None:
    assert normalize_city(raw) == expected


@pytest.mark.parametrize(("raw", "country", "expected"), [
    ("California", None, "ca"), ("california", "us", "ca"), ("CA", "us", "ca"), ("New York", "us", "ny"),
    ("District of Columbia", "us", "dc"), ("Texas ", None, "tx"), ("Île-de-France", "fr", "îledefrance"),
    ("Bavaria", "de", "bavaria"), ("Georgia", "ge", "georgia"), ("Georgia", "us", "ga"), ("--", "us", None),
    ("महाराष्ट्र", "in", "महाराष्ट्र"),
])
def test_state(raw: str, country: str | None, expected: str | None) -> None:
    assert normalize_state(raw, country) == expected


@pytest.mark.parametrize(("raw", "country", "expected"), [
    ("94107", "us", "94107"), ("94107-1234", "us", "94107"), ("94107-1234", None, "94107"),
    ("941071234", "us", "94107"), ("2134", "us", "02134"), ("12", "us", None),
    ("SW1A 1AA", "gb", "sw1a1aa"), ("M1 1AE", None, "m11ae"), ("75018", "fr", "75018"),
    ("1987", "au", "1987"), ("100-0001", "jp", "1000001"), (" - ", None, None),
])
def test_zip(raw: str, country: str | None, expected: str | None) -> None:
    assert normalize_zip(raw, country) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("US", "us"), ("us", "us"), ("United States", "us"), ("USA", "us"), ("U.S.A.", "us"),
    ("United Kingdom", "gb"), ("UK", "gb"), ("England", "gb"), ("Deutschland", "de"),
    ("Germany", "de"), ("France", "fr"), ("Côte d'Ivoire", "ci"), ("Ivory Coast", "ci"),
    ("Narnia", None), ("XX", None), ("", None), ("भारत", "in"),
])
def test_country(raw: str, expected: str | None) -> None:
    assert normalize_country(raw) == expected


@pytest.mark.parametrize(("raw", "country", "expected"), [
    ("2/16/1997", None, "19970216"), ("02/16/1997", "us", "19970216"), ("16/02/1997", None, "19970216"),
    ("16/02/1997", "de", "19970216"), ("03/04/1997", "de", "19970403"), ("03/04/1997", "us", "19970304"),
    ("16.02.1997", "de", "19970216"), ("1997-02-16", None, "19970216"), ("19970216", None, "19970216"),
    ("1997/2/16", None, "19970216"), ("16 Feb 1997", None, "19970216"),
    ("February 16, 1997", None, "19970216"),
    ("1997-02-16T00:00:00Z", None, "19970216"), ("2/16/97", None, "19970216"), ("1/1/05", None, "20050101"),
    ("02/30/1997", None, None), ("1850-01-01", None, None), ("2999-01-01", None, None),
    ("yesterday", None, None), ("13/13/2000", None, None), ("", None, None),
])
def test_date_of_birth(raw: str, country: str | None, expected: str | None) -> None:
    assert normalize_date_of_birth(raw, country) == expected


def test_a_date_of_birth_after_today_is_dropped() -> None:
    import datetime as dt

    today = dt.datetime.now(dt.UTC).date()
    assert normalize_date_of_birth((today + dt.timedelta(days=2)).isoformat()) is None
    assert normalize_date_of_birth((today - dt.timedelta(days=2)).isoformat()) \
        == (today - dt.timedelta(days=2)).strftime("%Y%m%d")


@pytest.mark.parametrize(("raw", "expected"), [
    ("m", "m"), ("M", "m"), ("Male", "m"), ("man", "m"), ("Mr.", "m"), ("f", "f"), ("Female", "f"),
    ("WOMAN", "f"), ("Mrs", "f"), ("weiblich", "f"), ("non-binary", None), ("x", None), ("", None),
])
def test_gender(raw: str, expected: str | None) -> None:
    assert normalize_gender(raw) == expected


def test_external_id_is_trimmed_not_lowercased() -> None:
    assert normalize_external_id("  CRM-77 ") == "CRM-77"
    assert hash_field("external_id", "  CRM-77 ", None) == sha256_hex("CRM-77")
    assert normalize_external_id("   ") is None


@pytest.mark.parametrize(("raw", "expected"), [
    ("203.0.113.7", "203.0.113.7"), (" 2001:db8::1 ", "2001:db8::1"),
    ("168.212.226.204.ABcDEFGh", "168.212.226.204.ABcDEFGh"),
    ("2001:0db8:85a3:0000:0000:8a2e:0370:7334.ABcDEFGh", "2001:0db8:85a3:0000:0000:8a2e:0370:7334.ABcDEFGh"),
    ("300.1.1.1", None), ("localhost", None), ("1.2.3", None), ("1.2.3.4.5", None),
])
def test_ip(raw: str, expected: str | None) -> None:
    assert normalize_ip(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("fb.1.1596403881668.1116446470", "fb.1.1596403881668.1116446470"),
    ("fb.1.1596403881668.IwAR2xYz.AQQCAQIB", "fb.1.1596403881668.IwAR2xYz.AQQCAQIB"),
    (" fb.2.1596403881.AbC ", "fb.2.1596403881.AbC"),
    ("IwAR2xYz", None), ("fb.1.abc.123", None), ("", None),
])
def test_fb_cookies(raw: str, expected: str | None) -> None:
    assert normalize_fb_cookie(raw) == expected


def test_fbc_from_fbclid_keeps_case_and_uses_event_time_in_ms() -> None:
    assert fbc_from_fbclid("IwAR2xYzAbCdEf", 1763890000) == "fb.1.1763890000000.IwAR2xYzAbCdEf"
    assert fbc_from_fbclid("bad id!", 1763890000) is None


@pytest.mark.parametrize(("raw", "expected"), [
    ("usd", "USD"), (" EUR ", "EUR"), ("gbp", "GBP"), ("US$", None), ("dollars", None), ("XYZ", None),
    # ISO 4217 also lists precious metals and bond units: not money a purchase is paid in.
    ("XAU", None), ("xag", None), ("XPT", None), ("XBA", None), ("XSU", None), ("XDR", "XDR"),
])
def test_currency(raw: str, expected: str | None) -> None:
    assert normalize_currency(raw) == expected


def test_every_currency_sent_is_one_the_emulator_accepts() -> None:
    from capi_writeback.normalize.currency import ISO_4217
    from capi_writeback_local.meta_emulator.rules import _CURRENCIES

    assert sorted(ISO_4217 - _CURRENCIES) == []


@pytest.mark.parametrize(("raw", "expected"), [
    ("142.52", 142.52), ("$1,234.50", 1234.5), ("12,5", 12.5), ("1,234", 1234), ("USD 12", 12),
    ("12.50 usd", 12.5), (100, 100), (3.5, 3.5), ("-5", None), (-1, None), ("abc", None), ("", None),
    (float("nan"), None), (True, None), ("1.2.3", None), (Decimal("12.50"), 12.5), (Decimal("7"), 7),
    (Decimal("NaN"), None), (Decimal("-1"), None),
    # European style: dots group thousands, the comma is the decimal separator.
    ("1.234,50", 1234.5), ("€ 1.234,50", 1234.5), ("1.234.567,89", 1234567.89), ("1,234,567.89", 1234567.89),
])
def test_amount(raw: object, expected: float | int | None) -> None:
    assert parse_amount(raw) == expected


@pytest.mark.parametrize("field", ["email", "phone", "first_name", "city", "zip", "external_id", "gender"])
def test_already_hashed_values_pass_through_lowercased(field: str) -> None:
    digest = sha256_hex("john_smith@gmail.com")
    assert hash_field(field, digest.upper(), "us") == digest
    assert hash_field(field, f"  {digest}  ", "us") == digest
    assert hash_field(field, digest.upper() + ".ABcDEFGh", "us") == digest + ".ABcDEFGh"
    assert hash_field(field, digest + ".AQ", None) == digest + ".AQ"


def test_hash_detection() -> None:
    digest = sha256_hex("x")
    assert already_hashed(digest) == digest
    assert already_hashed(digest[:63]) is None
    assert already_hashed(digest + "0") is None
    assert already_hashed(digest + ".toolongappendix") is None
    assert already_hashed("g" * 64) is None
    assert is_hashed(digest) and is_hashed(digest + ".ABcDEFGh")
    assert not is_hashed(digest.upper())


@pytest.mark.parametrize("field", ["email", "phone", "first_name", "last_name", "city", "state", "zip",
                                   "country", "date_of_birth", "gender"])
def test_md5_digests_are_dropped_not_hashed_into_junk(field: str) -> None:
    digest = hashlib.md5(b"john_smith@gmail.com").hexdigest()
    assert hash_field(field, digest, "us") is None
    assert hash_field(field, digest.upper(), None) is None


def test_an_md5_looking_external_id_is_an_id_like_any_other() -> None:
    digest = hashlib.md5(b"crm-42").hexdigest()
    assert hash_field("external_id", digest, None) == sha256_hex(digest)


def test_unnormalizable_value_is_never_hashed() -> None:
    assert hash_field("email", "not an email", None) is None
    assert hash_field("phone", "n/a", "us") is None
    assert hash_field("gender", "unknown", None) is None
