"""The collaborators of the flow, built once per process and replaceable in tests.

Lambda keeps a process warm between invocations, so stores and the Meta client (its connection pool
and cached credentials) are built on first use and reused. Nothing here runs at import time: a boto3
client created before moto starts would talk to real AWS, and cold starts pay for every import.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for the types only: building these imports boto3/urllib3, which waits for first use
    from capi_writeback.meta.client import MetaClient
    from capi_writeback.meta.credentials import SecretsManagerCredentials
    from capi_writeback.rails.audit.log import AuditLog
    from capi_writeback.rails.breaker.circuit import CircuitBreaker
    from capi_writeback.rails.event_ledger.ledger import EventLedger
    from capi_writeback.rails.idempotency.ledger import ConfirmLedger
    from capi_writeback.store.conversions.base import ConversionStore
    from capi_writeback.store.directory.base import DirectoryReader

Clock = Callable[[], float]
MetaFactory = Callable[[str | None], "MetaClient"]


class Services:
    """Stores, rails and the Meta client the flow talks to. What is not given is built here on the
    DynamoDB backends (tables from the environment) and the default Meta client; all share `clock`."""

    def __init__(self, clock: Clock = time.time, *, directory: DirectoryReader | None = None,
                 conversions: ConversionStore | None = None, ledger: ConfirmLedger | None = None,
                 breaker: CircuitBreaker | None = None, audit: AuditLog | None = None,
                 meta_factory: MetaFactory | None = None, event_ledger: EventLedger | None = None) -> None:
        self.clock = clock
        self.directory: DirectoryReader = directory or _dynamo_directory(clock)
        self.conversions: ConversionStore = conversions or _dynamo_conversions(clock)
        self.ledger: ConfirmLedger = ledger or _dynamo_ledger(clock)
        self.breaker: CircuitBreaker = breaker or _dynamo_breaker(clock)
        self.audit: AuditLog = audit or _dynamo_audit()
        self.event_ledger: EventLedger = event_ledger or _dynamo_event_ledger(clock)
        self.meta_factory = meta_factory
        self._meta: dict[str | None, MetaClient] = {}
        self._lock = threading.Lock()

    def meta(self, api_version: str | None = None) -> MetaClient:
        """The Meta client for a Graph API version (the connection's, else the configured default)."""
        with self._lock:
            client = self._meta.get(api_version)
            if client is None:
                factory = self.meta_factory or _default_meta_client
                client = self._meta[api_version] = factory(api_version)
            return client


def _dynamo_directory(clock: Clock) -> DirectoryReader:
    from capi_writeback.store.directory.dynamodb import DynamoDirectoryStore

    return DynamoDirectoryStore(clock=clock)


def _dynamo_conversions(clock: Clock) -> ConversionStore:
    from capi_writeback.store.conversions.dynamodb import DynamoConversionStore

    return DynamoConversionStore(clock=clock)


def _dynamo_ledger(clock: Clock) -> ConfirmLedger:
    from capi_writeback.rails.idempotency.ledger import ConfirmLedger
    from capi_writeback.rails.idempotency.persistence.dynamodb import DynamoLedgerStore

    return ConfirmLedger(DynamoLedgerStore(), clock)


def _dynamo_event_ledger(clock: Clock) -> EventLedger:
    from capi_writeback.rails.event_ledger.ledger import EventLedger
    from capi_writeback.rails.event_ledger.persistence.dynamodb import DynamoEventLedgerStore

    return EventLedger(DynamoEventLedgerStore(), clock)


def _dynamo_breaker(clock: Clock) -> CircuitBreaker:
    from capi_writeback.rails.breaker.circuit import CircuitBreaker
    from capi_writeback.rails.breaker.persistence.dynamodb import DynamoBreakerStore

    return CircuitBreaker(DynamoBreakerStore(), clock)


def _dynamo_audit() -> AuditLog:
    from capi_writeback.rails.audit.log import AuditLog
    from capi_writeback.rails.audit.persistence.dynamodb import DynamoAuditStore

    return AuditLog(DynamoAuditStore())


def _default_meta_client(api_version: str | None) -> MetaClient:
    from capi_writeback.meta.client import MetaClient
    from capi_writeback.meta.config import MetaClientConfig

    config = MetaClientConfig.from_env()
    if api_version:
        config = dataclasses.replace(config, api_version=api_version)
    return MetaClient(config, _credentials())


_CREDENTIALS: SecretsManagerCredentials | None = None


def _credentials() -> SecretsManagerCredentials:
    """One credentials cache per process, shared by the clients of every API version."""
    global _CREDENTIALS
    if _CREDENTIALS is None:
        from capi_writeback.meta.credentials import SecretsManagerCredentials

        _CREDENTIALS = SecretsManagerCredentials()
    return _CREDENTIALS


_DEFAULT: Services | None = None
_DEFAULT_LOCK = threading.Lock()


def default_services() -> Services:
    """The process-wide services (built on first call)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = Services()
        return _DEFAULT


def set_default_services(services: Services | None) -> None:
    """Replace (or with None, forget) the process-wide services: tests, local server, new env."""
    global _DEFAULT, _CREDENTIALS
    with _DEFAULT_LOCK:
        _DEFAULT = services
        if services is None:
            _CREDENTIALS = None
