"""What one send returns per batch: how many events Meta took, its trace ids, and what it refused."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import MetaError

BatchStatus = Literal["accepted", "partially_rejected", "failed"]


@dataclass(frozen=True)
class RejectedEvent:
    """One event Meta refused, isolated by bisection. `position` is its index inside the batch."""

    position: int
    event_id: str | None
    code: int | None
    subcode: int | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "event_id": self.event_id,
            "code": self.code,
            "subcode": self.subcode,
            "message": self.message,
        }


@dataclass
class BatchResult:
    """The outcome of batch `index` (events[index*1000:(index+1)*1000]).

    status: "accepted" (all taken), "partially_rejected" (Meta processed the batch: some events taken,
    `rejected` lists the others, including any left unsent because isolating them was cut short), or
    "failed" (`error` says why and no event of the batch was taken, so it is safe to send it again).
    """

    index: int
    event_count: int
    events_received: int = 0
    fbtrace_ids: list[str] = field(default_factory=list)
    messages: list[Any] = field(default_factory=list)
    rejected: list[RejectedEvent] = field(default_factory=list)
    error: MetaError | None = None
    requests: int = 0
    accepted_positions: list[int] | None = None

    @property
    def status(self) -> BatchStatus:
        if self.error is not None or (self.events_received == 0 and self.event_count > 0):
            return "failed"
        if self.rejected:
            return "partially_rejected"
        return "accepted"

    @property
    def fbtrace_id(self) -> str | None:
        """The first trace id (the one a single-request batch has)."""
        return self.fbtrace_ids[0] if self.fbtrace_ids else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe summary (for idempotency progress records and audit rows)."""
        return {
            "index": self.index,
            "event_count": self.event_count,
            "events_received": self.events_received,
            "fbtrace_id": self.fbtrace_id,
            "fbtrace_ids": list(self.fbtrace_ids),
            "messages": list(self.messages),
            "status": self.status,
            "rejected": [r.to_dict() for r in self.rejected],
            "error": self.error.to_dict() if self.error else None,
            "requests": self.requests,
        }
