"""Confirm's safety rails end to end: idempotency, concurrency, partial failure + retry, circuit breaker,
and the Meta failure errors."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from tests.lambdas.conftest import PIXEL_ID, Env, Response, Tenant, conversion_rows


def _confirm(tenant: Tenant, rows: list[dict[str, Any]], key: str | None, **extra: Any) -> Response:
    body: dict[str, Any] = {"rows": rows, **extra}
    if key is not None:
        body["idempotency_key"] = key
    return tenant.call("confirm", body)


def _event_ids(env: Env) -> Counter[str]:
    return Counter(e["event_id"] for e in env.emulator.received_events(PIXEL_ID))


@pytest.mark.parametrize("key", [None, ""])
def test_idempotency_key_required(env: Env, key: str | None) -> None:
    tenant = env.tenant()
    response = _confirm(tenant, conversion_rows(2), key)
    assert (response.status, response.error_type) == (422, "IDEMPOTENCY_KEY_REQUIRED")
    assert env.emulator.ledger() == []


def test_key_reused_for_a_different_payload(env: Env) -> None:
    tenant = env.tenant()
    assert _confirm(tenant, conversion_rows(2), "k1").body["status"] == "succeeded"
    response = _confirm(tenant, conversion_rows(3), "k1")
    assert (response.status, response.error_type) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert len(env.emulator.received_events(PIXEL_ID)) == 2
    # the same key on another profile is another key
    other = env.tenant()
    assert _confirm(other, conversion_rows(3), "k1").body["status"] == "succeeded"


def test_confirm_in_progress(env: Env) -> None:
    from capi_writeback.flow import default_services

    tenant = env.tenant()
    rows = conversion_rows(2)
    default_services().ledger.claim(tenant.profile_id, "busy", "someone else's request",
                                    as_of=env.clock())  # another attempt holds the key
    response = _confirm(tenant, rows, "busy")
    assert (response.status, response.error_type) == (409, "CONFIRM_IN_PROGRESS")
    assert env.emulator.ledger() == []
    env.clock.advance(901)  # the other attempt's lease ran out: this one takes over
    assert _confirm(tenant, rows, "busy").body["status"] == "succeeded"


def test_payload_changed(env: Env) -> None:
    tenant = env.tenant()
    preview = tenant.call("preview", {"rows": conversion_rows(3)}).body
    changed = conversion_rows(3)
    changed[1]["value"] = 1000
    for step, extra in (("dry_run", {}), ("confirm", {"idempotency_key": "k"})):
        response = tenant.call(step, {"rows": changed, "preview_id": preview["preview_id"], **extra})
        assert (response.status, response.error_type) == (409, "PAYLOAD_CHANGED")
        assert response.body["error"]["details"]["current_preview_id"] != preview["preview_id"]
    assert env.emulator.ledger() == []


def test_test_event_code_required(env: Env) -> None:
    tenant = env.tenant(test_event_code=None)
    response = tenant.call("dry_run", {"rows": conversion_rows(1)})
    assert (response.status, response.error_type) == (422, "TEST_EVENT_CODE_REQUIRED")
    ok = tenant.call("dry_run", {"rows": conversion_rows(1), "test_event_code": "TEST999"})
    assert ok.status == 200 and ok.body["test_event_code"] == "TEST999"
    assert env.emulator.test_event_codes() == ["TEST999"]


def test_twenty_threads_one_key_each_event_sent_once(env: Env) -> None:
    tenant = env.tenant()
    rows = conversion_rows(40)
    results: list[Response] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def worker() -> None:
        barrier.wait()
        response = _confirm(tenant, rows, "same-key")
        with lock:
            results.append(response)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes = Counter((r.status, r.error_type, r.body.get("replayed")) for r in results)
    assert outcomes[(200, None, False)] == 1, outcomes
    assert set(outcomes) <= {(200, None, False), (200, None, True), (409, "CONFIRM_IN_PROGRESS", None)}
    ids = _event_ids(env)
    assert len(ids) == 40 and set(ids.values()) == {1}


def test_partial_failure_then_retry_sends_nothing_twice(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("META_CONCURRENCY", "1")  # batch 0 meets the faults, batch 1 does not
    tenant = env.tenant()
    rows = conversion_rows(1500)
    from capi_writeback.meta.config import MetaClientConfig

    # exactly the attempts the client makes for one batch: batch 0 fails, batch 1 is untouched
    env.emulator.inject("http_500", count=MetaClientConfig.from_env().max_attempts)
    first = _confirm(tenant, rows, "big-1")
    assert first.status == 200, first.body
    assert first.body["status"] == "partially_failed"
    assert [b["status"] for b in first.body["batches"]] == ["failed", "accepted"]
    assert first.body["events_received"] == 500
    assert len(_event_ids(env)) == 500

    second = _confirm(tenant, rows, "big-1")
    assert second.status == 200, second.body
    assert second.body["status"] == "succeeded" and second.body["replayed"] is False
    assert second.body["events_received"] == 1500
    ids = _event_ids(env)
    assert len(ids) == 1500 and set(ids.values()) == {1}  # no event sent twice

    third = _confirm(tenant, rows, "big-1")
    assert third.body["replayed"] is True and len(_event_ids(env)) == 1500


def test_meta_unavailable_when_every_batch_fails_on_outages(env: Env) -> None:
    tenant = env.tenant()
    env.emulator.inject("http_503")
    rows = conversion_rows(3)  # once: conversion_rows() stamps rows with the current second
    response = _confirm(tenant, rows, "down-1")
    assert (response.status, response.error_type) == (504, "META_UNAVAILABLE")
    details = response.body["error"]["details"]
    assert details["status"] == "failed" and details["batches"][0]["status"] == "failed"
    env.emulator.clear_faults()
    retry = _confirm(tenant, rows, "down-1")  # the key was released for a retry
    assert retry.body["status"] == "succeeded"


def test_meta_rejected_carries_meta_code_and_fix(env: Env) -> None:
    tenant = env.tenant()
    env.emulator.remove_token("meta-secret-token-abc123")
    try:
        for step, extra in (("dry_run", {}), ("confirm", {"idempotency_key": "rej"})):
            response = tenant.call(step, {"rows": conversion_rows(2), **extra})
            assert (response.status, response.error_type) == (502, "META_REJECTED"), response.body
            error = response.body["error"]
            assert error["details"]["code"] == 190
            assert error["details"]["fbtrace_id"]
            assert error["fix"]
    finally:
        env.emulator.add_token("meta-secret-token-abc123")


def test_breaker_opens_after_three_failures_and_closes_after_the_window(env: Env) -> None:
    tenant = env.tenant()
    env.emulator.inject("http_503")
    for i in range(3):
        assert _confirm(tenant, conversion_rows(1, start=i), f"fail-{i}").error_type == "META_UNAVAILABLE"
    env.emulator.clear_faults()
    requests = len(env.emulator.ledger())

    refused = _confirm(tenant, conversion_rows(1, start=10), "after")
    assert (refused.status, refused.error_type) == (503, "CIRCUIT_OPEN")
    retry_after = refused.body["error"]["retry_after"]
    assert 0 < retry_after <= 1801  # the 30-minute window (rounded up)
    assert refused.headers["Retry-After"] == str(retry_after)
    assert len(env.emulator.ledger()) == requests  # Meta was not called
    assert tenant.call("preview", {"rows": conversion_rows(1)}).status == 200  # only confirm is guarded

    env.clock.advance(retry_after + 1)
    assert _confirm(tenant, conversion_rows(1, start=10), "after").body["status"] == "succeeded"


def test_a_succeeded_key_still_replays_while_the_breaker_is_open(env: Env) -> None:
    """SPEC §6: same key + same payload after success → the stored result, breaker or not."""
    from capi_writeback.flow import default_services

    tenant = env.tenant()
    rows = conversion_rows(2, start=40)
    first = _confirm(tenant, rows, "paid-once")
    assert first.body["status"] == "succeeded"
    for _ in range(3):
        default_services().breaker.record_failure(tenant.profile_id)
    requests = len(env.emulator.ledger())

    again = _confirm(tenant, rows, "paid-once")
    assert again.status == 200, again.body
    assert again.body["replayed"] is True
    assert again.body["batches"] == first.body["batches"]
    assert _confirm(tenant, rows, "new-key").error_type == "CIRCUIT_OPEN"
    assert _confirm(tenant, conversion_rows(1, start=90), "paid-once").error_type == "CIRCUIT_OPEN"
    assert len(env.emulator.ledger()) == requests  # Meta was not called
    statuses = [r["status"] for r in env.audit_rows(tenant.profile_id) if r["operation"] == "confirm"]
    assert statuses.count("replayed") == 1


def test_admin_reset_closes_the_breaker(env: Env) -> None:
    from capi_writeback.flow import default_services

    tenant = env.tenant()
    for _ in range(3):
        default_services().breaker.record_failure(tenant.profile_id)
    assert _confirm(tenant, conversion_rows(1), "r").error_type == "CIRCUIT_OPEN"
    tenant.set_role("member")
    assert tenant.call("breaker_reset").error_type == "INSUFFICIENT_ROLE"
    tenant.set_role("admin")
    reset = tenant.call("breaker_reset")
    assert reset.status == 200 and reset.body["breaker"] == "closed"
    assert _confirm(tenant, conversion_rows(1), "r").body["status"] == "succeeded"
    operations = [r["operation"] for r in env.audit_rows(tenant.profile_id)]
    assert operations.count("breaker_reset") == 2  # the refused reset is audited too


def test_a_successful_confirm_closes_the_failure_window(env: Env) -> None:
    tenant = env.tenant()
    env.emulator.inject("http_503")
    for i in range(2):
        assert _confirm(tenant, conversion_rows(1, start=i), f"f-{i}").error_type == "META_UNAVAILABLE"
    env.emulator.clear_faults()
    assert _confirm(tenant, conversion_rows(1, start=5), "ok").body["status"] == "succeeded"
    env.emulator.inject("http_503")
    assert _confirm(tenant, conversion_rows(1, start=6), "f-3").error_type == "META_UNAVAILABLE"
    env.emulator.clear_faults()
    # two failures before the success no longer count: one failure is far from the threshold of 3
    assert _confirm(tenant, conversion_rows(1, start=7), "after").body["status"] == "succeeded"


def test_a_confirm_with_nothing_to_send_does_not_close_the_breaker_window(env: Env) -> None:
    tenant = env.tenant()
    env.emulator.inject("http_503")
    for i in range(2):
        assert _confirm(tenant, conversion_rows(1, start=i), f"f-{i}").error_type == "META_UNAVAILABLE"
    env.emulator.clear_faults()
    stale = [{**row, "occurred_at": 1_000_000} for row in conversion_rows(1, start=50)]  # skipped: too old
    empty = _confirm(tenant, stale, "nothing")
    assert (empty.body["status"], empty.body["event_count"]) == ("succeeded", 0)
    env.emulator.inject("http_503")
    assert _confirm(tenant, conversion_rows(1, start=6), "f-3").error_type == "META_UNAVAILABLE"
    env.emulator.clear_faults()
    # the empty confirm did not wipe the two earlier failures: this third one opened the breaker
    assert _confirm(tenant, conversion_rows(1, start=7), "after").error_type == "CIRCUIT_OPEN"


def test_a_confirm_with_many_long_skipped_ids_is_still_stored_and_replayable(env: Env) -> None:
    """The stored result must stay under the ledger's size bound whatever the input: a confirm whose
    result lists 1,000 skipped rows with long, incompressible conversion ids once answered 500 after
    sending, and left its key stuck (CONFIRM_IN_PROGRESS, then 500 on every retry)."""
    import random
    import string

    tenant = env.tenant()
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + string.punctuation
    skipped = [{"conversion_id": "".join(rng.choice(alphabet) for _ in range(600)),
                "outcome_type": "payment_received"} for _ in range(1000)]  # no occurred_at: skipped
    rows = conversion_rows(1) + skipped
    first = _confirm(tenant, rows, "long-ids")
    assert first.status == 200, first.body
    assert first.body["status"] == "succeeded" and first.body["skipped_count"] == 1000
    again = _confirm(tenant, rows, "long-ids")
    assert again.status == 200, again.body
    assert again.body["replayed"] is True and again.body["skipped_count"] == 1000
    assert len(_event_ids(env)) == 1


def test_an_attempt_that_lost_its_lease_stops_sending(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once another attempt has taken the key over, this one must not start more batches: the other
    attempt sends every batch not recorded when it took over, so both would send them."""
    from capi_writeback.flow import default_services

    monkeypatch.setenv("META_CONCURRENCY", "1")
    tenant = env.tenant()
    rows = conversion_rows(3000)
    ledger = default_services().ledger
    original = ledger.record_batch
    takeovers = []

    def record_batch(claim: Any, index: int, summary: Any) -> bool:
        if not takeovers:  # this attempt stalled past its lease; another one took the key over
            env.clock.advance(901)
            takeovers.append(ledger.claim(tenant.profile_id, "stall", "a retry", as_of=env.clock()))
        return original(claim, index, summary)

    monkeypatch.setattr(ledger, "record_batch", record_batch)
    env.emulator.inject("latency", latency_ms=300)  # batch 2 is not started before batch 0 is recorded
    response = _confirm(tenant, rows, "stall")
    env.emulator.clear_faults()
    assert takeovers[0].kind == "resume"
    assert (response.status, response.error_type) == (409, "CONFIRM_IN_PROGRESS"), response.body
    assert len(_event_ids(env)) <= 2000  # the batch in flight finishes; no new batch starts
