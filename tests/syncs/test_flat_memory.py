"""A child's memory stays flat whatever the size of its object (SPEC §10, §12), shown with
tracemalloc on a 1M-row gzip JSON Lines object, not with timing.

The child runs its real code: S3Source's streaming (a body that makes the gzip bytes as they are
read, so the object itself is never in memory), mapping, the streaming core, the ledger rules, the
Meta client against the emulator (which keeps no events). The stores keep nothing (they count), so
what is measured is the child's own working set. Most rows are older than Meta's 7 days (skipped
before anything is hashed) and one in a hundred is sent, so the 1M-row object sends 10,000 events.
Fifty times the rows may add only the build's duplicate table (24 bytes an event at most) for the
extra events: the rest (a chunk of rows, the batches in flight, a page of outcomes, the stream's
buffers) is the same at 20,000 rows as at a million.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

from capi_writeback.contracts.syncs import ChildTask
from capi_writeback.flow import Services
from capi_writeback.flow.syncs.child import process_item
from capi_writeback.flow.syncs.services import SyncServices
from capi_writeback.meta.client import MetaClient
from capi_writeback.meta.config import MetaClientConfig
from capi_writeback.meta.credentials import MetaCredentials, StaticCredentials
from capi_writeback.rails.audit.log import AuditLog
from capi_writeback.rails.audit.persistence.memory import MemoryAuditStore
from capi_writeback.rails.breaker.circuit import CircuitBreaker
from capi_writeback.rails.breaker.persistence.memory import MemoryBreakerStore
from capi_writeback.store.directory.memory import MemoryDirectoryStore
from capi_writeback.syncs.persistence.base import KeyEntry
from capi_writeback.syncs.source import S3Source

SYNC_ID = "sync_0123456789abcdef0123"
RUN = {"run_id": "run_20261124T120000Z_1a2b3c4d", "sync_id": SYNC_ID, "profile_id": "prof_mem"}
TOKEN = "memory-test-token"
PIXEL = "555000111"
EVENT_TABLE_BYTES = 24
BATCH = 100  # events a request: the child holds two of them in flight (concurrency 2), whatever the rows


class GzipBody:
    """An S3 body of `count` JSON Lines rows, gzip-compressed as it is read."""

    def __init__(self, count: int) -> None:
        self._rows = self._lines(count)
        self._deflate = zlib.compressobj(6, zlib.DEFLATED, 31)
        self._done = False

    @staticmethod
    def _lines(count: int) -> Iterator[bytes]:
        now = int(time.time())
        line = (
            b'{"order_id": "o-%07d", "event": "Purchase", "ts": %d, "mail": "buyer.%d@example.com", '
            b'"amount": "12.50", "currency": "USD"}\n'
        )
        for i in range(count):
            yield line % (i, now - (3600 if i % 100 == 0 else 9 * 86400), i % 997)

    def read(self, size: int) -> bytes:
        out = b""
        while len(out) < size and not self._done:
            block = b"".join(line for _, line in zip(range(50), self._rows, strict=False))
            if block:
                out += self._deflate.compress(block)
            else:
                out += self._deflate.flush()
                self._done = True
        return out

    def close(self) -> None:
        self._done = True


class GeneratedSource(S3Source):
    def __init__(self, count: int) -> None:
        super().__init__(client=object())
        self.count = count

    def _get(self, bucket: str, key: str, etag: str, first: int, last: int | None) -> Any:
        return GzipBody(self.count)


class CountingLedger:
    """Every key is new and claimed; nothing is kept."""

    def __init__(self) -> None:
        self.claimed = self.marked = 0

    def get_many(self, sync_id: str, keys: Sequence[str], now: float) -> dict[str, KeyEntry]:
        return {}

    def claim_many(self, sync_id: str, keys: Sequence[str], **kwargs: Any) -> tuple[set[str], dict[str, Any]]:
        self.claimed += len(keys)
        return set(keys), {}

    def mark_sent(self, sync_id: str, keys: Sequence[str], **kwargs: Any) -> None:
        self.marked += len(keys)

    def release(self, sync_id: str, keys: Sequence[str], **kwargs: Any) -> None:
        pass


class CountingRuns:
    """The run record is kept; parts and outcome pages are counted, not kept."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record, self.pages, self.parts = record, 0, []

    def get_run(self, sync_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.record)

    def put_outcomes(self, sync_id: str, run_id: str, item: int, page: int, rows: Sequence[Any]) -> None:
        self.pages += 1

    def put_part(self, sync_id: str, run_id: str, part: dict[str, Any]) -> None:
        self.parts.append(part)


def services(count: int, meta_url: str) -> tuple[SyncServices, CountingLedger, CountingRuns]:
    directory = MemoryDirectoryStore()
    directory.put_workspace("ws_mem", name="memory", writeback_enabled=True)
    directory.put_profile(
        "prof_mem",
        workspace_id="ws_mem",
        name="p",
        settings={"currency": "USD"},
        connection={"pixel_id": PIXEL, "secret_id": "s", "status": "active"},
    )
    credentials = StaticCredentials({"s": MetaCredentials(TOKEN)})
    base = Services(
        directory=directory,
        breaker=CircuitBreaker(MemoryBreakerStore()),
        audit=AuditLog(MemoryAuditStore()),
        conversions=object(),
        ledger=object(),  # type: ignore[arg-type]
        meta_factory=lambda _v: MetaClient(
            MetaClientConfig(base_url=meta_url, batch_size=BATCH, concurrency=2), credentials
        ),
    )
    record = {
        "run_id": RUN["run_id"],
        "sync_id": SYNC_ID,
        "profile_id": "prof_mem",
        "mode": "live",
        "definition": {
            "mapping": {
                "event_name": {"column": "event"},
                "event_time": {"column": "ts"},
                "em": {"column": "mail"},
                "value": {"column": "amount"},
                "currency": {"column": "currency"},
            },
            "primary_key": "order_id",
        },
    }
    ledger, runs = CountingLedger(), CountingRuns(record)
    return SyncServices(base, runs=runs, ledger=ledger, source=GeneratedSource(count)), ledger, runs  # type: ignore[arg-type]


def peak_bytes(count: int, meta_url: str) -> tuple[int, dict[str, Any], CountingLedger, CountingRuns]:
    sync, ledger, runs = services(count, meta_url)
    task = ChildTask.model_validate(
        {
            "run": RUN,
            "item": {
                "item": 0,
                "bucket": "exports",
                "key": "big.jsonl.gz",
                "size": 1,
                "start": 0,
                "end": 1,
                "part": 0,
                "parts": 1,
                "format": "jsonl",
            },
        }
    )
    tracemalloc.start()
    try:
        result = process_item(task, None, sync)
        return tracemalloc.get_traced_memory()[1], result, ledger, runs
    finally:
        tracemalloc.stop()


@contextlib.contextmanager
def emulator() -> Iterator[str]:
    """The Meta emulator in a process of its own (it keeps what it receives: not ours to measure)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "capi_writeback_local.cli",
            "meta-emulator",
            "--port",
            "0",
            "--token",
            TOKEN,
            "--pixel-id",
            PIXEL,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().decode().strip()
    finally:
        process.terminate()
        process.wait(30)


def test_a_child_on_a_million_row_object_holds_what_it_holds_on_twenty_thousand() -> None:
    with emulator() as meta_url:
        peak_bytes(2_000, meta_url)  # warm up: imports, caches, the client's pool
        small, result_small, _, _ = peak_bytes(20_000, meta_url)  # its send buffer fills: 200 events
        large, result, ledger, runs = peak_bytes(1_000_000, meta_url)
    assert result["rows_read"] == 1_000_000 and result["events_sent"] == 10_000
    assert result["events_received"] == 10_000 and ledger.claimed == ledger.marked == 10_000
    assert runs.pages == 1000 and runs.parts[0]["skipped"] == {"EVENT_TOO_OLD": 990_000}
    assert result_small["events_sent"] == 200
    extra_events = result["events_sent"] - result_small["events_sent"]
    # The rest varies by up to a chunk's worth between runs (where in a chunk the peak falls).
    assert large <= small + EVENT_TABLE_BYTES * extra_events + 1536 * 1024, (small, large)
    assert large < 16 * 1024 * 1024, large
