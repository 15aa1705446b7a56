"""A build as Meta batches, encoded once, and the spool a confirm sends them from.

`Batches` regroups a build's chunks into batches of exactly 1,000 events (Meta's limit, the batches
a confirm records, and the batches the payload hash is defined over: `payload.py`), the last one
shorter, and encodes each batch once as canonical JSON: those bytes are what the payload hash digests
and, as they are, what Meta receives. Nothing but the batch being filled is held.

`Spool` keeps the encoded batches on local disk. A confirm must know the whole payload's hash before
it sends anything (PAYLOAD_CHANGED, IDEMPOTENCY_KEY_REUSED and the resume of a released key all
compare it first); spooling lets it build once, hash, and then send from the spool, instead of
building everything twice. A million events take about 500 MB; Lambda's /tmp holds up to 10 GB (the
confirm and dry-run functions ask for it in template.yaml). The file is unlinked from the start, so
nothing is left behind, even by a crash.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Collection, Iterable, Iterator
from types import TracebackType
from typing import Any

from capi_writeback.built import Chunk
from capi_writeback.limits import MAX_BATCH_EVENTS
from capi_writeback.meta.encoding import EncodedBatch
from capi_writeback.payload import PayloadHasher, canonical_json


class Batches:
    """The events of `chunks` as encoded Meta batches, in order; iterate once. `payload_hash`,
    `event_count` and `batch_count` are complete when the iteration ends."""

    def __init__(self, chunks: Iterable[Chunk]) -> None:
        self._chunks = chunks
        self._hasher = PayloadHasher()
        self.event_count = 0
        self.batch_count = 0
        self._done = False

    def __iter__(self) -> Iterator[EncodedBatch]:
        pending: list[dict[str, Any]] = []
        for chunk in self._chunks:
            pending += chunk.payload
            while len(pending) >= MAX_BATCH_EVENTS:
                yield self._encode(pending[:MAX_BATCH_EVENTS])
                del pending[:MAX_BATCH_EVENTS]
        if pending:
            yield self._encode(pending)
        self._done = True

    def _encode(self, events: list[dict[str, Any]]) -> EncodedBatch:
        data = canonical_json(events)
        self._hasher.update_batch(data, len(events))
        batch = EncodedBatch(self.batch_count, len(events), data)
        self.batch_count += 1
        self.event_count += len(events)
        return batch

    @property
    def payload_hash(self) -> str:
        if not self._done:
            raise RuntimeError("the payload hash is known once every batch was taken")
        return self._hasher.value


class Spool:
    """Encoded batches in an unlinked temporary file: `add` them in index order, then read them
    back (`batches`) as often as needed. Use as a context manager (closing frees the disk)."""

    def __init__(self, directory: str | None = None) -> None:
        self._file = tempfile.TemporaryFile(prefix="capi-writeback-spool-", dir=directory)  # noqa: SIM115 (closed by close())
        self._entries: list[tuple[int, int, int]] = []  # (offset, length, event count) per batch
        self._size = 0

    def add(self, batch: EncodedBatch) -> None:
        if batch.index != len(self._entries):
            raise ValueError("batches are spooled in index order")
        self._file.write(batch.data)
        self._entries.append((self._size, len(batch.data), batch.event_count))
        self._size += len(batch.data)

    def fill(self, batches: Iterable[EncodedBatch]) -> Spool:
        for batch in batches:
            self.add(batch)
        self._file.flush()
        return self

    @property
    def batch_count(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        """Bytes on disk."""
        return self._size

    def event_count_of(self, index: int) -> int:
        return self._entries[index][2]

    def batches(self, only: Collection[int] | None = None) -> Iterator[EncodedBatch]:
        """The spooled batches in index order (only those in `only`, if given), each read from
        disk when it is asked for."""
        self._file.flush()
        descriptor = self._file.fileno()
        for index, (offset, length, count) in enumerate(self._entries):
            if only is None or index in only:
                yield EncodedBatch(index, count, os.pread(descriptor, length, offset))

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
