"""MetaClient.send_batches: batches encoded once by the caller, pulled only as senders free up."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from capi_writeback.meta import BatchResult, MetaAuthError, StaticCredentials
from capi_writeback.meta.client import EncodedBatch
from capi_writeback.payload import canonical_json
from capi_writeback_local.meta_emulator import MetaEmulator

from .conftest import PIXEL, SECRET_ID, ClientFactory, make_events


def encoded(events: list[dict[str, object]], size: int = 1000) -> list[EncodedBatch]:
    return [EncodedBatch(i // size, len(events[i:i + size]), canonical_json(events[i:i + size]))
            for i in range(0, len(events), size)]


def test_encoded_batches_are_sent_as_given_and_answered_in_index_order(
    emulator: MetaEmulator, make_client: ClientFactory
) -> None:
    events = make_events(2501)
    emulator.inject("latency", latency_ms=40, count=1)  # the first request finishes last
    results = make_client(concurrency=3).send_batches(PIXEL, SECRET_ID, encoded(events))
    assert [(r.index, r.event_count, r.events_received, r.status) for r in results] == [
        (0, 1000, 1000, "accepted"), (1, 1000, 1000, "accepted"), (2, 501, 501, "accepted")]
    assert sorted(e["event_id"] for e in emulator.received_events(PIXEL)) == sorted(
        e["event_id"] for e in events)


def test_batches_are_pulled_only_as_senders_free_up(emulator: MetaEmulator,
                                                    make_client: ClientFactory) -> None:
    """A producer that builds each batch when asked never runs more than `concurrency` ahead of
    the batches that finished: memory stays flat whatever the payload."""
    events = make_events(12_000)
    pulled: list[int] = []
    finished: list[int] = []
    ahead: list[int] = []

    def produce() -> Iterator[EncodedBatch]:
        for batch in encoded(events):
            ahead.append(len(pulled) - len(finished))
            pulled.append(batch.index)
            yield batch

    emulator.inject("latency", latency_ms=20)
    results = make_client(concurrency=2).send_batches(
        PIXEL, SECRET_ID, produce(), on_batch=lambda r: finished.append(r.index))
    assert len(results) == 12 and sorted(finished) == list(range(12))
    assert max(ahead) <= 2
    assert emulator.stats()["max_in_flight"] <= 2


def test_callbacks_run_on_the_callers_thread_and_a_failing_one_stops_the_pulling(
    emulator: MetaEmulator, make_client: ClientFactory
) -> None:
    caller = threading.current_thread()
    pulled: list[int] = []

    def produce() -> Iterator[EncodedBatch]:
        for batch in encoded(make_events(10_000)):
            pulled.append(batch.index)
            yield batch

    def on_batch(result: BatchResult) -> None:
        assert threading.current_thread() is caller
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        make_client(concurrency=2).send_batches(PIXEL, SECRET_ID, produce(), on_batch=on_batch)
    # two in flight, and the one pulled when the first finished (before its callback ran): nothing
    # was pulled after the callback failed; the third was sent only if it had started by then
    assert len(pulled) == 3
    assert 2 <= len(emulator.ledger()) <= 3


def test_a_refused_encoded_batch_is_bisected_from_its_bytes(emulator: MetaEmulator,
                                                            make_client: ClientFactory) -> None:
    events = make_events(40, bad={7, 30})
    [result] = make_client().send_batches(PIXEL, SECRET_ID, encoded(events))
    assert result.status == "partially_rejected"
    assert sorted(r.position for r in result.rejected) == [7, 30]
    received = [e["event_id"] for e in emulator.received_events(PIXEL)]
    assert sorted(received) == sorted(f"ev-{i}" for i in range(40) if i not in (7, 30))
    assert len(received) == len(set(received))  # every good event exactly once


def test_unreadable_credentials_refuse_before_anything_is_pulled(emulator: MetaEmulator,
                                                                 make_client: ClientFactory) -> None:
    pulled: list[int] = []

    def produce() -> Iterator[EncodedBatch]:
        pulled.append(0)
        yield from encoded(make_events(3))

    client = make_client()
    client.credentials = StaticCredentials({})
    with pytest.raises(MetaAuthError):
        client.send_batches(PIXEL, SECRET_ID, produce())
    assert pulled == [] and emulator.ledger() == []


def test_the_encoded_events_round_trip() -> None:
    events = make_events(3)
    [batch] = encoded(events)
    assert batch.events() == events and json.loads(batch.data) == events
