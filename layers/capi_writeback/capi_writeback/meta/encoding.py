"""Events to request bytes: compact JSON, in short GIL-friendly chunks, encoded ahead of the senders."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

_CHUNK = 50


def _json_number(value: Any) -> Any:
    """Decimals (what DynamoDB gives back for numbers) as JSON numbers; anything else is an error."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"an event holds a {type(value).__name__}, which JSON cannot carry")


def encode_events(events: Sequence[dict[str, Any]]) -> bytes:
    """The JSON of a list of events, as sent in the body's `data` (compact, UTF-8).

    Encoded in chunks: one json.dumps call holds the GIL throughout, and a whole 1,000-event batch
    would stall the sender threads (which only need the GIL briefly) for milliseconds at a time.
    """
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_json_number).encode
    chunks = [encode(list(events[i : i + _CHUNK]))[1:-1] for i in range(0, len(events), _CHUNK)]
    return ("[" + ",".join(c for c in chunks if c) + "]").encode()


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    """Batch `index` of a payload, already encoded: `data` is the JSON array of its `event_count`
    events (UTF-8), sent as the body's `data` as it is. `MetaClient.send_batches` takes these, so a
    caller that encoded the events once (to hash them) never encodes them again."""

    index: int
    event_count: int
    data: bytes

    def events(self) -> list[dict[str, Any]]:
        """The events again (only a bisection of a refused batch needs them)."""
        events: list[dict[str, Any]] = json.loads(self.data)
        return events


class Prefetch:
    """Encodes batches on one helper thread, `ahead` batches in front of the senders.

    JSON-encoding a 1,000-event batch costs a few ms of CPU; done here it overlaps the senders' wait
    for Meta instead of delaying each request. At most about `ahead` + concurrency encoded bodies exist.
    """

    def __init__(
        self, encoder: ThreadPoolExecutor, batches: Sequence[Sequence[dict[str, Any]]], ahead: int
    ) -> None:
        self._encoder = encoder
        self._batches = batches
        self._ahead = ahead
        self._futures: dict[int, Future[bytes]] = {}
        self._submitted = 0
        self._lock = threading.Lock()
        self._fill(ahead)

    def _fill(self, upto: int) -> None:
        while self._submitted < min(upto, len(self._batches)):
            position = self._submitted
            self._futures[position] = self._encoder.submit(encode_events, self._batches[position])
            self._submitted += 1

    def take(self, position: int) -> bytes:
        """The encoded batch at `position`; also queues the encoding of the ones after it."""
        with self._lock:
            self._fill(position + self._ahead + 1)
            future = self._futures.pop(position)
        return future.result()
