"""The single-event ledger (SPEC §8 exactly once) on both backends: new, replay (same or different
content), a concurrent send waiting for the first, lease expiry, release after a failed send, TTL,
and 20 concurrent claims of one event."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from capi_writeback.errors import to_api_error
from capi_writeback.rails.clock import ManualClock
from capi_writeback.rails.event_ledger.exceptions import EventInProgress
from capi_writeback.rails.event_ledger.ledger import EventLedger, record_id
from capi_writeback.rails.event_ledger.persistence.dynamodb import DynamoEventLedgerStore
from capi_writeback.rails.event_ledger.persistence.memory import MemoryEventLedgerStore
from capi_writeback.store import client

from .conftest import START, _backends

H1 = "sha256:" + "1" * 64
H2 = "sha256:" + "2" * 64
WEEK = 7 * 86400
RESULT = {"operation": "send_event", "events_received": 1, "fbtrace_id": "trace-1"}


@pytest.fixture(params=["memory", "dynamodb"])
def event_store(request: pytest.FixtureRequest) -> Any:
    return _backends(MemoryEventLedgerStore, DynamoEventLedgerStore)(request)


@pytest.fixture
def ledger(event_store: Any, clock: ManualClock) -> EventLedger:
    return EventLedger(event_store, clock, lease_seconds=120, lease_floor=20, wait_seconds=0)


def claim(ledger: EventLedger, event_id: str = "ev-1", content: str = H1, **kwargs: Any) -> Any:
    keep = kwargs.pop("keep_until", ledger.clock() + WEEK)
    return ledger.claim("111", "Purchase", event_id, content, keep_until=keep, **kwargs)


def test_a_first_send_is_new_and_a_later_one_replays_its_result(ledger: EventLedger) -> None:
    first = claim(ledger)
    assert (first.kind, first.attempt, first.result) == ("new", 1, None)
    assert ledger.finish(first, RESULT, keep_until=ledger.clock() + WEEK) is True
    again = claim(ledger)
    assert (again.kind, again.result, again.same_content) == ("replay", RESULT, True)


def test_other_content_under_the_same_event_replays_too_and_says_so(ledger: EventLedger) -> None:
    first = claim(ledger)
    ledger.finish(first, RESULT, keep_until=ledger.clock() + WEEK)
    other = claim(ledger, content=H2)
    assert (other.kind, other.result, other.same_content) == ("replay", RESULT, False)


def test_pixel_name_and_id_make_the_key(ledger: EventLedger) -> None:
    ledger.finish(claim(ledger), RESULT, keep_until=ledger.clock() + WEEK)
    assert claim(ledger, event_id="ev-2").kind == "new"
    assert ledger.claim("222", "Purchase", "ev-1", H1, keep_until=ledger.clock() + WEEK).kind == "new"
    assert ledger.claim("111", "Lead", "ev-1", H1, keep_until=ledger.clock() + WEEK).kind == "new"
    assert record_id("111", "Purchase", "ev-1") != record_id("111", "Purchase\x00ev", "1")
    rid = record_id("111", "Purchase", "order 1001 / jane@example.com")
    assert rid.startswith("event#111#") and len(rid) == len("event#111#") + 64 and "jane" not in rid


def test_a_send_in_progress_refuses_a_second_one_with_a_spec_error(ledger: EventLedger,
                                                                    clock: ManualClock) -> None:
    claim(ledger, deadline=clock() + 30)
    with pytest.raises(EventInProgress) as refused:
        claim(ledger)
    assert refused.value.details["lease_expires_in"] == 30
    error = to_api_error(refused.value)
    assert (error.type, error.status) == ("CONFIRM_IN_PROGRESS", 409)
    assert "being sent right now" in error.message and "replayed" in error.fix


def test_a_concurrent_send_waits_for_the_first_and_replays_it(event_store: Any, clock: ManualClock) -> None:
    holder = EventLedger(event_store, clock, wait_seconds=0)
    first = claim(holder, deadline=clock() + 30)
    pauses: list[float] = []

    def sleep(seconds: float) -> None:  # the first send finishes while the second one waits
        pauses.append(seconds)
        clock.advance(seconds)
        if len(pauses) == 2:
            holder.finish(first, RESULT, keep_until=clock() + WEEK)

    waiter = EventLedger(event_store, clock, wait_seconds=3, sleep=sleep)
    second = claim(waiter)
    assert (second.kind, second.result) == ("replay", RESULT)
    assert pauses == [0.05, 0.1]


def test_a_waiter_gives_up_after_wait_seconds(event_store: Any, clock: ManualClock) -> None:
    claim(EventLedger(event_store, clock, wait_seconds=0), deadline=clock() + 60)
    pauses: list[float] = []
    waiter = EventLedger(event_store, clock, wait_seconds=1, sleep=pauses.append)
    with pytest.raises(EventInProgress):
        claim(waiter)
    assert sum(pauses) == pytest.approx(1) and max(pauses) <= 0.4


def test_an_abandoned_send_is_taken_over_once_its_lease_is_over(ledger: EventLedger,
                                                               clock: ManualClock) -> None:
    claim(ledger, deadline=clock() + 5)  # the lease floor (20 s) outlasts this deadline
    clock.advance(19)
    with pytest.raises(EventInProgress):
        claim(ledger)
    clock.advance(2)
    taken = claim(ledger)
    assert (taken.kind, taken.attempt) == ("new", 2)


def test_a_stale_call_cannot_finish_after_a_take_over(ledger: EventLedger, clock: ManualClock) -> None:
    stale = claim(ledger)
    clock.advance(121)
    fresh = claim(ledger)
    assert ledger.finish(stale, RESULT, keep_until=clock() + WEEK) is False
    assert ledger.finish(fresh, {**RESULT, "fbtrace_id": "trace-2"}, keep_until=clock() + WEEK) is True
    assert claim(ledger).result == {**RESULT, "fbtrace_id": "trace-2"}


def test_a_failed_send_is_released_and_the_next_call_sends_again(ledger: EventLedger) -> None:
    first = claim(ledger)
    assert ledger.release(first) is True
    again = claim(ledger)
    assert (again.kind, again.attempt) == ("new", 2)
    with pytest.raises(ValueError):
        ledger.release(claim_replay(ledger, again))


def claim_replay(ledger: EventLedger, held: Any) -> Any:
    ledger.finish(held, RESULT, keep_until=ledger.clock() + WEEK)
    return claim(ledger)


def test_the_record_lives_until_keep_until_then_reads_as_absent(ledger: EventLedger,
                                                               clock: ManualClock) -> None:
    keep = START + 62 * 86400  # a physical_store event: as long as Meta would take it
    ledger.finish(claim(ledger, keep_until=keep), RESULT, keep_until=keep)
    clock.set(keep - 1)
    assert claim(ledger).kind == "replay"
    clock.set(keep + 1)  # moto never expires items: the store treats them as absent itself
    assert claim(ledger).kind == "new"


def test_the_dynamodb_item_holds_ids_hashes_and_the_result_only(aws: dict[str, str],
                                                                clock: ManualClock) -> None:
    ledger = EventLedger(DynamoEventLedgerStore(), clock, wait_seconds=0)
    first = claim(ledger, event_id="order-1001")
    ledger.finish(first, RESULT, keep_until=clock() + WEEK)
    item = client().get_item(TableName=aws["IDEMPOTENCY_TABLE"],
                             Key={"id": {"S": record_id("111", "Purchase", "order-1001")}})["Item"]
    assert set(item) == {"id", "pixel_id", "event_name", "event_id", "validation", "status", "owner",
                         "lease_expires_at", "expiration", "attempts", "data"}
    assert item["status"]["S"] == "COMPLETED" and int(item["expiration"]["N"]) == int(clock() + WEEK)


def test_twenty_concurrent_sends_of_one_event_send_it_once(event_store: Any, clock: ManualClock) -> None:
    gate = threading.Barrier(20)
    ledger = EventLedger(event_store, clock, wait_seconds=0)

    def one(_: int) -> str:
        gate.wait()
        try:
            held = claim(ledger)
        except EventInProgress:
            return "in_progress"
        return held.kind

    with ThreadPoolExecutor(20) as pool:
        kinds = list(pool.map(one, range(20)))
    assert kinds.count("new") == 1 and kinds.count("in_progress") == 19


def test_stored_reads_a_completed_send_without_claiming(ledger: EventLedger) -> None:
    assert ledger.stored("111", "Purchase", "ev-1", H1) is None
    held = claim(ledger)
    assert ledger.stored("111", "Purchase", "ev-1", H1) is None  # running: nothing to replay yet
    ledger.finish(held, RESULT, keep_until=ledger.clock() + WEEK)
    found = ledger.stored("111", "Purchase", "ev-1", H2)
    assert found is not None and (found.kind, found.result, found.same_content) == ("replay", RESULT, False)
