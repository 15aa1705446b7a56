"""The streaming core (issue 10): chunks in input order, a summary accumulated rather than collected,
duplicates across the whole stream, a payload hash independent of the chunking, the GC policy."""

from __future__ import annotations

import gc
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from capi_writeback import gc_policy
from capi_writeback.built import BuiltEvent, SkippedRow
from capi_writeback.events import build_events, stream_events
from capi_writeback.payload import payload_hash
from capi_writeback.reading import InvalidRow
from capi_writeback.settings import ProfileSettings
from capi_writeback.summary import MAX_WARNING_KINDS

from .conftest import NOW, make_row

SETTINGS = ProfileSettings(country="us")


def mixed_rows(count: int) -> list[Any]:
    """Valid purchases and leads, with a skip, a duplicate and an unreadable row every few rows."""
    rows: list[Any] = []
    for i in range(count):
        if i % 13 == 5:
            rows.append(make_row(conversion_id=f"c{i}", value=None))  # PURCHASE_MISSING_VALUE
        elif i % 17 == 9:
            rows.append(make_row(conversion_id=f"c{i - 8}"))  # a duplicate of an earlier row
        elif i % 29 == 3:
            rows.append(InvalidRow("not valid JSON"))
        elif i % 2:
            rows.append(make_row(conversion_id=f"c{i}", outcome_type="lead_created", phone="x"))
        else:
            rows.append(make_row(conversion_id=f"c{i}", phone="(650) 555-1212", client_ip_address="1.2.3.4"))
    return rows


def test_chunks_hold_every_row_once_in_input_order() -> None:
    rows = mixed_rows(2600)
    stream = stream_events(rows, SETTINGS, NOW, chunk_size=250)
    chunks = list(stream)
    assert [len(c.rows) for c in chunks] == [250] * 10 + [100]
    assert [r.index for c in chunks for r in c.rows] == list(range(2600))
    for chunk in chunks:
        assert chunk.events == [r for r in chunk.rows if isinstance(r, BuiltEvent)]
        assert chunk.skipped == [r for r in chunk.rows if isinstance(r, SkippedRow)]
        assert chunk.payload == [b.event for b in chunk.events]
    collected = build_events(rows, SETTINGS, NOW)
    assert [b.event for c in chunks for b in c.events] == collected.payload
    assert [s for c in chunks for s in c.skipped] == collected.skipped


@pytest.mark.parametrize("chunk_size", [1, 7, 999, 1000, 1001, 5000])
def test_the_payload_hash_does_not_depend_on_the_chunk_size(chunk_size: int) -> None:
    rows = mixed_rows(2600)
    stream = stream_events(rows, SETTINGS, NOW, chunk_size=chunk_size)
    payload = [event for chunk in stream for event in chunk.payload]
    assert len(payload) > 2000  # three batches of the hash definition
    assert stream.summary.payload_hash == payload_hash(payload)
    assert stream.summary.payload_hash == build_events(rows, SETTINGS, NOW).payload_hash


def test_the_same_input_gives_the_same_hash_and_a_change_anywhere_changes_it() -> None:
    rows = mixed_rows(1500)
    first = build_events(rows, SETTINGS, NOW).payload_hash
    assert build_events(json.loads(json.dumps(rows)), SETTINGS, NOW).payload_hash == first
    changed = [dict(r) if isinstance(r, dict) else r for r in rows]
    changed[1400]["value"] = "20.00"
    assert build_events(changed, SETTINGS, NOW).payload_hash != first
    swapped = [rows[2], rows[1], rows[0], *rows[3:]]  # two events change places
    assert build_events(swapped, SETTINGS, NOW).payload_hash != first


def test_duplicates_are_found_across_chunks() -> None:
    rows = [make_row(conversion_id=f"c{i % 50}") for i in range(120)]
    stream = stream_events(rows, SETTINGS, NOW, chunk_size=3)
    skipped = [s for chunk in stream for s in chunk.skipped]
    assert [s.index for s in skipped] == list(range(50, 120))
    assert {s.reason for s in skipped} == {"DUPLICATE_CONVERSION_ID"}
    assert stream.summary.event_count == 50 and stream.summary.skipped_count == 70


def test_the_summary_adds_up_what_was_streamed() -> None:
    rows = mixed_rows(2600)
    stream = stream_events(rows, SETTINGS, NOW, chunk_size=100)
    chunks = list(stream)
    events = [b for c in chunks for b in c.events]
    skipped = [s for c in chunks for s in c.skipped]
    summary = stream.summary
    assert (summary.rows, summary.event_count, summary.skipped_count) == (2600, len(events), len(skipped))
    assert summary.events_by_name == {"Lead": sum(b.event["event_name"] == "Lead" for b in events),
                                      "Purchase": sum(b.event["event_name"] == "Purchase" for b in events)}
    assert sum(summary.match_quality.values()) == len(events)
    assert summary.match_quality["good"] == sum(b.match_quality == "good" for b in events) > 0
    assert summary.skipped_by_reason == {
        "DUPLICATE_CONVERSION_ID": sum(s.reason == "DUPLICATE_CONVERSION_ID" for s in skipped),
        "INVALID_ROW": sum(s.reason == "INVALID_ROW" for s in skipped),
        "PURCHASE_MISSING_VALUE": sum(s.reason == "PURCHASE_MISSING_VALUE" for s in skipped),
    }
    assert summary.samples == [b.event for b in events[:3]]
    assert summary.skipped == skipped[:1000]
    phone_rows = [b.index for b in events if b.warnings]
    assert summary.warnings == [
        f"phone: dropped a value that could not be normalized (rows "
        f"{', '.join(map(str, phone_rows[:5]))} and {len(phone_rows) - 5} more)"]


def test_warnings_stay_bounded_in_kinds_and_rows() -> None:
    kinds = MAX_WARNING_KINDS + 30
    rows = [make_row(conversion_id=f"c{i}", _warnings=[f"note {i % kinds}"]) for i in range(kinds * 3)]
    summary = build_events(rows, SETTINGS, NOW).summary
    assert len(summary.warnings) == MAX_WARNING_KINDS + 1
    assert summary.warnings[0] == f"note 0 (rows 0, {kinds}, {2 * kinds})"
    assert summary.warnings[-1] == "90 more warnings of other kinds are not listed"


def test_rows_are_read_only_as_chunks_are_asked_for() -> None:
    pulled = 0

    def rows() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for i in itertools.count():
            pulled += 1
            yield make_row(conversion_id=f"c{i}")

    chunks = iter(stream_events(rows(), SETTINGS, NOW, chunk_size=10))
    assert pulled == 0
    assert len(next(chunks).rows) == 10 and pulled <= 11
    assert len(next(chunks).rows) == 10 and pulled <= 21


def test_a_stream_is_iterated_once_and_chunk_size_must_be_positive() -> None:
    stream = stream_events([make_row()], SETTINGS, NOW)
    list(stream)
    with pytest.raises(RuntimeError):
        list(stream)
    with pytest.raises(ValueError):
        stream_events([], SETTINGS, NOW, chunk_size=0)


def test_without_hashing_the_summary_refuses_to_make_a_hash_up() -> None:
    stream = stream_events([make_row()], SETTINGS, NOW, hash_payload=False)
    assert sum(len(c.events) for c in stream) == 1
    with pytest.raises(ValueError, match="hash_payload"):
        _ = stream.summary.payload_hash


def test_an_empty_stream() -> None:
    stream = stream_events([], SETTINGS, NOW)
    assert list(stream) == []
    assert stream.summary.payload_hash == payload_hash([])
    assert (stream.summary.event_count, stream.summary.warnings, stream.summary.samples) == (0, [], [])


def test_the_gc_policy_holds_while_streaming_and_is_undone_after() -> None:
    before = gc.get_threshold()
    chunks = iter(stream_events(mixed_rows(50), SETTINGS, NOW, chunk_size=10))
    next(chunks)
    assert gc.get_threshold()[0] == max(before[0], gc_policy.YOUNG_THRESHOLD)
    assert gc.get_freeze_count() > 0
    with gc_policy.long_build():  # a second build at the same time (another thread, a nested call)
        next(chunks)
    assert gc.get_threshold()[0] == max(before[0], gc_policy.YOUNG_THRESHOLD)
    list(chunks)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    abandoned = iter(stream_events(mixed_rows(50), SETTINGS, NOW, chunk_size=10))
    next(abandoned)
    del abandoned  # a consumer that stops early
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
