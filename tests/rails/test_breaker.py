"""The circuit breaker (SPEC §6) on both backends: opens at 3 failures in 30 minutes, refuses with
retry_after, closes as failures age out, on success and on reset; exact under concurrent failures."""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from capi_writeback.errors import to_api_error
from capi_writeback.rails.breaker.circuit import CircuitBreaker
from capi_writeback.rails.breaker.exceptions import CircuitOpen
from capi_writeback.rails.breaker.persistence.dynamodb import DynamoBreakerStore
from capi_writeback.rails.breaker.persistence.memory import MemoryBreakerStore
from capi_writeback.rails.clock import ManualClock
from capi_writeback.store import client
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.fixture
def breaker(breaker_store: Any, clock: ManualClock) -> CircuitBreaker:
    return CircuitBreaker(breaker_store, clock, threshold=3, window_seconds=1800)


def retry_after(breaker: CircuitBreaker, profile_id: str = "p1") -> int:
    with pytest.raises(CircuitOpen) as info:
        breaker.check(profile_id)
    return info.value.retry_after


def test_opens_at_the_third_failure_and_refuses(breaker: CircuitBreaker, clock: ManualClock) -> None:
    breaker.check("p1")
    assert breaker.record_failure("p1") is False
    clock.advance(60)
    assert breaker.record_failure("p1") is False
    breaker.check("p1")  # two failures: still closed
    clock.advance(60)
    assert breaker.record_failure("p1") is True
    assert retry_after(breaker) == 1800 - 120  # until the first of the three ages out
    breaker.check("p2")  # per profile


def test_error_carries_retry_after_in_body_and_header(breaker: CircuitBreaker, clock: ManualClock) -> None:
    for _ in range(3):
        breaker.record_failure("p1")
    clock.advance(0.4)
    with pytest.raises(CircuitOpen) as info:
        breaker.check("p1")
    assert info.value.retry_after == 1800
    error = to_api_error(info.value)
    assert error.status == 503
    assert error.retry_after == 1800  # 1799.6 rounded up: never tell a caller to come back too early
    assert error.headers["Retry-After"] == "1800"
    assert error.body("req-1")["error"]["retry_after"] == 1800


def test_closes_when_failures_age_out(breaker: CircuitBreaker, clock: ManualClock) -> None:
    for _ in range(3):
        breaker.record_failure("p1")
        clock.advance(100)
    clock.advance(1800 - 300 - 1)  # first failure is 1799 s old
    assert retry_after(breaker) == 1
    clock.advance(1)
    breaker.check("p1")  # it aged out: 2 left, closed


def test_retry_after_counts_how_many_must_age_out(breaker: CircuitBreaker, clock: ManualClock) -> None:
    for _ in range(5):
        breaker.record_failure("p1")
        clock.advance(10)
    # failures at 0,10,20,30,40; now 50: three must age out, the third ages out at 20 + 1800
    assert retry_after(breaker) == 20 + 1800 - 50


def test_success_closes(breaker: CircuitBreaker) -> None:
    for _ in range(3):
        breaker.record_failure("p1")
    breaker.record_success("p1")
    breaker.check("p1")
    assert breaker.record_failure("p1") is False  # counting starts again


def test_reset_closes(breaker: CircuitBreaker) -> None:
    for _ in range(4):
        breaker.record_failure("p1")
    assert breaker.is_open("p1")
    breaker.reset("p1")
    assert not breaker.is_open("p1")
    breaker.reset("never-failed")
    breaker.check("never-failed")


def test_opened_is_reported_again_after_it_closed(breaker: CircuitBreaker, clock: ManualClock) -> None:
    assert [breaker.record_failure("p1") for _ in range(4)] == [False, False, True, False]
    clock.advance(1800)
    assert [breaker.record_failure("p1") for _ in range(3)] == [False, False, True]


def test_aged_out_failures_are_pruned(breaker: CircuitBreaker, breaker_store: Any,
                                      clock: ManualClock) -> None:
    for _ in range(2):
        breaker.record_failure("p1")
    clock.advance(1800)
    breaker.record_failure("p1")
    assert breaker_store.get("p1").failures == (clock(),)


def test_twenty_concurrent_failures_are_all_counted_and_open_once(
        breaker: CircuitBreaker, breaker_store: Any) -> None:
    barrier = threading.Barrier(20)

    def fail(_: int) -> bool:
        barrier.wait()
        return breaker.record_failure("p1")

    with ThreadPoolExecutor(max_workers=20) as pool:
        opened = list(pool.map(fail, range(20)))
    assert opened.count(True) == 1
    assert len(breaker_store.get("p1").failures) == 20
    assert breaker.is_open("p1")


def test_rejects_nonsense_settings(breaker_store: Any) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(breaker_store, threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker(breaker_store, window_seconds=0)


def test_success_without_failures_creates_no_item(aws: dict[str, str], calls: Any,
                                                  clock: ManualClock) -> None:
    breaker = CircuitBreaker(DynamoBreakerStore(), clock)
    breaker.record_success("p1")
    breaker.check("p1")
    table = aws["BREAKER_TABLE"]
    assert calls.count("GetItem", table) == 1
    assert client().get_item(TableName=table, Key={"profile_id": {"S": "p1"}}).get("Item") is None


def test_breaker_item_has_a_ttl_past_the_window(aws: dict[str, str], clock: ManualClock) -> None:
    breaker = CircuitBreaker(DynamoBreakerStore(), clock)
    breaker.record_failure("p1")
    item = client().get_item(TableName=aws["BREAKER_TABLE"], Key={"profile_id": {"S": "p1"}})["Item"]
    assert int(item["ttl"]["N"]) > clock() + 1800
    assert int(item["ttl"]["N"]) <= clock() + 1802


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.just("fail"), st.just("success"), st.just("reset"),
                          st.floats(min_value=0, max_value=2000, allow_nan=False)), max_size=40))
def test_matches_a_plain_model_of_the_rule(steps: list[Any]) -> None:
    """Any sequence of failures, successes, resets and waits: open exactly when >= 3 failures are
    younger than 30 minutes; retry_after exactly when enough of them age out."""
    clock = ManualClock(1_780_000_000.0)
    breaker = CircuitBreaker(MemoryBreakerStore(), clock)
    model: list[float] = []
    for step in steps:
        if step == "fail":
            model.append(round(clock(), 3))
            recent = [t for t in model if clock() - t < 1800]
            assert breaker.record_failure("p") is (len(recent) == 3)
        elif step in ("success", "reset"):
            getattr(breaker, "record_success" if step == "success" else "reset")("p")
            model.clear()
        else:
            clock.advance(step)
        recent = sorted(t for t in model if clock() - t < 1800)
        if len(recent) >= 3:
            expected = max(1, math.ceil(recent[len(recent) - 3] + 1800 - clock()))
            assert retry_after(breaker, "p") == expected
        else:
            breaker.check("p")
