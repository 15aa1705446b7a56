"""The flow on in-memory stores (no moto), a conversion store that makes its rows as they are read,
and the Meta emulator in a process of its own (what it receives is not charged to the flow)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from capi_writeback.auth import Principal
from capi_writeback.flow import Call, Services
from capi_writeback.meta import MetaClient, MetaClientConfig, MetaCredentials, StaticCredentials
from capi_writeback.rails.audit.log import AuditLog
from capi_writeback.rails.audit.persistence.memory import MemoryAuditStore
from capi_writeback.rails.breaker.circuit import CircuitBreaker
from capi_writeback.rails.breaker.persistence.memory import MemoryBreakerStore
from capi_writeback.rails.idempotency.ledger import ConfirmLedger
from capi_writeback.rails.idempotency.persistence.memory import MemoryLedgerStore
from capi_writeback.store.directory.memory import MemoryDirectoryStore

ROOT = Path(__file__).resolve().parents[2]
PIXEL = "1234567890"
TOKEN = "flow-test-token"
SECRET_ID = "capi-writeback/connections/prof_flow"
PROFILE = "prof_flow"


class GeneratedConversions:
    """A ConversionStore whose window holds `count` rows, made one at a time as they are read (the
    store's own memory is not what a flat-memory test measures)."""

    def __init__(self, count: int, now: float) -> None:
        self.count = count
        self.now = int(now)

    def put_rows(self, profile_id: str, rows: Iterable[Any]) -> int:
        raise NotImplementedError

    def query(self, profile_id: str, start: float, end: float,
              outcome_types: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        for i in range(self.count):
            yield {"conversion_id": f"m{i:07d}", "outcome_type": "payment_received",
                   "occurred_at": self.now - 3600 + i // 1000, "em": [f"{i:064x}"], "ph": [f"{i + 7:064x}"],
                   "client_ip_address": "203.0.113.7", "client_user_agent": "Mozilla/5.0",
                   "fbp": f"fb.1.1700000000000.{i}", "value": 10 + i % 7, "currency": "USD"}


@pytest.fixture(scope="session")
def meta_url() -> Iterator[str]:
    paths = [str(ROOT / "local"), str(ROOT / "layers/capi_writeback")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    process = subprocess.Popen(
        [sys.executable, "-m", "capi_writeback_local.cli", "meta-emulator", "--token", TOKEN,
         "--pixel-id", PIXEL, "--no-ledger-events"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def make_services(meta_url: str, conversions: Any, clock: Any = time.time) -> Services:
    directory = MemoryDirectoryStore(clock=clock)
    directory.put_workspace("ws_flow", name="Flow", writeback_enabled=True)
    directory.put_member("ws_flow", "u_flow", "owner")
    directory.put_profile(PROFILE, workspace_id="ws_flow", name="Flow",
                          settings={"action_source": "system_generated", "country": "US", "currency": "USD"},
                          connection={"pixel_id": PIXEL, "secret_id": SECRET_ID, "status": "active",
                                      "test_event_code": "TEST1"})
    credentials = StaticCredentials({SECRET_ID: MetaCredentials(TOKEN)})

    def meta_factory(api_version: str | None) -> MetaClient:
        return MetaClient(MetaClientConfig(base_url=meta_url, concurrency=4), credentials)

    return Services(clock, directory=directory, conversions=conversions,
                    ledger=ConfirmLedger(MemoryLedgerStore(), clock),
                    breaker=CircuitBreaker(MemoryBreakerStore(), clock), audit=AuditLog(MemoryAuditStore()),
                    meta_factory=meta_factory)


def owner_call(request_id: str = "req-flow") -> Call:
    return Call(Principal(workspace_id="ws_flow", user_id="u_flow", scopes=frozenset({"mcp:write"})),
                PROFILE, request_id)
