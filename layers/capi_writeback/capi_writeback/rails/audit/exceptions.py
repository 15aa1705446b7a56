"""What the audit log raises. Neither is a refusal of the caller's request by itself: the flow
turns a bad cursor into an InvalidRequest, and a conflict is a bug (an audit id used twice)."""

from __future__ import annotations


class AuditError(Exception):
    """Base of the audit log's errors."""


class InvalidCursor(AuditError, ValueError):
    """The pagination cursor (or limit) was not one this log hands out for this profile."""


class AuditConflict(AuditError):
    """An audit row with the same key already exists (audit rows are never overwritten)."""
