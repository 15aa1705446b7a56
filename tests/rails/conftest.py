"""Fixtures for the rails: moto DynamoDB tables built from template.yaml, a manual clock, and each
store interface under both backends (the rules must hold the same on DynamoDB and in memory)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from capi_writeback import store
from capi_writeback.rails.audit.persistence.dynamodb import DynamoAuditStore
from capi_writeback.rails.audit.persistence.memory import MemoryAuditStore
from capi_writeback.rails.breaker.persistence.dynamodb import DynamoBreakerStore
from capi_writeback.rails.breaker.persistence.memory import MemoryBreakerStore
from capi_writeback.rails.clock import ManualClock
from capi_writeback.rails.idempotency.persistence.dynamodb import DynamoLedgerStore
from capi_writeback.rails.idempotency.persistence.memory import MemoryLedgerStore
from capi_writeback_local.stack import create_tables
from moto import mock_aws

START = 1_780_000_000.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A fresh moto account with every table of template.yaml; env vars point the stores at them.

    moto's DynamoDB is made per-request atomic for the whole session (tests/conftest.py), so the
    concurrency tests test our code, not moto's races.
    """
    with mock_aws():
        store.reset_client()
        client = boto3.client("dynamodb", region_name=os.environ["AWS_DEFAULT_REGION"])
        tables = create_tables(client)
        for env_var, name in tables.items():
            monkeypatch.setenv(env_var, name)
        yield tables
        store.reset_client()


class CallCounter:
    """Counts DynamoDB API calls per (operation, table) through a botocore `before-call` hook."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, dict[str, Any]]] = []

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        raw = params.get("body") or b"{}"
        body = json.loads(raw) if isinstance(raw, bytes | str) else raw
        table = body.get("TableName") if isinstance(body, dict) else None
        if table is None and isinstance(body, dict) and isinstance(body.get("RequestItems"), dict):
            table = ",".join(sorted(body["RequestItems"]))
        self.calls.append((model.name, table, body if isinstance(body, dict) else {}))

    def count(self, operation: str, table: str | None = None) -> int:
        return sum(1 for op, t, _ in self.calls
                   if op == operation and (table is None or (t is not None and table in t.split(","))))

    def for_table(self, table: str) -> list[str]:
        return [op for op, t, _ in self.calls if t is not None and table in t.split(",")]


@pytest.fixture
def calls(aws: dict[str, str]) -> CallCounter:
    """Every DynamoDB call the shared client makes from now on."""
    counter = CallCounter()
    store.client().meta.events.register("before-call.dynamodb.*", counter)
    return counter


def _backends(
    make_memory: Callable[[], Any], make_dynamo: Callable[[], Any]
) -> Callable[[pytest.FixtureRequest], Any]:
    def build(request: pytest.FixtureRequest) -> Any:
        if request.param == "memory":
            return make_memory()
        request.getfixturevalue("aws")
        return make_dynamo()
    return build


@pytest.fixture(params=["memory", "dynamodb"])
def ledger_store(request: pytest.FixtureRequest) -> Any:
    return _backends(MemoryLedgerStore, DynamoLedgerStore)(request)


@pytest.fixture(params=["memory", "dynamodb"])
def breaker_store(request: pytest.FixtureRequest) -> Any:
    return _backends(MemoryBreakerStore, DynamoBreakerStore)(request)


@pytest.fixture(params=["memory", "dynamodb"])
def audit_store(request: pytest.FixtureRequest) -> Any:
    return _backends(MemoryAuditStore, DynamoAuditStore)(request)
