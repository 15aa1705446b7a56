"""The append-only audit trail (SPEC §6): one immutable row per operation, refused ones included.

`AuditLog` can only append and list: there is no update or delete here, the store interface has
none, and the DynamoDB backend writes with a conditional put (`attribute_not_exists`) so even a
repeated audit id cannot overwrite a row. Rows carry ids, hashes and counts only: callers never pass
raw PII or tokens. Rows sort by `sk = <created_at ISO-8601 UTC ms>#<audit_id>`; newest first.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from capi_writeback.rails.audit.exceptions import InvalidCursor
from capi_writeback.rails.audit.persistence.base import AuditStore
from capi_writeback.rails.clock import Clock, system_clock

MAX_LIMIT = 100
_CREATED_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def iso_ms(ts: float) -> str:
    """Unix seconds → ISO-8601 UTC with milliseconds ('2026-01-02T03:04:05.678Z'): sorts as text."""
    millis = round(ts * 1000)
    moment = datetime.fromtimestamp(millis // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


@dataclass(frozen=True)
class AuditRow:
    """Every field SPEC §6 asks of an audit row. `created_at` is ISO-8601 UTC with milliseconds."""

    audit_id: str
    profile_id: str
    workspace_id: str
    actor: str
    operation: str
    request_id: str | None
    payload_hash: str | None
    event_count: int
    window: dict[str, Any] | None
    idempotency_key: str | None
    pixel_id: str | None
    fbtrace_ids: list[str] = field(default_factory=list)
    status: str = "succeeded"
    error: dict[str, Any] | None = None
    created_at: str = ""
    via: str = "api"  # how the operation came in: api | step_functions | mcp | cli (older rows: api)
    # The pre-send match quality of the events built ({"great", "good", "weak"}), on preview,
    # dry-run and confirm rows; None elsewhere and on rows written before it existed.
    match_quality: dict[str, int] | None = None
    # What an administrative operation changed (ids, roles, scopes, settings keys; never a token
    # or secret); None on the write-back steps.
    change: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not _CREATED_AT.fullmatch(self.created_at):
            raise ValueError(f"created_at must be ISO-8601 UTC with milliseconds, got {self.created_at!r}")
        if not self.audit_id or "#" in self.audit_id:
            raise ValueError("audit_id must be non-empty and contain no '#'")

    @classmethod
    def new(cls, *, clock: Clock = system_clock, **values: Any) -> AuditRow:
        """A row with a fresh audit_id and created_at = now (other fields as given)."""
        values.setdefault("audit_id", uuid.uuid4().hex)
        values.setdefault("created_at", iso_ms(clock()))
        values.setdefault("event_count", 0)
        for name in ("request_id", "payload_hash", "window", "idempotency_key", "pixel_id"):
            values.setdefault(name, None)
        return cls(**values)

    @property
    def sk(self) -> str:
        return f"{self.created_at}#{self.audit_id}"

    def to_dict(self) -> dict[str, Any]:
        """The row as the API returns it (JSON-ready)."""
        return asdict(self)

    def to_item(self) -> dict[str, Any]:
        """The stored form: the row plus its sort key, JSON-safe (an odd value in `error` becomes
        text rather than failing the audit write)."""
        item: dict[str, Any] = json.loads(json.dumps(self.to_dict(), default=str))
        return {**item, "sk": self.sk}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> AuditRow:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in item.items() if k in names}
        values["event_count"] = int(values.get("event_count") or 0)
        values["fbtrace_ids"] = [str(t) for t in values.get("fbtrace_ids") or []]
        return cls.new(**values)


class AuditLog:
    """append(row) and list(profile_id, limit, cursor) — and nothing that changes a row."""

    def __init__(self, store: AuditStore) -> None:
        self.store = store

    def append(self, row: AuditRow) -> None:
        """Write the row once (AuditConflict from the store if its key already exists)."""
        self.store.put_new(row.to_item())

    def list(self, profile_id: str, limit: int = 50,
             cursor: str | None = None) -> tuple[list[AuditRow], str | None]:
        """One page of rows, newest first, and the cursor of the next page (None on the last).

        ValueError (InvalidCursor) for a limit outside 1..100 or a cursor not from this profile's
        previous page.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise InvalidCursor(f"limit must be an integer from 1 to {MAX_LIMIT}")
        before = decode_cursor(cursor, profile_id) if cursor else None
        items = self.store.query(profile_id, limit + 1, before)
        rows = [AuditRow.from_item(item) for item in items[:limit]]
        more = len(items) > limit
        return rows, (encode_cursor(profile_id, rows[-1].sk) if more and rows else None)


def encode_cursor(profile_id: str, sk: str) -> str:
    """Opaque cursor: URL-safe base64 of the last returned key (the LastEvaluatedKey)."""
    raw = json.dumps({"profile_id": profile_id, "sk": sk}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, profile_id: str) -> str:
    """The sort key a cursor points after; InvalidCursor if malformed or for another profile."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise InvalidCursor("malformed cursor") from exc
    if not isinstance(data, dict) or data.get("profile_id") != profile_id \
            or not isinstance(data.get("sk"), str):
        raise InvalidCursor("cursor does not belong to this profile's audit trail")
    return str(data["sk"])
