"""Bisection: one bad event no longer sinks its batch; valid events are sent exactly once."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from capi_writeback.meta import MetaClient, MetaClientConfig, MetaCredentials, StaticCredentials
from capi_writeback_local.meta_emulator import MetaEmulator
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from .conftest import PIXEL, SECRET_ID, TOKEN, ClientFactory, make_events


def _bound(batch: int, bad: int) -> int:
    return bad * 2 * math.ceil(math.log2(batch))


@pytest.mark.parametrize("bad_position", [0, 1, 500, 777, 999])
def test_one_bad_event_in_1000(
    bad_position: int, emulator: MetaEmulator, make_client: ClientFactory
) -> None:
    events = make_events(1000, bad={bad_position})
    [result] = make_client().send(PIXEL, SECRET_ID, events)
    assert result.status == "partially_rejected" and result.error is None
    assert result.events_received == 999
    [rejected] = result.rejected
    assert rejected.position == bad_position and rejected.event_id == f"ev-{bad_position}"
    assert (rejected.code, rejected.subcode) == (100, 2804016)
    assert "em parameter" in rejected.message  # Meta's own message
    counts = Counter(e["event_id"] for e in emulator.received_events(PIXEL))
    assert len(counts) == 999 and set(counts.values()) == {1}
    assert f"ev-{bad_position}" not in counts
    extra = len(emulator.ledger()) - 1
    assert extra == result.requests - 1
    assert extra <= _bound(1000, 1)


def test_several_bad_events_each_reported(emulator: MetaEmulator, make_client: ClientFactory) -> None:
    bad = {3, 400, 401, 998}
    events = make_events(1000, bad=bad)
    events[600]["event_time"] = 1  # a different refusal: too old
    [result] = make_client().send(PIXEL, SECRET_ID, events)
    assert result.status == "partially_rejected"
    assert [r.position for r in result.rejected] == sorted({*bad, 600})
    assert {r.subcode for r in result.rejected if r.position == 600} == {2804003}
    assert result.events_received == 995
    counts = Counter(e["event_id"] for e in emulator.received_events(PIXEL))
    assert len(counts) == 995 and set(counts.values()) == {1}
    assert len(emulator.ledger()) - 1 <= _bound(1000, 5)


def test_all_bad_small_batch_fails_without_sending_anything(
    emulator: MetaEmulator, make_client: ClientFactory
) -> None:
    [result] = make_client().send(PIXEL, SECRET_ID, make_events(4, bad={0, 1, 2, 3}))
    assert result.status == "failed" and result.events_received == 0
    assert result.error is not None and result.error.code == 100
    assert len(result.rejected) == 4
    assert emulator.received_events(PIXEL) == []


def test_bisection_cut_short_by_an_outage_never_double_sends(
    emulator: MetaEmulator, make_client: ClientFactory
) -> None:
    events = make_events(8, bad={7})
    # request 1: whole batch refused; 2: left half accepted; from request 3 on Meta is down
    emulator.inject("code_2", after=2)
    [result] = make_client(max_attempts=1).send(PIXEL, SECRET_ID, events)
    assert result.events_received == 4
    assert result.status == "partially_rejected"  # done: resending would duplicate the 4 accepted
    assert result.accepted_positions == [0, 1, 2, 3]
    assert [r.position for r in result.rejected] == [4, 5, 6, 7]
    assert all(r.message.startswith("not sent") for r in result.rejected)


def test_bisection_request_budget(emulator: MetaEmulator, make_client: ClientFactory) -> None:
    # every event bad: isolating all would take ~2n requests; the budget stops it
    [result] = make_client(bisect_max_requests=10).send(PIXEL, SECRET_ID, make_events(64, bad=set(range(64))))
    assert result.status == "failed" and result.events_received == 0
    assert len(emulator.ledger()) <= 11


def test_bisection_property_random_bad_sets() -> None:
    """Any batch size, any bad positions: every valid event exactly once, every bad one reported,
    and at most 2*ceil(log2(n)) extra requests per bad event."""
    with MetaEmulator(tokens=(TOKEN,), pixel_ids=(PIXEL,)) as meta:
        client = MetaClient(
            MetaClientConfig(base_url=meta.url, read_timeout=5.0),
            StaticCredentials({SECRET_ID: MetaCredentials(TOKEN)}),
            sleep=lambda _s: None,
        )

        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.integers(min_value=1, max_value=300).flatmap(
            lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1), max_size=min(n, 6)))
        ))
        @example((1, {0}))
        @example((2, {0, 1}))
        @example((2, {1}))
        def check(case: tuple[int, set[int]]) -> None:
            size, bad = case
            meta.reset()
            [result] = client.send(PIXEL, SECRET_ID, make_events(size, bad=bad))
            counts = Counter(e["event_id"] for e in meta.received_events(PIXEL))
            assert set(counts) == {f"ev-{i}" for i in range(size) if i not in bad}
            assert set(counts.values()) <= {1}
            assert [r.position for r in result.rejected] == sorted(bad)
            assert result.events_received == size - len(bad)
            if bad and size > 1:
                assert len(meta.ledger()) - 1 <= _bound(size, len(bad))
            assert result.status == (
                "accepted" if not bad else "failed" if len(bad) == size else "partially_rejected"
            )

        check()
        client.close()


def test_isolate_without_http_counts_requests_exactly() -> None:
    """The algorithm alone, against a fake Meta that refuses any group holding a bad position."""
    from capi_writeback.meta.errors import MetaError
    from capi_writeback.meta.isolation import isolate

    batch = [{"event_id": f"e{i}", "i": i} for i in range(1000)]
    for bad in ({0}, {999}, {512}, {1, 2}, {10, 500, 990}):
        calls: list[tuple[int, int]] = []

        def attempt(
            offset: int,
            group: list[dict[str, int]],
            bad: set[int] = bad,
            calls: list[tuple[int, int]] = calls,
        ) -> MetaError | None:
            calls.append((offset, len(group)))
            hit = [e["i"] for e in group if e["i"] in bad]
            return MetaError(f"bad {hit[0]}", code=100) if hit else None

        result = isolate(batch, MetaError("whole", code=100), attempt)
        assert [r.position for r in result.rejected] == sorted(bad)
        assert result.accepted == [i for i in range(1000) if i not in bad]
        assert len(calls) <= _bound(1000, len(bad))
        # accepted groups never overlap: every accepted position came from exactly one accepted call
        accepted_calls = [(o, n) for o, n in calls if not any(o <= b < o + n for b in bad)]
        assert sum(n for _o, n in accepted_calls) == 1000 - len(bad)
