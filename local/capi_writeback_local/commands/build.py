"""`capi-writeback build`: conversion rows in, one JSON object per row out (SPEC §7).

Each output line is `{"row": i, "event": {...}, "match_quality": ..., "warnings": [...]}` or
`{"row": i, "skipped": {"reason": ..., "detail": ...}}`, in input order (i counts rows from 0).
Unreadable input exits 2 with one line on stderr; a bad row never stops the run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import IO, Any

from capi_writeback.events import build_events
from capi_writeback.reading import read_rows
from capi_writeback.settings import ProfileSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", default="-", metavar="FILE|-",
                        help="JSON Lines (or CSV when the name ends in .csv); '-' reads stdin")
    parser.add_argument("--format", choices=("jsonl", "csv"), default=None,
                        help="input format (default: from the file extension, else jsonl)")
    parser.add_argument("--now", type=float, default=None, metavar="UNIX",
                        help="the clock for the age rules, in unix seconds (default: now)")
    parser.add_argument("--settings", default=None, metavar="JSON_FILE",
                        help="profile settings as stored: {action_source, country, currency, "
                             "event_mapping, column_mapping}")
    parser.add_argument("--action-source", default=None,
                        help="profile default action_source (default: system_generated)")
    parser.add_argument("--country", default=None, help="profile default country for phones etc.")
    parser.add_argument("--currency", default=None, help="profile default currency")


def run(args: argparse.Namespace) -> int:
    fmt = args.format or ("csv" if str(args.input).lower().endswith(".csv") else "jsonl")
    try:
        text = _read(args.input)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"capi-writeback build: cannot read {args.input}: {_reason(exc)}", file=sys.stderr)
        return 2
    try:
        settings = _settings(args)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"capi-writeback build: cannot read settings {args.settings}: {_reason(exc)}", file=sys.stderr)
        return 2
    now = time.time() if args.now is None else args.now
    try:
        result = build_events(read_rows(text, fmt), settings, now)
    except Exception as exc:  # e.g. a CSV the csv module cannot parse at all
        print(f"capi-writeback build: cannot read {args.input}: {exc}", file=sys.stderr)
        return 2
    lines: list[tuple[int, dict[str, Any]]] = [
        (b.index, {"row": b.index, "event": b.event, "match_quality": b.match_quality,
                   "warnings": b.warnings})
        for b in result.events
    ]
    lines += [(s.index, {"row": s.index, "skipped": {"reason": str(s.reason), "detail": s.detail}})
              for s in result.skipped]
    lines.sort(key=lambda item: item[0])
    out: IO[str] = sys.stdout
    out.write("".join(json.dumps(obj, ensure_ascii=False) + "\n" for _, obj in lines))
    out.flush()
    return 0


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


def _read(name: str) -> str:
    if name == "-":
        return sys.stdin.buffer.read().decode("utf-8-sig")
    path = Path(name)
    if path.is_dir():
        raise IsADirectoryError(f"{name} is a directory")
    return path.read_bytes().decode("utf-8-sig")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg})"
    return getattr(exc, "strerror", None) or str(exc)
