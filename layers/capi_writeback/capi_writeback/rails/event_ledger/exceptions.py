"""What the event ledger refuses (domain errors: the boundary maps them to SPEC types)."""

from __future__ import annotations

from typing import Any

from capi_writeback.exceptions import CapiWritebackError


class EventLedgerError(CapiWritebackError):
    """Base of the event ledger's refusals."""


class EventInProgress(EventLedgerError):
    """The same event (pixel, event_name, event_id) is being sent by another call right now
    (`details`: the event id and `lease_expires_in` seconds)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("fix", "Retry in a few seconds with the same event: you get the result of the call "
                                 "that is sending it (replayed: true); it is never sent twice.")
        super().__init__("The same event (pixel_id, event_name, event_id) is being sent right now.", **kwargs)
