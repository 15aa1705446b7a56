"""Isolating the events that make Meta refuse a whole batch (code 100), without sending any twice.

Meta refuses a batch as a whole when one event is invalid and does not say which. `isolate` splits
the refused batch in halves until each refusal is pinned on single events. Only a group known to fail
is ever split, and groups Meta accepted are disjoint, so no event is accepted twice. When the left half
of a failing group is accepted, the right half must hold the bad event and is split without being
sent: about log2(n) extra requests per bad event, at most 2·log2(n).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import MetaError
from .results import RejectedEvent

# attempt(offset, group) sends one group: None when Meta accepted it, the MetaError when Meta refused
# it for its events; it raises `Abort` when isolating cannot go on (an outage, a budget spent...).
Attempt = Callable[[int, Sequence[dict[str, Any]]], MetaError | None]


class Abort(Exception):
    """Stop isolating: `error` says why."""

    def __init__(self, error: MetaError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class Isolation:
    """Which positions Meta accepted, which it refused (with its message), and why isolation stopped
    if it did. After an abort with some events accepted, the unsent rest is reported as rejected
    ("not sent: ...") so that nobody resends the batch and duplicates the accepted part."""

    accepted: list[int] = field(default_factory=list)
    rejected: list[RejectedEvent] = field(default_factory=list)
    aborted: MetaError | None = None


def _rejected(
    position: int, event: Any, code: int | None, subcode: int | None, message: str
) -> RejectedEvent:
    event_id = event.get("event_id") if isinstance(event, dict) else None
    return RejectedEvent(position, event_id if isinstance(event_id, str) else None, code, subcode, message)


def isolate(batch: Sequence[dict[str, Any]], error: MetaError, attempt: Attempt) -> Isolation:
    """Isolate the bad events of `batch`, which Meta refused with `error`, using `attempt`."""
    result = Isolation()

    def send(offset: int, group: Sequence[dict[str, Any]]) -> MetaError | None:
        refused = attempt(offset, group)
        if refused is None:
            result.accepted.extend(range(offset, offset + len(group)))
        return refused

    def split(offset: int, group: Sequence[dict[str, Any]], why: MetaError) -> None:
        if len(group) == 1:
            message = why.user_msg or why.message
            result.rejected.append(_rejected(offset, group[0], why.code, why.subcode, message))
            return
        middle = len(group) // 2
        left_error = send(offset, group[:middle])
        if left_error is None:
            split(offset + middle, group[middle:], why)
            return
        split(offset, group[:middle], left_error)
        right_error = send(offset + middle, group[middle:])
        if right_error is not None:
            split(offset + middle, group[middle:], right_error)

    try:
        split(0, batch, error)
    except Abort as abort:
        result.aborted = abort.error
        if result.accepted:
            done = set(result.accepted) | {r.position for r in result.rejected}
            note = f"not sent: isolating rejected events stopped ({abort.error.message})"
            result.rejected.extend(
                _rejected(p, batch[p], abort.error.code, abort.error.subcode, note)
                for p in range(len(batch))
                if p not in done
            )
    result.accepted.sort()
    result.rejected.sort(key=lambda r: r.position)
    return result
