"""What the confirm ledger refuses (domain errors: the boundary maps them to SPEC types)."""

from __future__ import annotations

from typing import Any

from capi_writeback.exceptions import CapiWritebackError


class IdempotencyError(CapiWritebackError):
    """Base of the ledger's refusals."""


class KeyReused(IdempotencyError):
    """The key was already used for a different payload (`details`: the key)."""


class InProgress(IdempotencyError):
    """Another attempt with this key holds an unexpired lease (`details`: the key and
    `lease_expires_in` seconds when known)."""


class LeaseLost(InProgress):
    """This attempt's lease ran out and another attempt took the key over (or finished it)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("fix", "Retry with the same idempotency_key to get the result of the attempt "
                                 "that took over.")
        super().__init__("Another attempt with this idempotency_key took over while this one was running.",
                         **kwargs)
