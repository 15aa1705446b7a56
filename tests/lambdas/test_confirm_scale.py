"""Confirm at scale (issue 10): the key is looked up before anything is built (replays and keys in
use answer without building), a retry of the same request is the same request even days later, a
crash between Meta's answer and the ledger write resends only that batch, and stored selections
stream through preview, dry-run and confirm."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest
from capi_writeback.auth import Principal
from capi_writeback.contracts.writeback import ConfirmRequest
from capi_writeback.flow import Call, confirm, default_services

from tests.lambdas.conftest import PIXEL_ID, Env, Response, Tenant, conversion_rows, load_handler


class Builds:
    """Counts the builds that start (events.stream_events calls) and the stored-row reads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import capi_writeback.events as events

        self.streams = 0
        self.queries = 0
        original_stream = events.stream_events
        conversions = default_services().conversions
        original_query = conversions.query

        def stream_events(*args: Any, **kwargs: Any) -> Any:
            self.streams += 1
            return original_stream(*args, **kwargs)

        def query(*args: Any, **kwargs: Any) -> Any:
            self.queries += 1
            return original_query(*args, **kwargs)

        monkeypatch.setattr(events, "stream_events", stream_events)
        monkeypatch.setattr(conversions, "query", query)


def store(tenant: Tenant, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 1000):
        response = tenant.call("conversions", {"rows": rows[start:start + 1000]})
        assert response.status == 200 and response.body["stored"] == len(rows[start:start + 1000])


def received(env: Env) -> Counter[str]:
    return Counter(e["event_id"] for e in env.emulator.received_events(PIXEL_ID))


def confirm_rows(tenant: Tenant, key: str, **selection: Any) -> Response:
    return tenant.call("confirm", {**selection, "idempotency_key": key})


def test_thirty_concurrent_confirms_with_one_key_build_once(env: Env,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 10: each of them used to rebuild the payload before the claim (clients only saw 504s).
    Now the claim is the first thing: one attempt builds and sends, the 29 others are answered
    CONFIRM_IN_PROGRESS while it runs, without reading a single row."""
    tenant = env.tenant()
    store(tenant, conversion_rows(2500, now=env.clock()))
    builds = Builds(monkeypatch)
    load_handler("confirm")  # loaded once before the threads race for it
    ledger = default_services().ledger
    original_pin = ledger.pin
    others_answered = threading.Event()

    def pin(*args: Any, **kwargs: Any) -> Any:  # the attempt holding the key waits for the others
        assert others_answered.wait(60), "the other confirms were not answered while one ran"
        return original_pin(*args, **kwargs)

    monkeypatch.setattr(ledger, "pin", pin)
    barrier = threading.Barrier(30)
    results: list[Response] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        response = confirm_rows(tenant, "thirty", last_days=1)
        with lock:
            results.append(response)
            if sum(1 for r in results if r.status == 409) == 29:
                others_answered.set()

    threads = [threading.Thread(target=worker) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes = Counter((r.status, r.error_type, (r.body or {}).get("replayed")) for r in results)
    assert outcomes == {(200, None, False): 1, (409, "CONFIRM_IN_PROGRESS", None): 29}, outcomes
    assert (builds.streams, builds.queries) == (1, 1)  # only the attempt that holds the key built
    ids = received(env)
    assert len(ids) == 2500 and set(ids.values()) == {1}
    refusal = next(r for r in results if r.status == 409)
    assert refusal.body["error"]["details"]["lease_expires_in"] > 0
    assert confirm_rows(tenant, "thirty", last_days=1).body["replayed"] is True


def test_a_replay_answers_from_the_ledger_without_building(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = env.tenant()
    store(tenant, conversion_rows(1200, now=env.clock()))
    first = confirm_rows(tenant, "once", last_days=2)
    assert first.status == 200 and first.body["status"] == "succeeded", first.body
    builds = Builds(monkeypatch)
    requests = len(env.emulator.ledger())

    again = confirm_rows(tenant, "once", last_days=2)
    assert again.status == 200 and again.body["replayed"] is True
    assert again.body["original_request_id"] == first.body["request_id"]
    per_request = ("request_id", "replayed", "original_request_id")
    assert {k: v for k, v in again.body.items() if k not in per_request} == \
        {k: v for k, v in first.body.items() if k not in per_request}
    assert (builds.streams, builds.queries) == (0, 0)
    assert len(env.emulator.ledger()) == requests
    rows = {r["status"]: r for r in env.audit_rows(tenant.profile_id) if r["operation"] == "confirm"}
    assert sorted(rows) == ["replayed", "succeeded"]
    # the replay's audit row still says what was sent: payload, count, window
    said = ("payload_hash", "event_count", "window")
    assert {k: rows["replayed"].get(k) for k in said} == {k: rows["succeeded"].get(k) for k in said}
    assert rows["replayed"]["window"] and rows["replayed"]["event_count"] == 1200


def test_last_days_retried_days_later_replays_instead_of_being_refused(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window of `last_days` moves with the clock, so rebuilding it later gives another payload:
    the retry used to be refused as IDEMPOTENCY_KEY_REUSED. The key stands for the request."""
    tenant = env.tenant()
    store(tenant, conversion_rows(30, now=env.clock()))
    first = confirm_rows(tenant, "weekly", last_days=1, outcome_types=["payment_received", "lead_created"])
    assert first.body["status"] == "succeeded" and first.body["event_count"] == 30
    env.clock.advance(3 * 86400)  # every stored row has left the window since
    builds = Builds(monkeypatch)
    later = confirm_rows(tenant, "weekly", last_days=1, outcome_types=["lead_created", "payment_received"])
    assert later.status == 200 and later.body["replayed"] is True, later.body
    assert later.body["event_count"] == 30 and builds.streams == 0
    # another request under the same key is still compared by its payload: here an empty one
    other = confirm_rows(tenant, "weekly", last_days=2)
    assert (other.status, other.error_type) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert len(received(env)) == 30


def test_a_partial_failure_retried_later_rebuilds_the_first_attempts_window(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resume must rebuild the payload whose batches were accepted: the same request is built as
    of its first attempt, so `last_days` keeps its window even though an hour went by."""
    monkeypatch.setenv("META_CONCURRENCY", "1")
    from capi_writeback.meta.config import MetaClientConfig

    tenant = env.tenant()
    now = env.clock()
    rows = conversion_rows(1500, now=now)
    for i, row in enumerate(rows[:700]):  # these leave a 1-day window within the hour
        row["occurred_at"] = int(now) - 86400 + 600 + i
    store(tenant, rows)
    env.emulator.inject("http_500", count=MetaClientConfig.from_env().max_attempts)  # batch 0 fails
    first = confirm_rows(tenant, "resume-later", last_days=1)
    assert first.status == 200 and first.body["status"] == "partially_failed", first.body
    assert [b["status"] for b in first.body["batches"]] == ["failed", "accepted"]

    env.clock.advance(3600)
    second = confirm_rows(tenant, "resume-later", last_days=1)
    assert second.status == 200 and second.body["status"] == "succeeded", second.body
    assert second.body["payload_hash"] == first.body["payload_hash"]
    ids = received(env)
    assert len(ids) == 1500 and set(ids.values()) == {1}  # batch 1 was not sent again


class _Crash(BaseException):
    """The process dies (not an error the flow could handle)."""


def _call(tenant: Tenant) -> Call:
    principal = Principal(workspace_id=tenant.workspace_id, user_id=tenant.user_id,
                          scopes=frozenset(tenant.scopes.split()))
    return Call(principal, tenant.profile_id, f"req-{time.monotonic_ns()}")


def test_a_crash_between_metas_answer_and_the_ledger_write_resends_only_that_batch(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches recorded before a crash are never sent again. The batch Meta accepted in the instant
    before the process died is unknown to the ledger, so the retry sends it again, with the same
    event ids: Meta counts each event once (event_name + event_id)."""
    monkeypatch.setenv("META_CONCURRENCY", "1")
    tenant = env.tenant()
    rows = conversion_rows(3000, now=env.clock())
    ledger = default_services().ledger
    original = ledger.record_batch

    def record_batch(claim: Any, index: int, summary: Any) -> bool:
        if index == 1:
            raise _Crash()  # Meta accepted batch 1; the process dies before the ledger write
        return original(claim, index, summary)

    monkeypatch.setattr(ledger, "record_batch", record_batch)
    with pytest.raises(_Crash):
        confirm(_call(tenant), ConfirmRequest(rows=rows, idempotency_key="crash"))
    monkeypatch.setattr(ledger, "record_batch", original)
    assert len(received(env)) == 2000  # batches 0 and 1 reached Meta; batch 2 was never started

    refused = confirm_rows(tenant, "crash", rows=rows)  # the dead attempt's lease still runs
    assert (refused.status, refused.error_type) == (409, "CONFIRM_IN_PROGRESS")
    env.clock.advance(901)
    retry = confirm_rows(tenant, "crash", rows=rows)
    assert retry.status == 200 and retry.body["status"] == "succeeded", retry.body
    ids = received(env)
    twice = {event_id for event_id, n in ids.items() if n == 2}
    assert len(ids) == 3000 and len(twice) == 1000 and set(ids.values()) == {1, 2}
    events = env.emulator.received_events(PIXEL_ID)
    second_batch = {e["event_id"] for e in events[1000:2000]}
    assert twice == second_batch  # only the unrecorded batch, never batch 0
    assert len(env.emulator.received_events(PIXEL_ID, dedup=True)) == 3000  # Meta counts each once


def test_a_preview_of_stored_rows_streams_and_agrees_with_confirm(env: Env) -> None:
    tenant = env.tenant()
    rows = conversion_rows(2300, now=env.clock())
    rows[5]["occurred_at"] = rows[6]["occurred_at"]  # a tie: ordered by conversion_id
    store(tenant, rows)
    preview = tenant.call("preview", {"last_days": 1})
    assert preview.status == 200 and preview.body["event_count"] == 2300
    assert len(preview.body["sample_events"]) == 3
    dry = tenant.call("dry_run", {"last_days": 1, "preview_id": preview.body["preview_id"]})
    assert dry.status == 200 and dry.body["events_received"] == 2300, dry.body
    done = confirm_rows(tenant, "pinned", last_days=1, preview_id=preview.body["preview_id"])
    assert done.status == 200 and done.body["payload_hash"] == preview.body["payload_hash"]
    assert [b["event_count"] for b in done.body["batches"]] == [1000, 1000, 300]


def test_payload_changed_is_refused_before_sending_and_frees_the_key(env: Env) -> None:
    tenant = env.tenant()
    store(tenant, conversion_rows(40, now=env.clock()))
    preview = tenant.call("preview", {"last_days": 1}).body
    store(tenant, conversion_rows(1, start=900, now=env.clock()))  # a row arrives after the preview
    refused = confirm_rows(tenant, "pin", last_days=1, preview_id=preview["preview_id"])
    assert (refused.status, refused.error_type) == (409, "PAYLOAD_CHANGED")
    assert env.emulator.ledger() == []
    again = confirm_rows(tenant, "pin", last_days=1)  # the key was given back at once
    assert again.status == 200 and again.body["event_count"] == 41


def test_a_failure_while_building_gives_the_key_back(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Until the payload is pinned nothing is sent, so any failure before that (here the store stops
    answering halfway through the window) releases the key: the retry goes ahead at once."""
    tenant = env.tenant()
    store(tenant, conversion_rows(1500, now=env.clock()))
    conversions = default_services().conversions
    original = conversions.query

    def failing(*args: Any, **kwargs: Any) -> Any:
        for n, row in enumerate(original(*args, **kwargs)):
            if n == 700:
                raise RuntimeError("the table stopped answering")
            yield row

    monkeypatch.setattr(conversions, "query", failing)
    broken = confirm_rows(tenant, "half-read", last_days=1)
    assert (broken.status, broken.error_type) == (500, "INTERNAL")
    assert env.emulator.ledger() == []
    monkeypatch.setattr(conversions, "query", original)
    retry = confirm_rows(tenant, "half-read", last_days=1)
    assert retry.status == 200 and retry.body["status"] == "succeeded", retry.body
    assert len(received(env)) == 1500
