"""What the sync flow talks to: the write-back's `Services` (directory, breaker, audit, Meta client,
clock) plus the syncs' own stores and AWS adapters, built on first use and replaceable in tests.

The base services are the process default unless given (so resetting those, as the local stack and
tests do, is seen here too); the DynamoDB backends read their table names from the environment.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from capi_writeback.flow.services import Services, default_services

if TYPE_CHECKING:
    from capi_writeback.syncs.executions import RunStarter
    from capi_writeback.syncs.ledger import KeyLedger
    from capi_writeback.syncs.persistence.base import KeyLedgerStore, RunStore, SyncStore
    from capi_writeback.syncs.scheduler import Schedules
    from capi_writeback.syncs.source import S3Source


class SyncServices:
    """The sync capability's collaborators (what is not given is built on the AWS backends)."""

    def __init__(self, base: Services | None = None, *, syncs: SyncStore | None = None,
                 runs: RunStore | None = None, ledger: KeyLedgerStore | None = None,
                 source: S3Source | None = None, schedules: Schedules | None = None,
                 starter: RunStarter | None = None, work_bucket: str | None = None,
                 part_bytes: int | None = None) -> None:
        self._base = base
        self._syncs = syncs
        self._runs = runs
        self._ledger_store = ledger
        self._ledger: KeyLedger | None = None
        self._source = source
        self._schedules = schedules
        self._starter = starter
        self._work_bucket = work_bucket
        self._part_bytes = part_bytes
        self._lock = threading.Lock()

    @property
    def base(self) -> Services:
        return self._base or default_services()

    @property
    def clock(self) -> Any:
        return self.base.clock

    @property
    def syncs(self) -> SyncStore:
        if self._syncs is None:
            from capi_writeback.syncs.persistence.dynamodb import DynamoSyncStore

            self._syncs = DynamoSyncStore(clock=self.clock)
        return self._syncs

    @property
    def runs(self) -> RunStore:
        if self._runs is None:
            from capi_writeback.syncs.persistence.dynamodb import DynamoRunStore

            self._runs = DynamoRunStore(clock=self.clock)
        return self._runs

    @property
    def ledger(self) -> KeyLedger:
        with self._lock:
            if self._ledger is None:
                from capi_writeback.syncs.ledger import KeyLedger

                store = self._ledger_store
                if store is None:
                    from capi_writeback.syncs.persistence.dynamodb import DynamoKeyLedgerStore

                    store = DynamoKeyLedgerStore(clock=self.clock)
                self._ledger = KeyLedger(store, self.clock)
            return self._ledger

    @property
    def source(self) -> S3Source:
        if self._source is None:
            from capi_writeback.syncs.source import S3Source

            self._source = S3Source()
        return self._source

    @property
    def schedules(self) -> Schedules:
        if self._schedules is None:
            from capi_writeback.syncs.scheduler import Schedules

            self._schedules = Schedules()
        return self._schedules

    @property
    def starter(self) -> RunStarter:
        if self._starter is None:
            from capi_writeback.syncs.executions import StepFunctionsStarter

            self._starter = StepFunctionsStarter()
        return self._starter

    @property
    def work_bucket(self) -> str:
        bucket = self._work_bucket or os.environ.get("SYNC_WORK_BUCKET")
        if not bucket:
            raise RuntimeError("environment variable SYNC_WORK_BUCKET is not set")
        return bucket

    @property
    def part_bytes(self) -> int:
        if self._part_bytes is not None:
            return self._part_bytes
        from capi_writeback.syncs.source import PART_BYTES

        return int(os.environ.get("SYNC_PART_BYTES") or PART_BYTES)


_DEFAULT: SyncServices | None = None
_DEFAULT_LOCK = threading.Lock()


def default_sync_services() -> SyncServices:
    """The process-wide sync services (built on first call)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = SyncServices()
        return _DEFAULT


def set_default_sync_services(services: SyncServices | None) -> None:
    """Replace (or with None, forget) the process-wide sync services."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        _DEFAULT = services
