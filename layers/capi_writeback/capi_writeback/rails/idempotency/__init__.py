"""The confirm's idempotency ledger: claim a key, record accepted batches, finish (see `ledger`)."""

from capi_writeback.rails.idempotency.ledger import Claim, ConfirmLedger, record_id

__all__ = ["Claim", "ConfirmLedger", "record_id"]
