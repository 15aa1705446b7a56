"""Rows -> Meta server events: the one builder the preview, dry-run, confirm and CLI share.

`stream_events` builds from an iterator of rows in bounded chunks and yields them, accumulating
what the build adds up to (`BuildSummary`: counts, samples, warnings, payload hash) instead of
collecting it, so memory stays flat in the number of rows (SPEC §12). `build_events` collects a
whole stream into a `BuildResult`, for callers that want the list.

No row ever makes the build raise: every row becomes a `BuiltEvent` or a `SkippedRow` with a
reason code. The payload hash (`payload.py`) is defined over the stream, so the same input gives
the same hash on any machine and with any chunk size (it pins dry-run/confirm to what was previewed).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from capi_writeback.built import BuiltEvent, Chunk, SkippedRow
from capi_writeback.digests import DigestSet, digest64
from capi_writeback.fields import SOURCE_BOUND
from capi_writeback.gc_policy import long_build
from capi_writeback.hashing import sha256_hex
from capi_writeback.limits import MAX_BATCH_EVENTS, MAX_COUNT, MAX_JSON_INTEGER, MAX_PROCESSING_OPTION_CODE
from capi_writeback.mapping import event_table
from capi_writeback.normalize import fbc_from_fbclid, normalize_currency
from capi_writeback.normalize.currency import AMOUNT_RANGE, parse_amount
from capi_writeback.payload import batches
from capi_writeback.quality import match_quality
from capi_writeback.reading import InvalidRow
from capi_writeback.rows import Rejection, canonical_row, row_identity, unknown_keys
from capi_writeback.settings import ProfileSettings
from capi_writeback.summary import BuildSummary
from capi_writeback.user_data import hashed_user_data, row_country
from capi_writeback.validate import (
    Problem,
    SkipReason,
    action_source_problem,
    app_data_problem,
    currency_problem,
    event_time_problem,
    identifiers_problem,
    messaging_problem,
    purchase_problem,
    tracking_flag,
    website_problem,
)

CHUNK_ROWS = 1000
_TEXT_CUSTOM_FIELDS = ("content_type", "content_name", "content_category", "order_id", "search_string",
                       "status")
# app_data's optional keys (CAPI-REFERENCE §2.3), by the kind of value each holds.
_APP_DATA_TEXT = ("campaign_ids", "install_referrer", "installer_package", "vendor_id",
                  "windows_attribution_id", "receipt_data")
_APP_DATA_BOOLEANS = ("consider_views", "include_dwell_data", "include_video_data")
_SAFE_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")  # a key that may be named in a warning (no user data)


@dataclass(frozen=True)
class BuildResult:
    """A whole build, collected (`build_events`); `summary` is its accumulated stream summary."""

    events: list[BuiltEvent]
    skipped: list[SkippedRow]
    warnings: list[str]
    summary: BuildSummary = field(repr=False, compare=False)

    @cached_property
    def payload(self) -> list[dict[str, Any]]:
        """The Meta server events, in input order, exactly as they are sent."""
        return [built.event for built in self.events]

    @property
    def payload_hash(self) -> str:
        return self.summary.payload_hash

    @property
    def events_by_name(self) -> dict[str, int]:
        return self.summary.events_by_name

    @property
    def match_quality(self) -> dict[str, int]:
        return self.summary.match_quality

    def batches(self, size: int = MAX_BATCH_EVENTS) -> list[list[dict[str, Any]]]:
        return batches(self.payload, size)


def event_id_for(conversion_id: str) -> str:
    """The event_id of a row without one: stable per conversion, so resends dedupe at Meta."""
    return "cw-" + sha256_hex(conversion_id)[:32]


class _Context:
    """Per-build values derived once from the profile settings."""

    def __init__(self, settings: ProfileSettings, now: float) -> None:
        self.settings = settings
        self.now = now
        self.table = event_table(settings.event_mapping)
        self.column_mapping = settings.column_mapping
        self.action_source = (settings.action_source or "system_generated").strip().lower()
        self.currency_given = settings.currency
        self.currency = normalize_currency(settings.currency) if settings.currency else None


def build_events(
    rows: Iterable[Mapping[str, Any] | InvalidRow], settings: ProfileSettings, now: float
) -> BuildResult:
    """Build one Meta server event per usable row and collect them; skip the others with a reason.

    `now` (unix seconds) is the clock the age/future rules use; pass it explicitly so a preview and
    its confirm agree. Duplicate conversion_ids after the first are skipped. Holds every event:
    prefer `stream_events` where the rows may be many."""
    stream = stream_events(rows, settings, now)
    events: list[BuiltEvent] = []
    skipped: list[SkippedRow] = []
    with long_build():  # the collected events outlive every chunk: keep the collector off them
        for chunk in stream:
            events += chunk.events
            if len(chunk.events) != len(chunk.rows):
                skipped += chunk.skipped
    return BuildResult(events, skipped, stream.summary.warnings, stream.summary)


def stream_events(
    rows: Iterable[Mapping[str, Any] | InvalidRow], settings: ProfileSettings, now: float, *,
    chunk_size: int = CHUNK_ROWS, hash_payload: bool = True, samples: int = 3,
) -> EventStream:
    """The build of `rows` as a stream of chunks of at most `chunk_size` input rows.

    Iterate it once for the chunks (each input row is in exactly one, in order); `.summary` is
    complete when the iteration ends. Rows are read from `rows` only as the chunks are asked for."""
    return EventStream(rows, _Context(settings, now), chunk_size,
                       BuildSummary(samples=samples, hash_payload=hash_payload))


class EventStream:
    """An iterable of `Chunk`s whose `summary` fills in as they are consumed (see `stream_events`).

    Duplicate conversion_ids are found across the whole stream with 8 to 16 bytes of state per event
    (`DigestSet` of 64-bit digests: a false "seen" needs a collision, about 1 in 10^7 for a million
    ids, and then happens the same way on every machine). The garbage-collector policy for long
    builds (`gc_policy`) holds while it runs."""

    def __init__(self, rows: Iterable[Mapping[str, Any] | InvalidRow], ctx: _Context, chunk_size: int,
                 summary: BuildSummary) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self._rows = rows
        self._ctx = ctx
        self._chunk_size = chunk_size
        self._started = False
        self.summary = summary

    def __iter__(self) -> Iterator[Chunk]:
        if self._started:
            raise RuntimeError("an event stream can be iterated only once")
        self._started = True
        return self._chunks()

    def _chunks(self) -> Iterator[Chunk]:
        ctx, summary, size = self._ctx, self.summary, self._chunk_size
        seen = DigestSet()
        items: list[BuiltEvent | SkippedRow] = []
        events: list[BuiltEvent] = []
        last_keys: tuple[Any, ...] = ()
        last_unknown: list[str] = []
        with long_build():
            for index, raw in enumerate(self._rows):
                if len(items) == size:
                    chunk = Chunk(items, events)
                    summary.add(chunk)
                    yield chunk
                    items, events = [], []
                if type(raw) is not dict and not isinstance(raw, Mapping):
                    detail = raw.detail if isinstance(raw, InvalidRow) else "a row must be an object"
                    items.append(SkippedRow(index, None, SkipReason.INVALID_ROW, detail))
                    continue
                keys = tuple(raw)
                if keys != last_keys:  # rows of one export share their keys: look once per shape
                    last_keys, last_unknown = keys, unknown_keys(raw, ctx.column_mapping)
                for key in last_unknown:
                    summary.note_unknown_column(str(key), index)
                try:
                    outcome = _build_one(raw, ctx)
                except Exception as exc:  # a bug must cost one row, not the whole build
                    items.append(SkippedRow(index, _conversion_id(raw), SkipReason.INVALID_ROW,
                                            f"could not process this row ({type(exc).__name__})"))
                    continue
                if isinstance(outcome, SkippedRow):
                    outcome.index = index
                    items.append(outcome)
                    continue
                event, warnings, conversion_id = outcome
                if not seen.add(digest64(conversion_id)):
                    items.append(SkippedRow(index, conversion_id, SkipReason.DUPLICATE_CONVERSION_ID,
                                            "an earlier row has the same conversion_id"))
                    continue
                built = BuiltEvent(index, conversion_id, event, match_quality(event["user_data"]), warnings)
                items.append(built)
                events.append(built)
            if items:
                chunk = Chunk(items, events)
                summary.add(chunk)
                yield chunk


def _conversion_id(raw: Mapping[str, Any]) -> str | None:
    value = raw.get("conversion_id")
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


def _skip(row: Mapping[str, Any], problem: Problem) -> SkippedRow:
    return SkippedRow(-1, _conversion_id(row), problem.reason, problem.detail)


def _build_one(raw: Mapping[str, Any], ctx: _Context) -> SkippedRow | tuple[dict[str, Any], list[str], str]:
    row = canonical_row(raw, ctx.column_mapping)
    identity = row_identity(row, ctx.table)
    if isinstance(identity, Rejection):
        return _skip(row or raw, Problem(*identity))
    conversion_id, event_time, time_warning, event_name, own_source = identity
    warnings: list[str] = [str(w) for w in row["_warnings"]] if isinstance(row.get("_warnings"), list) else []
    if time_warning:
        warnings.append(time_warning)
    action_source = own_source or ctx.action_source
    problem = action_source_problem(action_source) or event_time_problem(event_time, ctx.now, action_source)
    if problem:
        return _skip(row, problem)

    user_data = _user_data(row, ctx, event_time, action_source, warnings)
    event: dict[str, Any] = {
        "event_name": event_name,
        "event_time": event_time,
        "event_id": _text(row.get("event_id")) or event_id_for(conversion_id),
        "action_source": action_source,
    }
    url = _url(row["event_source_url"], warnings) if "event_source_url" in row else None
    if url:
        event["event_source_url"] = url
    if action_source == "website":
        problem = website_problem(url, user_data.get("client_user_agent"))
    elif action_source == "app":
        app_data: Any = row.get("app_data")
        if isinstance(app_data, str) and app_data.strip().startswith("{"):  # JSON text (CSV cell)
            with suppress(ValueError):
                app_data = json.loads(app_data)
        problem = app_data_problem(app_data)
        if problem is None and not _json_safe(app_data):
            problem = Problem(SkipReason.APP_DATA_REQUIRED, "app_data holds NaN or Infinity")
        if problem is None:
            event["app_data"] = _app_data(app_data, warnings)
    elif action_source == "business_messaging":
        channel = _text(row.get("messaging_channel"))
        channel = channel.lower() if channel else None
        problem = messaging_problem(channel, user_data)
        if problem is None:
            event["messaging_channel"] = channel
    if problem:
        return _skip(row, problem)
    if "app_data" in row and action_source != "app":
        warnings.append("app_data: dropped; only sent with action_source app")
    if "messaging_channel" in row and action_source != "business_messaging":
        warnings.append("messaging_channel: dropped; only sent with action_source business_messaging")

    custom_data, problem = _custom_data(row, ctx, event_name, warnings)
    if problem:
        return _skip(row, problem)
    problem = identifiers_problem(user_data)
    if problem:
        return _skip(row, problem)
    event["user_data"] = user_data
    if custom_data:
        event["custom_data"] = custom_data
    if "data_processing_options" in row or "data_processing_options_country" in row \
            or "data_processing_options_state" in row:
        _processing_options(row, event, warnings)
    return event, warnings, conversion_id


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)) \
            or (isinstance(value, float) and not math.isfinite(value)):  # NaN: a missing value
        return None
    text = str(value).strip()
    return text or None


def _url(value: Any, warnings: list[str]) -> str | None:
    text = _text(value)
    if text is None:
        return None
    if text.lower().startswith(("http://", "https://")) and " " not in text:
        return text
    warnings.append("event_source_url: dropped a value that is not an http(s) URL")
    return None


def _user_data(row: Mapping[str, Any], ctx: _Context, event_time: int, action_source: str,
               warnings: list[str]) -> dict[str, Any]:
    user_data = hashed_user_data(row, row_country(row, ctx.settings.country), warnings)
    for key, sources in SOURCE_BOUND.items():  # an app's or a messaging channel's ids, elsewhere
        if key in user_data and action_source not in sources:
            del user_data[key]
            warnings.append(f"{key}: dropped; only sent with action_source {' or '.join(sorted(sources))}")
    if "fbc" not in user_data and "fbclid" in row:
        fbclid = _text(row["fbclid"])
        fbc = fbc_from_fbclid(fbclid, event_time) if fbclid else None
        if fbc is not None:
            user_data["fbc"] = fbc
        else:
            warnings.append("fbclid: dropped a value that is not a click id")
    return user_data


def _custom_data(
    row: Mapping[str, Any], ctx: _Context, event_name: str, warnings: list[str]
) -> tuple[dict[str, Any], Problem | None]:
    custom: dict[str, Any] = {}
    value_given = row.get("value")
    value = parse_amount(value_given) if value_given is not None else None
    if value_given is not None and value is None and event_name != "Purchase":
        warnings.append(f"value: dropped a value that is not an amount {AMOUNT_RANGE}")
    currency_given = row.get("currency")
    if currency_given is not None:
        currency = normalize_currency(str(currency_given))
        problem = currency_problem(currency_given, currency)
    else:
        currency = ctx.currency
        needs_currency = value is not None or event_name == "Purchase"
        problem = currency_problem(ctx.currency_given, currency) if needs_currency else None
    if problem:
        return custom, problem
    if event_name == "Purchase":
        problem = purchase_problem(value_given, value, currency)
        if problem:
            return custom, problem
    if value is not None:
        custom["value"] = value
    if currency is not None and (value is not None or currency_given is not None):
        custom["currency"] = currency
    if "content_ids" in row:
        ids = _content_ids(row["content_ids"])
        if ids:
            custom["content_ids"] = ids
        else:
            warnings.append("content_ids: dropped a value that is not a list of ids")
    if "contents" in row:
        contents = _contents(row["contents"])
        if contents is not None:
            custom["contents"] = contents
        else:
            warnings.append("contents: dropped a value that is not a list of objects with an id (quantity "
                            f"from 0 to {MAX_COUNT:,}, item_price {AMOUNT_RANGE})")
    for name in _TEXT_CUSTOM_FIELDS:
        if name in row:
            text = _text(row[name])
            if text is not None:
                custom[name] = text
    if "num_items" in row:
        number = _integer(row["num_items"], 0, MAX_COUNT)
        if number is not None:
            custom["num_items"] = number
        else:
            warnings.append(f"num_items: dropped a value that is not a whole number from 0 to {MAX_COUNT:,}")
    if "predicted_ltv" in row:
        ltv = parse_amount(row["predicted_ltv"])
        if ltv is not None:
            custom["predicted_ltv"] = ltv
        else:
            warnings.append(f"predicted_ltv: dropped a value that is not an amount {AMOUNT_RANGE}")
    return custom, None


def _content_ids(value: Any) -> list[str]:
    if isinstance(value, str) and value.strip().startswith("["):  # a JSON list (CSV cell)
        try:
            value = json.loads(value)
        except ValueError:
            return []
        if not isinstance(value, list):
            return []
    if isinstance(value, str):
        parts = value.split(",")  # comma-separated ids; `|` and `;` may be part of an id
    elif isinstance(value, list):
        parts = [str(v) for v in value if isinstance(v, (str, int)) and not isinstance(v, bool)]
    elif isinstance(value, int) and not isinstance(value, bool):
        parts = [str(value)]
    else:
        return []
    return [p.strip() for p in parts if p.strip()]


def _contents(value: Any) -> list[dict[str, Any]] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not value:
        return None
    out: list[dict[str, Any]] = []
    for item in value:
        if not isinstance(item, dict) or _text(item.get("id")) is None or not _json_safe(item):
            return None
        content = dict(item)
        content["id"] = _text(item["id"])
        if "quantity" in content:
            quantity = _integer(content["quantity"], 0, MAX_COUNT)
            if quantity is None:
                return None
            content["quantity"] = quantity
        if "item_price" in content:
            price = parse_amount(content["item_price"])
            if price is None:
                return None
            content["item_price"] = price
        out.append(content)
    return out


def _json_safe(value: Any) -> bool:
    """False when a NaN or Infinity hides in a value copied into the event (json.loads accepts them;
    the payload serialization and Meta do not), or an integer no 64-bit float holds exactly."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int):
        return -MAX_JSON_INTEGER <= value <= MAX_JSON_INTEGER
    if isinstance(value, Mapping):
        return all(_json_safe(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_json_safe(v) for v in value)
    return True


def _integer(value: Any, low: int, high: int) -> int | None:
    """A whole number from `low` to `high` (a number, or its text); anything else is None."""
    number: int | float
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > 32:  # past any bound (and int() refuses more than 4,300 digits)
            return None
        try:
            number = int(text) if text.lstrip("-").isascii() and text.lstrip("-").isdigit() else float(text)
        except ValueError:
            return None
    else:
        return None
    if isinstance(number, float) and not number.is_integer():  # also NaN and infinities
        return None
    return int(number) if low <= number <= high else None


def _app_data(app_data: Mapping[str, Any], warnings: list[str]) -> dict[str, Any]:
    """app_data as Meta takes it (`app_data_problem` passed): tracking flags as 0/1, extinfo padded to
    its 16 text positions, the optional keys of §2.3 kept when their value has the right kind;
    anything else dropped with a warning."""
    flag = tracking_flag(app_data["advertiser_tracking_enabled"])
    out: dict[str, Any] = {"advertiser_tracking_enabled": flag}
    extinfo = [("" if v is None else str(v)) for v in app_data["extinfo"]]
    out["extinfo"] = extinfo + [""] * (16 - len(extinfo))
    for key, value in app_data.items():
        if key in ("advertiser_tracking_enabled", "extinfo"):
            continue
        safe = isinstance(key, str) and _SAFE_KEY.fullmatch(key) is not None
        name = f"app_data.{key}" if safe else "app_data.(unknown key)"
        if key == "application_tracking_enabled":
            kept: Any = tracking_flag(value)
            problem = "is not 0 or 1"
        elif key in _APP_DATA_TEXT:
            kept = _text(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
            problem = "is not text"
        elif key == "url_schemes":
            ok = isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)
            kept = [v.strip() for v in value] if ok else None
            problem = "is not a list of text"
        elif key in _APP_DATA_BOOLEANS:
            kept = value if isinstance(value, bool) else None
            problem = "is not true or false"
        else:
            warnings.append(f"{name}: dropped an unknown key")
            continue
        if kept is None:
            warnings.append(f"{name}: dropped a value that {problem}")
        else:
            out[key] = kept
    return out


def _processing_options(row: Mapping[str, Any], event: dict[str, Any], warnings: list[str]) -> None:
    if "data_processing_options" in row:
        options = row["data_processing_options"]
        if isinstance(options, str) and options.strip().startswith("["):  # a JSON list (CSV cell)
            try:
                options = json.loads(options)
            except ValueError:
                options = None
        elif isinstance(options, str):
            options = [o.strip() for o in options.split(",") if o.strip()]
        if isinstance(options, list) and all(isinstance(o, str) for o in options):
            event["data_processing_options"] = options
        else:
            warnings.append("data_processing_options: dropped a value that is not a list of strings")
    for name in ("data_processing_options_country", "data_processing_options_state"):
        if name in row:
            number = _integer(row[name], 0, MAX_PROCESSING_OPTION_CODE)
            if number is not None:
                event[name] = number
            else:
                warnings.append(f"{name}: dropped a value that is not a code from 0 to "
                                f"{MAX_PROCESSING_OPTION_CODE:,}")
