"""The confirm ledger (SPEC §6 idempotency) on both backends: claim before building, pin the payload,
replay, reuse, in progress, lease expiry, per-batch progress and resume, TTL, and 20 concurrent
claims of one key."""

from __future__ import annotations

import dataclasses
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from capi_writeback.errors import to_api_error
from capi_writeback.rails.clock import ManualClock
from capi_writeback.rails.idempotency.exceptions import InProgress, KeyReused, LeaseLost
from capi_writeback.rails.idempotency.ledger import Claim, ConfirmLedger, record_id
from capi_writeback.rails.idempotency.persistence.dynamodb import DynamoLedgerStore
from capi_writeback.store import client

H1 = "sha256:" + "1" * 64
H2 = "sha256:" + "2" * 64


def take(ledger: ConfirmLedger, profile_id: str, key: str, payload_hash: str, batch_count: int,
          **options: Any) -> Claim:
    """A confirm's two steps for a request whose payload is `payload_hash`: claim the key by the
    request's fingerprint (before building), then pin the payload it built (before sending)."""
    taken = ledger.claim(profile_id, key, fingerprint_of(payload_hash), as_of=ledger.clock(), **options)
    return ledger.pin(taken, payload_hash, batch_count)


def fingerprint_of(payload_hash: str) -> str:
    return "fp:" + payload_hash[-8:]


def summary(index: int, received: int = 1000) -> dict[str, Any]:
    return {"index": index, "event_count": 1000, "events_received": received,
            "fbtrace_id": f"trace-{index}", "status": "accepted", "ratio": 0.5}


@pytest.fixture
def ledger(ledger_store: Any, clock: ManualClock) -> ConfirmLedger:
    return ConfirmLedger(ledger_store, clock, lease_seconds=900, ttl_seconds=7 * 86400)


def test_first_claim_is_new_with_nothing_done(ledger: ConfirmLedger) -> None:
    claim = take(ledger, "p1", "key-1", H1, 3)
    assert claim.kind == "new"
    assert claim.done_batches == {}
    assert claim.result is None
    assert claim.attempt == 1
    assert (claim.payload_hash, claim.batch_count) == (H1, 3)


def test_stored_reads_only_a_succeeded_confirm(ledger: ConfirmLedger, clock: ManualClock) -> None:
    fp = fingerprint_of(H1)
    assert ledger.stored("p1", "key-1", fp) is None  # nothing yet
    claim = take(ledger, "p1", "key-1", H1, 1)
    assert ledger.stored("p1", "key-1", fp) is None  # running, not succeeded
    ledger.finish(claim, "failed", {"status": "failed"})
    assert ledger.stored("p1", "key-1", fp) is None  # released, not succeeded
    claim = take(ledger, "p1", "key-1", H1, 1)
    ledger.finish(claim, "succeeded", {"status": "succeeded", "events_received": 3})
    stored = ledger.stored("p1", "key-1", fp)
    assert stored is not None and stored.kind == "replay"
    assert stored.result == {"status": "succeeded", "events_received": 3}
    other = ledger.stored("p1", "key-1", "another request")
    assert other is not None and other.kind == "check" and other.payload_hash == H1
    assert take(ledger, "p1", "key-1", H1, 1).kind == "replay"  # reading claimed nothing
    clock.advance(7 * 86400 + 1)
    assert ledger.stored("p1", "key-1", fp) is None  # expired records read as absent


def test_succeeded_confirm_replays_its_result(ledger: ConfirmLedger) -> None:
    claim = take(ledger, "p1", "key-1", H1, 1)
    result = {"status": "succeeded", "events_received": 1000, "batches": [summary(0)], "value": 12.5}
    ledger.record_batch(claim, 0, summary(0))
    ledger.finish(claim, "succeeded", result)

    again = take(ledger, "p1", "key-1", H1, 1)
    assert again.kind == "replay"
    assert again.result == result
    with pytest.raises(ValueError):
        ledger.record_batch(again, 0, summary(0))
    with pytest.raises(ValueError):
        ledger.finish(again, "succeeded", result)
    assert take(ledger, "p1", "key-1", H1, 1).kind == "replay"  # replaying changes nothing


def test_same_key_while_running_is_in_progress_whatever_the_request(ledger: ConfirmLedger) -> None:
    """The key is looked up before anything is built: while an attempt holds it, any other attempt
    is told CONFIRM_IN_PROGRESS at once (its payload is not even known yet)."""
    claim = ledger.claim("p1", "key-1", "request A", as_of=ledger.clock())
    assert (claim.kind, claim.payload_hash) == ("new", "")  # nothing pinned before the payload is built
    for request in ("request A", "request B"):
        with pytest.raises(InProgress):
            ledger.claim("p1", "key-1", request, as_of=ledger.clock())
    ledger.pin(claim, H1, 1)
    with pytest.raises(InProgress):
        take(ledger, "p1", "key-1", H2, 1)


def test_same_key_different_payload_after_success_is_reused(ledger: ConfirmLedger) -> None:
    claim = take(ledger, "p1", "key-1", H1, 1)
    ledger.finish(claim, "succeeded", {"status": "succeeded"})
    check = ledger.claim("p1", "key-1", fingerprint_of(H2), as_of=ledger.clock())
    assert check.kind == "check" and check.payload_hash == H1  # another request: build and compare
    with pytest.raises(KeyReused) as info:
        ledger.pin(check, H2, 1)
    assert to_api_error(info.value).status == 409
    # another request that builds the very same payload is the same confirm: it replays
    same = ledger.pin(ledger.claim("p1", "key-1", "same rows, other spelling", as_of=0), H1, 1)
    assert same.kind == "replay" and same.result == {"status": "succeeded"}


def test_a_released_key_resumes_only_for_the_same_payload(ledger: ConfirmLedger) -> None:
    """A resumed attempt names its payload before it sends anything: another payload is refused and
    the key given back, with the batches Meta accepted still recorded."""
    first = take(ledger, "p1", "key-1", H1, 3)
    ledger.record_batch(first, 0, summary(0))
    ledger.finish(first, "partially_failed", {"status": "partially_failed"})
    other = ledger.claim("p1", "key-1", fingerprint_of(H2), as_of=ledger.clock())
    assert other.kind == "resume"
    with pytest.raises(KeyReused):
        ledger.pin(other, H2, 3)
    again = take(ledger, "p1", "key-1", H1, 3)  # released again: the right payload resumes at once
    assert again.kind == "resume" and again.done_batches == {0: summary(0)}


def test_a_retry_of_the_same_request_resolves_its_selection_as_of_the_first_attempt(
    ledger: ConfirmLedger, clock: ManualClock
) -> None:
    """`last_days: 7` retried an hour later must rebuild the same window (and age checks), or the
    resumed payload would differ from the one whose batches were accepted."""
    first = ledger.claim("p1", "key-1", "last 7 days", as_of=clock())
    assert first.as_of == clock()
    first = ledger.pin(first, H1, 2)
    ledger.finish(first, "partially_failed", {"status": "partially_failed"})
    started = clock()
    clock.advance(3600)
    retry = ledger.claim("p1", "key-1", "last 7 days", as_of=clock())
    assert (retry.kind, retry.as_of) == ("resume", started)
    ledger.release(retry)
    other = ledger.claim("p1", "key-1", "last 8 days", as_of=clock())
    assert (other.kind, other.as_of) == ("resume", clock())  # another request: resolved now


def test_an_attempt_that_crashed_before_pinning_is_resumed_for_any_payload(
    ledger: ConfirmLedger, clock: ManualClock
) -> None:
    ledger.claim("p1", "key-1", "request A", as_of=clock())  # crashed while building: nothing sent
    clock.advance(901)
    resumed = take(ledger, "p1", "key-1", H2, 2)
    assert (resumed.kind, resumed.payload_hash, resumed.done_batches) == ("resume", H2, {})


def test_pinning_after_the_lease_was_lost_is_refused(ledger: ConfirmLedger, clock: ManualClock) -> None:
    slow = ledger.claim("p1", "key-1", "request A", as_of=clock())
    clock.advance(901)  # the build outlived the lease; another attempt took the key
    taker = take(ledger, "p1", "key-1", H1, 1)
    with pytest.raises(LeaseLost):
        ledger.pin(slow, H1, 1)
    ledger.finish(taker, "succeeded", {"status": "succeeded"})


def test_released_before_sending_the_key_is_free_at_once(ledger: ConfirmLedger) -> None:
    claim = ledger.claim("p1", "key-1", "request A", as_of=ledger.clock())
    ledger.release(claim)  # e.g. PAYLOAD_CHANGED: nothing was sent
    assert take(ledger, "p1", "key-1", H1, 1).kind == "resume"
    with pytest.raises(ValueError):
        ledger.release(dataclasses.replace(claim, kind="replay"))


def test_same_key_while_running_is_in_progress(ledger: ConfirmLedger, clock: ManualClock) -> None:
    take(ledger, "p1", "key-1", H1, 2)
    clock.advance(899)
    with pytest.raises(InProgress) as info:
        take(ledger, "p1", "key-1", H1, 2)
    assert to_api_error(info.value).type == "CONFIRM_IN_PROGRESS"
    assert info.value.details["lease_expires_in"] == 1


def test_keys_are_per_profile(ledger: ConfirmLedger) -> None:
    assert take(ledger, "p1", "key-1", H1, 1).kind == "new"
    assert take(ledger, "p2", "key-1", H2, 1).kind == "new"


def test_partial_failure_then_retry_resumes_with_the_accepted_batches(ledger: ConfirmLedger) -> None:
    first = take(ledger, "p1", "key-1", H1, 4)
    assert ledger.record_batch(first, 0, summary(0))
    assert ledger.record_batch(first, 2, summary(2, received=990))
    ledger.finish(first, "partially_failed", {"status": "partially_failed"})

    second = take(ledger, "p1", "key-1", H1, 4)
    assert second.kind == "resume"
    assert second.attempt == 2
    assert second.done_batches == {0: summary(0), 2: summary(2, received=990)}
    assert ledger.record_batch(second, 1, summary(1))
    ledger.finish(second, "failed", {"status": "failed"})

    third = take(ledger, "p1", "key-1", H1, 4)
    assert third.kind == "resume"
    assert sorted(third.done_batches) == [0, 1, 2]
    ledger.record_batch(third, 3, summary(3))
    ledger.finish(third, "succeeded", {"status": "succeeded", "n": 4})
    assert take(ledger, "p1", "key-1", H1, 4).result == {"status": "succeeded", "n": 4}


def test_crashed_attempt_is_taken_over_after_its_lease(ledger: ConfirmLedger, clock: ManualClock) -> None:
    crashed = take(ledger, "p1", "key-1", H1, 3)
    ledger.record_batch(crashed, 1, summary(1))
    clock.advance(899)
    ledger.record_batch(crashed, 0, summary(0))  # renews the lease: still in progress 899 s later
    clock.advance(899)
    with pytest.raises(InProgress):
        take(ledger, "p1", "key-1", H1, 3)
    clock.advance(2)  # 901 s since the last renewal: the lease is over

    taker = take(ledger, "p1", "key-1", H1, 3)
    assert taker.kind == "resume"
    assert sorted(taker.done_batches) == [0, 1]
    assert taker.owner != crashed.owner

    # The old attempt wakes up: its batch is still remembered, but it no longer owns the key.
    assert ledger.record_batch(crashed, 2, summary(2)) is False
    with pytest.raises(LeaseLost) as info:
        ledger.finish(crashed, "succeeded", {"status": "succeeded", "who": "crashed"})
    assert to_api_error(info.value).type == "CONFIRM_IN_PROGRESS"
    ledger.finish(taker, "succeeded", {"status": "succeeded", "who": "taker"})
    assert take(ledger, "p1", "key-1", H1, 3).result == {"status": "succeeded", "who": "taker"}


def test_expired_record_is_absent_and_its_progress_forgotten(ledger: ConfirmLedger,
                                                             clock: ManualClock) -> None:
    old = take(ledger, "p1", "key-1", H1, 2)
    ledger.record_batch(old, 0, summary(0))
    ledger.finish(old, "failed", {"status": "failed"})
    clock.advance(7 * 86400 + 1)  # the TTL has passed (moto never deletes: the code must not see it)

    fresh = take(ledger, "p1", "key-1", H2, 2)
    assert fresh.kind == "new"
    ledger.finish(fresh, "partially_failed", {"status": "partially_failed"})
    assert take(ledger, "p1", "key-1", H2, 2).done_batches == {}  # old generation's batch not reused


def test_finish_rejects_unknown_status(ledger: ConfirmLedger) -> None:
    claim = take(ledger, "p1", "key-1", H1, 1)
    with pytest.raises(ValueError):
        ledger.finish(claim, "done", {})


def test_odd_keys_are_hashed_into_the_record_id(ledger: ConfirmLedger) -> None:
    key = "order#42 / ünïcode " + "x" * 100
    rid = record_id("p1", key)
    assert key not in rid and rid.startswith("confirm#p1#") and len(rid) == len("confirm#p1#") + 64
    assert record_id("p1", key) != record_id("p1", key + "y")
    claim = take(ledger, "p1", key, H1, 1)
    assert claim.kind == "new" and claim.idempotency_key == key


def test_twenty_threads_claiming_one_key_get_exactly_one_new(ledger: ConfirmLedger) -> None:
    barrier = threading.Barrier(20)

    def attempt(_: int) -> str:
        barrier.wait()
        try:
            return take(ledger, "p1", "same-key", H1, 5).kind
        except InProgress:
            return "in_progress"

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(attempt, range(20)))
    assert outcomes.count("new") == 1
    assert outcomes.count("in_progress") == 19


def test_concurrent_batch_records_all_land(ledger: ConfirmLedger) -> None:
    claim = take(ledger, "p1", "key-1", H1, 40)
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(lambda i: ledger.record_batch(claim, i, summary(i)), range(40)))
    ledger.finish(claim, "partially_failed", {})
    assert sorted(take(ledger, "p1", "key-1", H1, 40).done_batches) == list(range(40))


def test_dynamodb_layout_and_writes_are_conditional(aws: dict[str, str], calls: Any,
                                                    clock: ManualClock) -> None:
    ledger = ConfirmLedger(DynamoLedgerStore(), clock)
    claim: Claim = take(ledger, "p1", "key-1", H1, 2)
    ledger.record_batch(claim, 0, summary(0))
    ledger.finish(claim, "succeeded", {"status": "succeeded"})
    take(ledger, "p1", "key-1", H1, 2)

    item = client().get_item(TableName=os.environ["IDEMPOTENCY_TABLE"],
                                      Key={"id": {"S": claim.record_id}})["Item"]
    assert item["status"]["S"] == "COMPLETED"
    assert item["validation"]["S"] == H1
    assert int(item["expiration"]["N"]) == int(clock() + 7 * 86400)  # the table's TTL attribute
    for op, _table, body in calls.calls:
        if op == "UpdateItem" or (op == "PutItem" and body["Item"]["id"]["S"] == claim.record_id):
            assert "ConditionExpression" in body, op
    assert calls.count("Scan") == 0


def test_oversized_result_is_refused_before_writing(aws: dict[str, str], clock: ManualClock) -> None:
    ledger = ConfirmLedger(DynamoLedgerStore(), clock)
    claim = take(ledger, "p1", "key-1", H1, 1)
    noise = os.urandom(400_000).hex()
    with pytest.raises(ValueError, match="too large"):
        ledger.finish(claim, "succeeded", {"noise": noise})
    with pytest.raises(InProgress):  # still held by the attempt: nothing half-written
        take(ledger, "p1", "key-1", H1, 1)


def test_twenty_threads_retrying_a_failed_key_get_exactly_one_resume(ledger: ConfirmLedger) -> None:
    first = take(ledger, "p1", "same-key", H1, 2)
    ledger.record_batch(first, 0, summary(0))
    ledger.finish(first, "partially_failed", {"status": "partially_failed"})
    barrier = threading.Barrier(20)

    def attempt(_: int) -> str:
        barrier.wait()
        try:
            claim = take(ledger, "p1", "same-key", H1, 2)
        except InProgress:
            return "in_progress"
        assert claim.done_batches == {0: summary(0)}
        return claim.kind

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(attempt, range(20)))
    assert outcomes.count("resume") == 1
    assert outcomes.count("in_progress") == 19


def test_dynamodb_calls_per_confirm(aws: dict[str, str], calls: Any, clock: ManualClock) -> None:
    """What a confirm costs in DynamoDB requests: 1 to claim, 1 to pin, 1 per accepted batch (2 once
    the lease needs renewing), 1 to finish; a resume reads all batch progress in one BatchGetItem per
    100 batches; a replay is 1 request, made before anything is built."""
    ledger = ConfirmLedger(DynamoLedgerStore(), clock)
    table = aws["IDEMPOTENCY_TABLE"]
    claim = take(ledger, "p1", "key-1", H1, 150)
    assert calls.for_table(table) == ["PutItem", "UpdateItem"]
    for i in range(3):
        ledger.record_batch(claim, i, summary(i))
    ledger.finish(claim, "partially_failed", {})
    assert calls.for_table(table)[2:] == ["PutItem"] * 3 + ["UpdateItem"]

    calls.calls.clear()
    resumed = take(ledger, "p1", "key-1", H1, 150)
    assert sorted(resumed.done_batches) == [0, 1, 2]
    assert calls.for_table(table) == ["PutItem", "UpdateItem", "UpdateItem", "BatchGetItem", "BatchGetItem"]
    clock.advance(900 - 59)  # less than half the lease floor left: the next batch also renews it
    calls.calls.clear()
    assert ledger.record_batch(resumed, 3, summary(3))
    assert calls.for_table(table) == ["PutItem", "UpdateItem"]
    assert resumed.lease_expires_at == clock() + 900
    ledger.finish(resumed, "succeeded", {"status": "succeeded"})

    calls.calls.clear()
    assert ledger.claim("p1", "key-1", fingerprint_of(H1), as_of=clock()).kind == "replay"
    assert calls.for_table(table) == ["PutItem"]


def test_the_lease_follows_the_invocations_deadline(ledger: ConfirmLedger, clock: ManualClock) -> None:
    """Like Powertools' in-progress expiry: an attempt that must end in 300 s holds the key that long."""
    claim = take(ledger, "p1", "key-1", H1, 2, deadline=clock() + 300)
    assert claim.lease_expires_at == clock() + 300
    clock.advance(299)
    with pytest.raises(InProgress) as info:
        take(ledger, "p1", "key-1", H1, 2)
    assert info.value.details["lease_expires_in"] == 1
    clock.advance(2)  # the invocation is over: its claim can be taken over at once
    assert take(ledger, "p1", "key-1", H1, 2).kind == "resume"


def test_the_lease_never_ends_sooner_than_its_floor(ledger_store: Any, clock: ManualClock) -> None:
    ledger = ConfirmLedger(ledger_store, clock, lease_seconds=900, lease_floor=120)
    claim = take(ledger, "p1", "key-1", H1, 3, deadline=clock() + 5)  # almost out of time
    assert claim.lease_expires_at == clock() + 120
    clock.advance(100)  # past the deadline (a local run is not stopped at it): renewals keep the floor
    assert ledger.record_batch(claim, 0, summary(0)) is True
    assert claim.lease_expires_at == clock() + 120
    clock.advance(119)
    with pytest.raises(InProgress):
        take(ledger, "p1", "key-1", H1, 3)


def test_a_renewal_keeps_the_lease_until_the_deadline(ledger: ConfirmLedger, clock: ManualClock) -> None:
    claim = take(ledger, "p1", "key-1", H1, 3, deadline=clock() + 600)
    clock.advance(60)
    assert ledger.record_batch(claim, 0, summary(0)) is True
    assert claim.lease_expires_at == clock() + 540  # the deadline, not now + lease_seconds
    clock.advance(539)
    with pytest.raises(InProgress):
        take(ledger, "p1", "key-1", H1, 3)


def test_without_a_deadline_the_lease_is_lease_seconds(ledger: ConfirmLedger, clock: ManualClock) -> None:
    claim = take(ledger, "p1", "key-1", H1, 1)  # local tools, direct calls without a Lambda context
    assert claim.lease_expires_at == clock() + 900
