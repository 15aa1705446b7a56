"""Reading rows (issue 9): JSON Lines split on `\\n` only, CSV delimiters, and hostile lines that must
cost one row each (SPEC §7: a bad row never stops the run)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from capi_writeback.reading import HeaderNotUnderstood, InvalidRow, read_rows

DATA = Path(__file__).resolve().parent.parent / "data"
GOOD = {"conversion_id": "c-1", "email": "a@example.com"}
GOOD_LINE = json.dumps(GOOD)


def test_jsonl_rows_keep_their_position_and_bad_lines_become_invalid_rows() -> None:
    text = '{"a": 1}\n\n  \nnot json\n[1, 2]\n{"b": 2}\n'
    rows = list(read_rows(text, "jsonl"))
    assert rows[0] == {"a": 1}
    assert isinstance(rows[1], InvalidRow) and "not valid JSON" in rows[1].detail
    assert isinstance(rows[2], InvalidRow) and "must be a JSON object" in rows[2].detail
    assert rows[3] == {"b": 2}
    assert len(rows) == 4


def test_jsonl_from_a_stream_and_a_json_array() -> None:
    assert list(read_rows(io.StringIO('{"a": 1}\n{"a": 2}\n'))) == [{"a": 1}, {"a": 2}]
    assert list(read_rows('\ufeff[{"a": 1},\n {"a": 2}]')) == [{"a": 1}, {"a": 2}]
    assert list(read_rows(io.StringIO('[{"a": 1},\n{"a": 2}]'))) == [{"a": 1}, {"a": 2}]


def test_csv_rows_use_the_header_and_skip_blank_lines() -> None:
    text = "\ufeffConversion ID,Email Address,Notes\nc-1,a@example.com,x\n\nc-2,,\n"
    assert list(read_rows(text, "csv")) == [
        {"Conversion ID": "c-1", "Email Address": "a@example.com", "Notes": "x"},
        {"Conversion ID": "c-2", "Email Address": "", "Notes": ""},
    ]


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown row format"):
        list(read_rows("", "xml"))


def test_sample_files_are_readable() -> None:
    jsonl = list(read_rows((DATA / "conversions.jsonl").read_text("utf-8")))
    csv_rows = list(read_rows((DATA / "conversions.csv").read_text("utf-8"), "csv"))
    assert len(jsonl) == 13 and sum(isinstance(r, InvalidRow) for r in jsonl) == 1
    assert len(csv_rows) == 5 and all(isinstance(r, dict) for r in csv_rows)


def test_jsonl_splits_on_newline_only_not_on_unicode_line_separators() -> None:
    row = {"conversion_id": "c-1", "first_name": "Ann\u2028Marie", "city": "Para\u2029graph"}
    text = json.dumps(row, ensure_ascii=False) + "\n" + GOOD_LINE + "\n"
    assert "\u2028" in text
    assert list(read_rows(text)) == [row, GOOD]
    assert list(read_rows(io.StringIO(text))) == [row, GOOD]
    assert list(read_rows(io.BytesIO(text.encode()))) == [row, GOOD]


def test_jsonl_accepts_crlf_line_ends() -> None:
    text = GOOD_LINE + "\r\n" + GOOD_LINE + "\r\n"
    assert list(read_rows(text)) == [GOOD, GOOD]
    assert list(read_rows(io.BytesIO(text.encode()))) == [GOOD, GOOD]


@pytest.mark.parametrize(("hostile", "words"), [
    ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ('{"conversion_id": "c", "occurred_at": ' + "9" * 5001 + "}", "too many digits"),
    ("[" * 100_000, "nested too deeply"),
])
def test_one_hostile_json_line_is_one_invalid_row(hostile: str, words: str) -> None:
    for make in (lambda t: t, io.StringIO, lambda t: io.BytesIO(t.encode())):
        rows = list(read_rows(make(GOOD_LINE + "\n" + hostile + "\n" + GOOD_LINE + "\n")))
        assert rows[0] == GOOD and rows[2] == GOOD and len(rows) == 3
        assert isinstance(rows[1], InvalidRow) and words in rows[1].detail, rows[1]


def test_a_line_that_is_not_utf8_is_one_invalid_row() -> None:
    data = GOOD_LINE.encode() + b"\n" + b'{"conversion_id": "\xff\xfe"}\n' + GOOD_LINE.encode() + b"\n"
    rows = list(read_rows(io.BytesIO(data)))
    assert rows[0] == GOOD and rows[2] == GOOD and len(rows) == 3
    assert isinstance(rows[1], InvalidRow) and "UTF-8" in rows[1].detail


def test_a_bom_before_the_first_line_is_not_part_of_it() -> None:
    assert list(read_rows(io.BytesIO(b"\xef\xbb\xbf" + GOOD_LINE.encode()))) == [GOOD]
    assert list(read_rows("\ufeff" + GOOD_LINE)) == [GOOD]


def csv_text(delimiter: str) -> str:
    return delimiter.join(["conversion_id", "Email Address", "outcome"]) + "\n" + \
        delimiter.join(["c-1", "a@example.com", "lead_created"]) + "\n" + \
        delimiter.join(["c-2", "b@example.com", "order_placed"]) + "\n"


@pytest.mark.parametrize("delimiter", [",", ";", "|", "\t"])
def test_csv_delimiter_is_detected_from_the_header(delimiter: str) -> None:
    expected = [{"conversion_id": "c-1", "Email Address": "a@example.com", "outcome": "lead_created"},
                {"conversion_id": "c-2", "Email Address": "b@example.com", "outcome": "order_placed"}]
    assert list(read_rows(csv_text(delimiter), "csv")) == expected
    assert list(read_rows(io.BytesIO(csv_text(delimiter).encode()), "csv")) == expected


def test_a_semicolon_inside_a_comma_separated_cell_stays_in_the_cell() -> None:
    text = "conversion_id,email\nc-1,a@example.com; b@example.com\n"
    assert list(read_rows(text, "csv")) == [{"conversion_id": "c-1", "email": "a@example.com; b@example.com"}]


def test_a_csv_header_that_is_not_understood_is_said_so() -> None:
    text = "c-1:a@example.com:lead_created\nc-2:b@example.com:order_placed\n"
    with pytest.raises(HeaderNotUnderstood, match="header") as caught:
        list(read_rows(text, "csv"))
    assert "conversion_id" in str(caught.value)


def test_a_header_understood_through_the_column_mapping() -> None:
    text = "Bestellnr;Kunde\nb-1;a@example.com\n"
    mapping = {"Bestellnr": "conversion_id", "Kunde": "email"}
    rows = list(read_rows(text, "csv", column_mapping=mapping))
    assert rows == [{"Bestellnr": "b-1", "Kunde": "a@example.com"}]


def test_a_csv_field_over_the_field_limit_is_one_invalid_row() -> None:
    text = "conversion_id,email\nc-1,a@example.com\nc-2," + "x" * 200_000 + "\nc-3,c@example.com\n"
    for source in (text, io.StringIO(text), io.BytesIO(text.encode())):
        rows: list[Any] = list(read_rows(source, "csv"))
        assert rows[0] == {"conversion_id": "c-1", "email": "a@example.com"}
        assert isinstance(rows[1], InvalidRow) and "131,072" in rows[1].detail, rows[1]
        assert rows[2] == {"conversion_id": "c-3", "email": "c@example.com"}
        assert len(rows) == 3


def test_a_csv_record_that_is_not_utf8_is_one_invalid_row() -> None:
    data = b"conversion_id,email\nc-1,a@example.com\nc-2,\xff\xfe@example.com\nc-3,c@example.com\n"
    rows = list(read_rows(io.BytesIO(data), "csv"))
    assert rows[0] == {"conversion_id": "c-1", "email": "a@example.com"}
    assert isinstance(rows[1], InvalidRow) and "UTF-8" in rows[1].detail
    assert rows[2] == {"conversion_id": "c-3", "email": "c@example.com"}


def test_quoted_csv_cells_may_span_lines() -> None:
    text = 'conversion_id,notes\r\nc-1,"two\r\nlines"\r\nc-2,x\r\n'
    expected = [{"conversion_id": "c-1", "notes": "two\r\nlines"}, {"conversion_id": "c-2", "notes": "x"}]
    assert list(read_rows(text, "csv")) == expected
    assert list(read_rows(io.BytesIO(text.encode()), "csv")) == expected
