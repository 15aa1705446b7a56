"""The collaborators of the flow, built lazily once per process and replaceable in tests.

Lambda keeps a process warm between invocations, so stores and the Meta client (its connection pool
and cached credentials) are built on first use and reused. Nothing here runs at import time: a boto3
client created before moto starts would talk to real AWS, and cold starts pay for every import.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Clock = Callable[[], float]


@dataclass
class Services:
    """Stores, rails and the Meta client the flow talks to. Unset fields are built on first use."""

    clock: Clock = time.time
    directory: Any = None
    conversions: Any = None
    ledger: Any = None
    breaker: Any = None
    audit: Any = None
    meta_factory: Callable[[str | None], Any] | None = None
    _meta: dict[str | None, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.directory is None:
            from capi_writeback.store.directory.dynamodb import DynamoDirectoryStore

            self.directory = DynamoDirectoryStore(clock=self.clock)
        if self.conversions is None:
            from capi_writeback.store.conversions.dynamodb import DynamoConversionStore

            self.conversions = DynamoConversionStore(clock=self.clock)
        if self.ledger is None:
            from capi_writeback.rails.idempotency import ConfirmLedger
            from capi_writeback.rails.idempotency.persistence.dynamodb import DynamoLedgerStore

            self.ledger = ConfirmLedger(DynamoLedgerStore(), self.clock)
        if self.breaker is None:
            from capi_writeback.rails.breaker import CircuitBreaker
            from capi_writeback.rails.breaker.persistence.dynamodb import DynamoBreakerStore

            self.breaker = CircuitBreaker(DynamoBreakerStore(), self.clock)
        if self.audit is None:
            from capi_writeback.rails.audit import AuditLog
            from capi_writeback.rails.audit.persistence.dynamodb import DynamoAuditStore

            self.audit = AuditLog(DynamoAuditStore())

    def meta(self, api_version: str | None = None) -> Any:
        """The Meta client for a Graph API version (the connection's, else the configured default)."""
        with self._lock:
            client = self._meta.get(api_version)
            if client is None:
                factory = self.meta_factory or _default_meta_client
                client = self._meta[api_version] = factory(api_version)
            return client


def _default_meta_client(api_version: str | None) -> Any:
    from capi_writeback.meta.client import MetaClient
    from capi_writeback.meta.config import MetaClientConfig

    config = MetaClientConfig.from_env()
    if api_version:
        config = dataclasses.replace(config, api_version=api_version)
    return MetaClient(config, _credentials())


_CREDENTIALS: Any = None


def _credentials() -> Any:
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
