"""Fixtures for the Meta client tests: the project's emulator on 127.0.0.1 and a fast client."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection, Iterator
from typing import Any

import pytest
from capi_writeback.meta import (
    MetaClient,
    MetaClientConfig,
    MetaCredentials,
    RetryPolicy,
    StaticCredentials,
)
from capi_writeback_local.meta_emulator import MetaEmulator

TOKEN = "tok-SECRET-abc123-do-not-leak"
PIXEL = "1234567890"
SECRET_ID = "capi-writeback/connections/prof_1"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_events(count: int, *, bad: Collection[int] = (), now: float | None = None) -> list[dict[str, Any]]:
    """Valid Purchase events; positions in `bad` carry an unhashed email (Meta refuses the batch)."""
    moment = int(now if now is not None else time.time()) - 60
    events = []
    for i in range(count):
        email = f"user{i}@example.com"
        events.append(
            {
                "event_name": "Purchase",
                "event_time": moment,
                "event_id": f"ev-{i}",
                "action_source": "system_generated",
                "user_data": {"em": [email if i in bad else sha(email)], "external_id": [sha(f"c{i}")]},
                "custom_data": {"value": 10.0, "currency": "USD"},
            }
        )
    return events


class Sleeps:
    """A fake `sleep` that records the waits instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)

    def clock(self) -> float:
        """Real monotonic time plus the time the recorded sleeps would have taken."""
        return time.monotonic() + sum(self.calls)


@pytest.fixture
def emulator() -> Iterator[MetaEmulator]:
    with MetaEmulator(tokens=(TOKEN,), pixel_ids=(PIXEL,), hang_seconds=5.0, seed=7) as meta:
        yield meta


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


ClientFactory = Callable[..., MetaClient]


@pytest.fixture
def make_client(emulator: MetaEmulator, sleeps: Sleeps) -> Iterator[ClientFactory]:
    clients: list[MetaClient] = []

    def factory(
        credentials: Any = None, *, rng: Callable[[], float] = lambda: 0.5, **overrides: Any
    ) -> MetaClient:
        settings: dict[str, Any] = {
            "base_url": emulator.url,
            "connect_timeout": 1.0,
            "read_timeout": 5.0,  # tests of timeouts pass a short one
            "max_attempts": 4,
            "max_total_seconds": 120.0,
            "retry": RetryPolicy(),
        }
        settings.update(overrides)
        client = MetaClient(
            MetaClientConfig(**settings),
            credentials or StaticCredentials({SECRET_ID: MetaCredentials(TOKEN)}),
            sleep=sleeps,
            rng=rng,
            clock=sleeps.clock,
        )
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()
