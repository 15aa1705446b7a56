"""MetaClient against the emulator: success, batching, order, callbacks, test events, concurrency."""

from __future__ import annotations

import threading
from typing import Any

from capi_writeback.meta import BatchResult
from capi_writeback_local.meta_emulator import MetaEmulator

from .conftest import PIXEL, SECRET_ID, TOKEN, ClientFactory, make_events


def test_send_success_returns_meta_answer(emulator: MetaEmulator, make_client: ClientFactory) -> None:
    events = make_events(3)
    [result] = make_client().send(PIXEL, SECRET_ID, events)
    assert result.status == "accepted"
    assert (result.index, result.event_count, result.events_received) == (0, 3, 3)
    assert result.error is None and result.rejected == []
    assert len(result.fbtrace_ids) == 1 and 20 <= len(result.fbtrace_ids[0]) <= 30
    assert emulator.received_events(PIXEL) == events
    [entry] = emulator.ledger()
    assert entry["path"] == f"/v25.0/{PIXEL}/events"
    assert entry["token_source"] == "body" and entry["token_in_url"] is False


def test_batches_hold_at_most_1000_events_and_results_come_in_batch_order(
    emulator: MetaEmulator, make_client: ClientFactory
) -> None:
    events = make_events(2501)
    emulator.inject("latency", latency_ms=30, count=1)  # the first request finishes last
    results = make_client(concurrency=3).send(PIXEL, SECRET_ID, events)
    assert [r.index for r in results] == [0, 1, 2]
    assert [r.event_count for r in results] == [1000, 1000, 501]
    assert [r.events_received for r in results] == [1000, 1000, 501]
    assert sorted(e["event_count"] for e in emulator.ledger()) == [501, 1000, 1000]
    received = emulator.received_events(PIXEL)
    assert sorted(e["event_id"] for e in received) == sorted(e["event_id"] for e in events)
    # each batch holds exactly the events of its slice
    for entry in emulator.ledger():
        ids = [e["event_id"] for e in entry["events"]]
        first = int(ids[0].split("-")[1])
        assert ids == [f"ev-{i}" for i in range(first, first + len(ids))] and first % 1000 == 0


def test_only_batches_sends_just_those(emulator: MetaEmulator, make_client: ClientFactory) -> None:
    events = make_events(2500)
    results = make_client().send(PIXEL, SECRET_ID, events, only_batches={2, 0})
    assert [r.index for r in results] == [0, 2]
    received = {e["event_id"] for e in emulator.received_events(PIXEL)}
    assert received == {f"ev-{i}" for i in [*range(0, 1000), *range(2000, 2500)]}


def test_empty_send_makes_no_request(emulator: MetaEmulator, make_client: ClientFactory) -> None:
    assert make_client().send(PIXEL, SECRET_ID, []) == []
    assert make_client().send(PIXEL, SECRET_ID, make_events(5), only_batches=[3]) == []
    assert emulator.ledger() == []


def test_callbacks_run_on_the_callers_thread_once_per_batch(
    emulator: MetaEmulator, make_client: ClientFactory
) -> None:
    seen: list[tuple[int, str]] = []
    progress: list[tuple[int, int]] = []
    caller = threading.current_thread()

    def on_batch(result: BatchResult) -> None:
        assert threading.current_thread() is caller
        seen.append((result.index, result.status))

    def on_progress(done: int, total: int) -> None:
        assert threading.current_thread() is caller
        progress.append((done, total))

    make_client().send(PIXEL, SECRET_ID, make_events(3500), on_batch=on_batch, progress=on_progress)
    assert sorted(seen) == [(0, "accepted"), (1, "accepted"), (2, "accepted"), (3, "accepted")]
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_failing_on_batch_stops_further_batches(emulator: MetaEmulator, make_client: ClientFactory) -> None:
    def on_batch(result: BatchResult) -> None:
        raise RuntimeError("progress store down")

    try:
        make_client(concurrency=1, batch_size=10).send(PIXEL, SECRET_ID, make_events(200), on_batch=on_batch)
    except RuntimeError as exc:
        assert "progress store down" in str(exc)
    else:
        raise AssertionError("on_batch's exception must propagate")
    assert len(emulator.ledger()) < 20  # not all 20 batches went out


def test_concurrency_is_bounded(emulator: MetaEmulator, make_client: ClientFactory) -> None:
    emulator.inject("latency", latency_ms=40)
    results = make_client(concurrency=3, batch_size=10).send(PIXEL, SECRET_ID, make_events(150))
    assert len(results) == 15 and all(r.status == "accepted" for r in results)
    stats = emulator.stats()
    assert stats["requests"] == 15
    assert stats["max_in_flight"] == 3


def test_test_event_code_goes_to_test_events_only(emulator: MetaEmulator, make_client: ClientFactory) -> None:
    [result] = make_client().send(PIXEL, SECRET_ID, make_events(4), test_event_code="TEST123")
    assert result.events_received == 4
    assert emulator.received_events(PIXEL) == []
    assert len(emulator.received_events(PIXEL, test=True)) == 4
    assert emulator.ledger()[0]["test_event_code"] == "TEST123"


def test_partner_agent_and_api_version_are_configurable(
    emulator: MetaEmulator, make_client: ClientFactory
) -> None:
    make_client(api_version="v24.0", partner_agent="capi-writeback").send(PIXEL, SECRET_ID, make_events(1))
    [entry] = emulator.ledger()
    assert entry["path"] == f"/v24.0/{PIXEL}/events"
    assert entry["status"] == 200


def test_appsecret_proof_is_sent_when_the_secret_has_an_app_secret(make_client: ClientFactory) -> None:
    from capi_writeback.meta import MetaCredentials, StaticCredentials
    from capi_writeback_local.meta_emulator import Strictness

    with MetaEmulator(
        tokens=(TOKEN,), pixel_ids=(PIXEL,), app_secret="app-s3cret",
        strictness=Strictness(require_appsecret_proof=True),
    ) as strict:
        good = StaticCredentials({SECRET_ID: MetaCredentials(TOKEN, "app-s3cret")})
        bad = StaticCredentials({SECRET_ID: MetaCredentials(TOKEN, "wrong-secret")})
        none = StaticCredentials({SECRET_ID: MetaCredentials(TOKEN)})
        ok = make_client(good, base_url=strict.url).send(PIXEL, SECRET_ID, make_events(2))
        wrong = make_client(bad, base_url=strict.url).send(PIXEL, SECRET_ID, make_events(2))
        missing = make_client(none, base_url=strict.url).send(PIXEL, SECRET_ID, make_events(2))
    assert ok[0].status == "accepted"
    for results in (wrong, missing):
        error: Any = results[0].error
        assert results[0].status == "failed" and error.code == 100 and "appsecret_proof" in error.message


def test_unknown_pixel_is_rejected_without_bisection(
    emulator: MetaEmulator, make_client: ClientFactory
) -> None:
    [result] = make_client().send("999", SECRET_ID, make_events(50))
    assert result.status == "failed"
    assert result.error is not None and (result.error.code, result.error.subcode) == (100, 33)
    assert "pixel" in result.error.fix
    assert len(emulator.ledger()) == 1


def test_decimal_numbers_from_dynamodb_are_sent_as_numbers(
    emulator: MetaEmulator, make_client: ClientFactory
) -> None:
    from decimal import Decimal

    events = make_events(2)
    events[0]["custom_data"]["value"] = Decimal("19.99")
    events[1]["event_time"] = Decimal(events[1]["event_time"])
    [result] = make_client().send(PIXEL, SECRET_ID, events)
    assert result.status == "accepted"
    received = emulator.received_events(PIXEL)
    assert received[0]["custom_data"]["value"] == 19.99
    assert received[1]["event_time"] == int(events[1]["event_time"])
    assert isinstance(received[1]["event_time"], int)


def test_wrong_base_url_is_a_clear_refusal(emulator: MetaEmulator, make_client: ClientFactory) -> None:
    [result] = make_client(base_url=emulator.url + "/nowhere").send(PIXEL, SECRET_ID, make_events(1))
    assert result.status == "failed" and result.error is not None
