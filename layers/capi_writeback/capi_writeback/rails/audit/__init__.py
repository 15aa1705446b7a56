"""The append-only audit trail: one immutable row per operation (see `log`)."""

from capi_writeback.rails.audit.log import AuditLog, AuditRow, iso_ms

__all__ = ["AuditLog", "AuditRow", "iso_ms"]
