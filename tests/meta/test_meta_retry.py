"""Retries: each transient class is retried then succeeds; refusals are never retried; budgets hold."""

from __future__ import annotations

import pytest
from capi_writeback.meta import MetaAuthError, MetaError, MetaRejectedError, MetaUnavailableError, RetryPolicy
from capi_writeback.meta.retry import NEVER_RETRY_CODES, TRANSIENT_CODES
from capi_writeback_local.meta_emulator import MetaEmulator

from .conftest import PIXEL, SECRET_ID, ClientFactory, Sleeps, make_events

TRANSIENT_FAULTS = [
    "http_500", "http_503", "code_2", "code_4", "code_17", "code_613", "code_80004", "timeout",
]
THROTTLING_FAULTS = {"code_4", "code_17", "code_613", "code_80004"}


@pytest.mark.parametrize("fault", TRANSIENT_FAULTS)
def test_transient_failure_is_retried_then_succeeds(
    fault: str, emulator: MetaEmulator, make_client: ClientFactory, sleeps: Sleeps
) -> None:
    emulator.inject(fault, count=2)
    client = make_client(read_timeout=0.3 if fault == "timeout" else 5.0)
    [result] = client.send(PIXEL, SECRET_ID, make_events(5))
    assert result.status == "accepted" and result.events_received == 5
    assert result.requests == 3
    assert [e["fault"] for e in emulator.ledger()] == [fault, fault, None]
    assert len(emulator.received_events(PIXEL)) == 5  # the failed attempts stored nothing
    assert len(sleeps.calls) == 2
    if fault in THROTTLING_FAULTS:  # throttling waits longer than the ordinary backoff cap
        assert all(wait >= RetryPolicy().throttle_min for wait in sleeps.calls)
    else:
        assert all(wait <= RetryPolicy().backoff_max for wait in sleeps.calls)


def test_connection_refused_is_transient(make_client: ClientFactory, sleeps: Sleeps) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    [result] = make_client(base_url=f"http://127.0.0.1:{port}", max_attempts=3).send(
        PIXEL, SECRET_ID, make_events(1)
    )
    assert isinstance(result.error, MetaUnavailableError)
    assert result.requests == 3 and len(sleeps.calls) == 2


@pytest.mark.parametrize("fault", ["code_190"])
def test_token_error_is_not_retried_when_the_secret_did_not_change(
    fault: str, emulator: MetaEmulator, make_client: ClientFactory, sleeps: Sleeps
) -> None:
    emulator.inject(fault, count=1)
    [result] = make_client().send(PIXEL, SECRET_ID, make_events(5))
    assert isinstance(result.error, MetaAuthError)
    assert result.status == "failed" and result.error.code == 190
    assert "Reconnect Meta" in result.error.fix
    assert len(emulator.ledger()) == 1 and sleeps.calls == []


def test_validation_error_is_not_retried(
    emulator: MetaEmulator, make_client: ClientFactory, sleeps: Sleeps
) -> None:
    [result] = make_client().send(PIXEL, SECRET_ID, make_events(1, bad={0}))
    assert isinstance(result.error, MetaRejectedError)
    assert (result.error.code, result.error.subcode) == (100, 2804016)
    assert [r.position for r in result.rejected] == [0] and result.status == "failed"
    assert len(emulator.ledger()) == 1 and sleeps.calls == []


def test_attempts_are_bounded(emulator: MetaEmulator, make_client: ClientFactory, sleeps: Sleeps) -> None:
    emulator.inject("code_2")  # always
    [result] = make_client(max_attempts=4).send(PIXEL, SECRET_ID, make_events(2))
    assert isinstance(result.error, MetaUnavailableError) and result.error.code == 2
    assert "retry" in result.error.fix.lower()
    assert len(emulator.ledger()) == 4 and len(sleeps.calls) == 3
    assert emulator.received_events(PIXEL) == []


def test_total_time_is_bounded(emulator: MetaEmulator, make_client: ClientFactory, sleeps: Sleeps) -> None:
    emulator.inject("code_17")  # throttled for good: each wait is >= throttle_min (5 s)
    [result] = make_client(max_attempts=50, max_total_seconds=12.0, rng=lambda: 0.0).send(
        PIXEL, SECRET_ID, make_events(2)
    )
    assert isinstance(result.error, MetaUnavailableError)
    assert sum(sleeps.calls) <= 12.0
    assert len(emulator.ledger()) == 3  # waits of 5 + 5 fit in 12 s, a third would not


def test_timeout_exhaustion_is_unavailable(emulator: MetaEmulator, make_client: ClientFactory) -> None:
    emulator.inject("timeout")
    [result] = make_client(read_timeout=0.2, max_attempts=2).send(PIXEL, SECRET_ID, make_events(1))
    assert isinstance(result.error, MetaUnavailableError)
    assert "timed out" in result.error.message
    assert result.requests == 2


# -- the policy as plain data --------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(TRANSIENT_CODES))
def test_policy_retries_transient_codes(code: int) -> None:
    assert RetryPolicy().is_retryable(MetaError("x", code=code, http_status=400))


@pytest.mark.parametrize("code", [100, 190, 102, 3, 10, 200, 250, 299])
def test_policy_never_retries_refusals_even_if_marked_transient(code: int) -> None:
    assert code in NEVER_RETRY_CODES
    assert not RetryPolicy().is_retryable(MetaError("x", code=code, is_transient=True, http_status=500))


def test_policy_classifies_unknown_codes_and_network_errors() -> None:
    policy = RetryPolicy()
    assert policy.is_retryable(MetaError("net"))  # no code, no status: network error / timeout
    assert policy.is_retryable(MetaError("5xx", http_status=502))
    assert policy.is_retryable(MetaError("flag", code=9999, is_transient=True, http_status=400))
    assert not policy.is_retryable(MetaError("4xx", code=9999, http_status=400))
    assert not policy.is_retryable(MetaError("junk 4xx", http_status=404))


def test_backoff_is_exponential_with_full_jitter_and_caps() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=8.0)
    plain = MetaError("x", code=2)
    assert [policy.backoff(n, plain, lambda: 1.0) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert policy.backoff(3, plain, lambda: 0.0) == 0.0
    assert policy.backoff(3, plain, lambda: 0.25) == 0.5
    throttled = MetaError("x", code=613)
    assert policy.backoff(1, throttled, lambda: 0.0) == policy.throttle_min
    assert policy.backoff(10, throttled, lambda: 1.0) == policy.throttle_max
    assert policy.may_retry(1, 0.0, 1.0) and not policy.may_retry(policy.max_attempts, 0.0, 0.0)
    assert not policy.may_retry(1, policy.max_total_seconds - 0.5, 1.0)
