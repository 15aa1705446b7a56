"""The audit log's persistence protocol: put a new row, query rows newest first. No update, no
delete: the protocol has none, so no backend can offer one to the log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class AuditStore(Protocol):
    """Persistence of the append-only audit log (`capi_writeback.rails.audit.log`)."""

    def put_new(self, item: Mapping[str, Any]) -> None:
        """Write a new row keyed by (profile_id, sk); AuditConflict if that key exists."""

    def query(self, profile_id: str, limit: int,
              before_sk: str | None) -> list[dict[str, Any]]:
        """Up to `limit` rows of the profile, newest (highest sk) first, all below `before_sk`."""
