"""flow/batches.py: the build regrouped into Meta's batches of 1,000, encoded once; the hash of those
bytes is the payload hash (payload.py) whatever the chunking; the spool gives them back intact."""

from __future__ import annotations

import json
import time

import pytest
from capi_writeback.events import build_events, stream_events
from capi_writeback.flow.batches import Batches, Spool
from capi_writeback.meta.encoding import EncodedBatch
from capi_writeback.payload import PayloadHasher, canonical_json
from capi_writeback.settings import ProfileSettings
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import GeneratedConversions

NOW = time.time()
SETTINGS = ProfileSettings(country="US", currency="USD")


def rows(count: int, *, skip_every: int = 0) -> list[dict[str, object]]:
    made = list(GeneratedConversions(count, NOW).query("p", 0, NOW))
    for i in range(0, count, skip_every or count + 1):
        if skip_every:
            del made[i]["occurred_at"]  # skipped: the batches regroup the events around it
    return made


def test_batches_hold_exactly_1000_events_and_hash_like_the_build() -> None:
    source = rows(2600, skip_every=7)
    expected = build_events(source, SETTINGS, NOW)
    batches = Batches(stream_events(source, SETTINGS, NOW, hash_payload=False))
    encoded = list(batches)
    assert [b.index for b in encoded] == [0, 1, 2]
    assert [b.event_count for b in encoded] == [1000, 1000, len(expected.events) - 2000]
    assert batches.payload_hash == expected.payload_hash
    assert [e for b in encoded for e in json.loads(b.data)] == expected.payload
    assert (batches.event_count, batches.batch_count) == (len(expected.events), 3)


@settings(max_examples=25, deadline=None)
@given(count=st.integers(0, 2200), chunk=st.integers(1, 1500))
def test_the_hash_does_not_depend_on_the_chunking(count: int, chunk: int) -> None:
    source = rows(count)
    whole = stream_events(source, SETTINGS, NOW)
    for _ in whole:
        pass
    batches = Batches(stream_events(source, SETTINGS, NOW, chunk_size=chunk, hash_payload=False))
    assert sum(b.event_count for b in batches) == count
    assert batches.payload_hash == whole.summary.payload_hash


def test_the_payload_hash_is_known_only_at_the_end() -> None:
    batches = Batches(stream_events(rows(1500), SETTINGS, NOW, hash_payload=False))
    iterator = iter(batches)
    next(iterator)
    with pytest.raises(RuntimeError):
        _ = batches.payload_hash


def test_update_batch_takes_whole_batches_only() -> None:
    hasher = PayloadHasher()
    hasher.update([{"a": 1}])
    with pytest.raises(ValueError):
        hasher.update_batch(canonical_json([{"a": 1}]), 1)  # not at a batch boundary
    short = PayloadHasher()
    short.update_batch(canonical_json([{"a": 1}]), 1)
    with pytest.raises(ValueError):
        short.update_batch(canonical_json([{"a": 2}]), 1)  # nothing may follow a short batch
    with pytest.raises(ValueError):
        short.update([{"a": 2}])
    with pytest.raises(ValueError):
        PayloadHasher().update_batch(b"[]", 0)


def test_the_spool_gives_back_every_batch_or_only_those_asked_for(tmp_path: object) -> None:
    made = [EncodedBatch(i, 1000 - i, canonical_json([{"i": i, "pad": "x" * (i * 37)}])) for i in range(5)]
    with Spool() as spool:
        spool.fill(made)
        assert spool.batch_count == 5 and spool.size == sum(len(b.data) for b in made)
        assert list(spool.batches()) == made
        assert list(spool.batches()) == made  # read as often as needed
        assert list(spool.batches(only={3, 1})) == [made[1], made[3]]
        assert spool.event_count_of(4) == 996
        with pytest.raises(ValueError):
            spool.add(made[0])  # out of order


def test_the_spool_leaves_nothing_on_disk(tmp_path: object) -> None:
    from pathlib import Path

    directory = Path(str(tmp_path))
    with Spool(str(directory)) as spool:
        spool.fill([EncodedBatch(0, 1, b"[{}]")])
        assert list(directory.iterdir()) == []  # unlinked from the start: a crash leaves nothing
