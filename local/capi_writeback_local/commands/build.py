"""`capi-writeback build`: conversion rows in, one JSON object per row out (SPEC §7).

Each output line is `{"row": i, "event": {...}, "match_quality": ..., "warnings": [...]}` or
`{"row": i, "skipped": {"reason": ..., "detail": ...}}`, in input order (i counts rows from 0).
Unreadable input exits 2 with one line on stderr; a bad row never stops the run.

The build streams: rows are read as they are needed and each chunk is written as soon as it is
built, so memory stays flat whatever the size of the input (SPEC §12).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from itertools import chain
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from typing import IO, Any

from capi_writeback.built import BuiltEvent, SkippedRow
from capi_writeback.events import stream_events
from capi_writeback.reading import HeaderNotUnderstood, read_rows
from capi_writeback.rows import MS_THRESHOLD
from capi_writeback.settings import ProfileSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", default="-", metavar="FILE|-",
                        help="JSON Lines (or CSV when the name ends in .csv); '-' reads stdin")
    parser.add_argument("--format", choices=("jsonl", "csv"), default=None,
                        help="input format (default: from the file extension, else jsonl)")
    parser.add_argument("--now", type=unix_seconds, default=None, metavar="UNIX",
                        help="the clock for the age rules, in unix seconds (default: now)")
    parser.add_argument("--settings", default=None, metavar="JSON_FILE",
                        help="profile settings as stored: {action_source, country, currency, "
                             "event_mapping, column_mapping}")
    parser.add_argument("--action-source", default=None,
                        help="profile default action_source (default: system_generated)")
    parser.add_argument("--country", default=None, help="profile default country for phones etc.")
    parser.add_argument("--currency", default=None, help="profile default currency")


def unix_seconds(text: str) -> float:
    """--now: a finite, non-negative unix time in seconds (NaN would silently turn off the age rules)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    wanted = "give a unix time in seconds (a finite number >= 0)"
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time: {wanted}")
    if value >= MS_THRESHOLD:
        raise argparse.ArgumentTypeError(f"{text!r} looks like unix milliseconds: {wanted}")
    return value


CHUNK_ROWS = 100  # rows built, then written, at a time: small enough to stay in the CPU's cache


class _Unreadable(Exception):
    """The input as a whole cannot be read (as opposed to one bad row)."""


def run(args: argparse.Namespace) -> int:
    fmt = args.format or ("csv" if str(args.input).lower().endswith(".csv") else "jsonl")
    try:
        settings = _settings(args)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"capi-writeback build: cannot read settings {args.settings}: {_reason(exc)}", file=sys.stderr)
        return 2
    now = time.time() if args.now is None else args.now
    out: IO[str] = sys.stdout
    with ExitStack() as stack:
        try:
            lines = _input_lines(args.input, stack)
            rows = read_rows(lines, fmt, column_mapping=settings.column_mapping)
            for chunk in stream_events(rows, settings, now, chunk_size=CHUNK_ROWS, hash_payload=False,
                                       samples=0):
                out.write("".join([_line(row) for row in chunk.rows]))
        except (OSError, UnicodeDecodeError, HeaderNotUnderstood, _Unreadable) as exc:
            out.flush()
            print(f"capi-writeback build: cannot read {args.input}: {_reason(exc)}", file=sys.stderr)
            return 2
    out.flush()
    return 0


def json_encoder(accelerated: bool = True) -> Callable[[Any], str]:
    """`json.dumps(value, ensure_ascii=False)` for event data, the hottest part of the output.

    Event data holds no cycles, so none are looked for. With the C accelerator (CPython's
    `json.encoder.c_make_encoder`, what json.dumps itself uses) its encoder is made once and called
    directly: JSONEncoder.encode's Python wrapper costs about a tenth of a line's encoding."""
    if not accelerated or c_make_encoder is None:
        return json.JSONEncoder(ensure_ascii=False, check_circular=False).encode

    def unserializable(value: Any) -> Any:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    encode = c_make_encoder(None, unserializable, encode_basestring, None, ": ", ", ", False, False, True)
    join = "".join
    return lambda value: join(encode(value, 0))


_encode = json_encoder()


def _line(row: BuiltEvent | SkippedRow, encode: Callable[[Any], str] = _encode) -> str:
    """The output line of one row (SPEC §7), exactly as json.dumps(obj, ensure_ascii=False) writes
    it, without building `obj` (match_quality is one of three plain words)."""
    if type(row) is BuiltEvent:
        warnings = encode(row.warnings) if row.warnings else "[]"
        return (f'{{"row": {row.index}, "event": {encode(row.event)}, '
                f'"match_quality": "{row.match_quality}", "warnings": {warnings}}}\n')
    assert isinstance(row, SkippedRow)
    return (f'{{"row": {row.index}, "skipped": {{"reason": {encode(str(row.reason))}, '
            f'"detail": {encode(row.detail)}}}}}\n')


def _input_lines(name: str, stack: ExitStack) -> Iterator[bytes] | Iterable[str]:
    """The input's lines, binary when possible (decoded row by row). An input whose first line is not
    UTF-8 is not a file of rows at all (a binary file, UTF-16 text): that is unreadable input."""
    if name == "-":
        stream: IO[bytes] | None = getattr(sys.stdin, "buffer", None)
        if stream is None:  # stdin replaced by a text stream (embedding, tests)
            return sys.stdin
    else:
        path = Path(name)
        if path.is_dir():
            raise IsADirectoryError(f"{name} is a directory")
        stream = stack.enter_context(path.open("rb"))
    first = stream.readline()
    while first and first.isspace():
        first = stream.readline()
    try:
        first.decode()
    except UnicodeDecodeError:
        raise _Unreadable("not UTF-8 text") from None
    return chain([first], stream)


def _settings(args: argparse.Namespace) -> ProfileSettings:
    """--settings first, then the single-value flags over it."""
    stored: dict[str, Any] = {}
    if args.settings:
        loaded = json.loads(Path(args.settings).read_bytes().decode("utf-8-sig"))
        if not isinstance(loaded, dict):
            raise ValueError("settings must be a JSON object")
        stored = dict(loaded)
    for key in ("action_source", "country", "currency"):
        if getattr(args, key) is not None:
            stored[key] = getattr(args, key)
    return ProfileSettings.from_dict(stored)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg})"
    return getattr(exc, "strerror", None) or str(exc)
