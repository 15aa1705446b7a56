"""Reading conversion rows (SPEC §4, §7) from JSON Lines, one JSON array, or CSV, one row at a time.

Rows stream: JSON Lines are read line by line and CSV record by record, so reading holds one row at a
time whatever the size of the input (one JSON array is the exception: it is parsed whole). A line
that cannot be read becomes one `InvalidRow` in its place, so the numbering of the rows after it
stays aligned with the input and the run goes on (SPEC §7: a bad row never stops the run). Only a
CSV header that names no known column stops reading (`HeaderNotUnderstood`): every row after it
would be skipped for a reason that hides the real problem.

Sources: text or bytes, whole (`str`, `bytes`) or as lines (a text or binary stream, any iterable
of lines). Bytes are decoded as UTF-8 one line at a time, so a line that is not UTF-8 costs that
row only.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain
from typing import Any, NamedTuple

from capi_writeback.rows import canonical_key

Row = dict[str, Any]
Source = str | bytes | Iterable[str] | Iterable[bytes]  # text, or its lines (a stream, open or binary)

CSV_DELIMITERS = ",;\t|"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}
_BOM = "\ufeff"
_NOT_UTF8 = "not UTF-8 text"
_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean",
               type(None): "null"}


class InvalidRow(NamedTuple):
    """An input row that could not be read as an object (bad JSON line, not an object, bad CSV record)."""

    detail: str


class HeaderNotUnderstood(ValueError):
    """The first CSV line names no known column (no header, or a delimiter that was not recognized)."""


def read_rows(
    source: Source, fmt: str = "jsonl", *, column_mapping: Mapping[str, str] | None = None
) -> Iterator[Row | InvalidRow]:
    """Rows from JSON Lines (or one JSON array) or CSV, in input order; blank lines are not rows.

    JSON Lines are split on `\\n` only (a U+2028 inside a string is part of the string). CSV's
    delimiter (comma, semicolon, tab or vertical bar) is detected from the header line; the header
    must name at least one known row field, directly, as a synonym or through `column_mapping`,
    else `HeaderNotUnderstood` is raised before the first row."""
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"unknown row format {fmt!r}: use 'jsonl' or 'csv'")
    if fmt == "csv":
        return _csv_rows(_TextLines(_stream(source, newline="")), column_mapping or {})
    return _jsonl_rows(_stream(source, newline="\n"), source if isinstance(source, str) else None)


def _stream(source: Source, newline: str) -> Iterable[str] | Iterable[bytes]:
    if isinstance(source, str):
        return io.StringIO(source, newline=newline)
    return io.BytesIO(source) if isinstance(source, bytes) else source


def _jsonl_rows(lines: Iterable[str | bytes], whole: str | None) -> Iterator[Row | InvalidRow]:
    """`whole` is the source text when it is already in memory (for the one-JSON-array form)."""
    lines = iter(lines)
    for line in lines:  # up to the first row: a BOM, or a JSON array instead of lines
        text = _decoded(line)
        if text is None:
            yield InvalidRow(_NOT_UTF8)
            break
        text = text.strip().lstrip(_BOM)
        if not text:
            continue
        if text.startswith("["):
            rest = whole.lstrip(_BOM) if whole is not None else _rest_of(text, lines)
            yield from _json_array(rest) if rest is not None else [InvalidRow(_NOT_UTF8)]
            return
        yield _json_row(text)
        break
    loads = json.loads
    for line in lines:  # the hot loop: one row per line
        if type(line) is bytes:
            try:
                line = line.decode()
            except UnicodeDecodeError:
                yield InvalidRow(_NOT_UTF8)
                continue
        if not line or line.isspace():
            continue
        try:
            row = loads(line)  # surrounding whitespace (and a \r before the \n) is fine for json
        except (ValueError, RecursionError) as exc:
            yield InvalidRow(_json_problem(exc))
            continue
        yield row if type(row) is dict else InvalidRow(f"a row must be a JSON object, not {_json_kind(row)}")


def _json_row(text: str) -> Row | InvalidRow:
    try:
        row = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return InvalidRow(_json_problem(exc))
    return row if type(row) is dict else InvalidRow(f"a row must be a JSON object, not {_json_kind(row)}")


def _json_array(text: str) -> Iterator[Row | InvalidRow]:
    try:
        rows = json.loads(text)
    except (ValueError, RecursionError) as exc:
        yield InvalidRow(_json_problem(exc))
        return
    for row in rows:
        yield row if type(row) is dict else InvalidRow(f"a row must be a JSON object, not {_json_kind(row)}")


def _json_problem(exc: ValueError | RecursionError) -> str:
    """The detail of a line json cannot read: what is wrong, never the offending value."""
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {exc.msg} at column {exc.pos + 1}"
    if isinstance(exc, RecursionError):
        return "not readable: the JSON is nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return _NOT_UTF8
    if "digits" in str(exc):  # int() refuses numbers over sys.get_int_max_str_digits() digits
        return "not readable: a number has too many digits"
    return "not valid JSON"


def _json_kind(value: Any) -> str:
    return _JSON_KINDS.get(type(value), type(value).__name__)


def _decoded(line: str | bytes) -> str | None:
    if isinstance(line, str):
        return line
    try:
        return line.decode()
    except UnicodeDecodeError:
        return None


def _rest_of(first: str, lines: Iterator[str | bytes]) -> str | None:
    """The first line and all the others as one text (None when they are not UTF-8)."""
    rest = list(lines)
    if rest and isinstance(rest[0], bytes):
        return _decoded(first.encode() + b"\n" + b"".join(line for line in rest if isinstance(line, bytes)))
    return first + "\n" + "".join(line for line in rest if isinstance(line, str))


class _TextLines:
    """The lines of a text or binary stream as text. Binary lines are decoded one at a time; a line
    that is not UTF-8 sets `bad`, so the CSV record that consumed it becomes one InvalidRow."""

    def __init__(self, stream: Iterable[str] | Iterable[bytes]) -> None:
        self._lines: Iterator[str | bytes] = iter(stream)
        self.bad = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        if isinstance(line, str):
            return line
        try:
            return line.decode()
        except UnicodeDecodeError:
            self.bad = True
            return line.decode(errors="replace")


def _csv_rows(lines: _TextLines, column_mapping: Mapping[str, str]) -> Iterator[Row | InvalidRow]:
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        return
    first = first.lstrip(_BOM)
    delimiter = _delimiter(first)
    reader = csv.reader(chain([first], lines), delimiter=delimiter)
    header = [cell.lstrip(_BOM).strip() for cell in next(reader, [])]
    lines.bad = False
    if not any(name in column_mapping or canonical_key(name) is not None for name in header):
        raise HeaderNotUnderstood(
            f"the CSV header was not understood: none of its {len(header)} column(s), read with the "
            f"{_DELIMITER_NAMES[delimiter]} as delimiter, is a known field. The first line must name the "
            "columns (conversion_id, occurred_at, outcome_type, email, ...; separated by commas, "
            "semicolons, tabs or vertical bars), or map your names with the profile's column_mapping.")
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over csv.field_size_limit(): this record only
            lines.bad = False
            yield InvalidRow(_csv_problem(exc))
            continue
        if lines.bad:
            lines.bad = False
            yield InvalidRow(_NOT_UTF8)
            continue
        if not any(cell.strip() for cell in cells):
            continue
        yield {name: cell for name, cell in zip(header, cells, strict=False) if name}


def _delimiter(header_line: str) -> str:
    """The header's delimiter among CSV_DELIMITERS (csv.Sniffer); a comma when it cannot tell."""
    try:
        return csv.Sniffer().sniff(header_line, delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _csv_problem(exc: csv.Error) -> str:
    if "field limit" in str(exc):
        return f"not readable: a field is longer than {csv.field_size_limit():,} characters"
    return f"not valid CSV: {exc}"
