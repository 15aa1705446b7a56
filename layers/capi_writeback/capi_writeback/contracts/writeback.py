"""The write-back operations (SPEC §3): selection, preview, dry-run, confirm, storing conversions,
the audit trail and the breaker reset. Direct (Step Functions) invocations are validated by the same
request models, and the OpenAPI document is generated from them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from capi_writeback.contracts.common import Model, Strict

MAX_INLINE_ROWS = 100_000
MAX_STORE_ROWS = 1_000
PREVIEW_ID_PATTERN = r"^pv_[0-9a-f]{32}$"
_PRINTABLE = re.compile(r"[\x21-\x7e][\x20-\x7e]*")  # fullmatch: `$` also matches before "\n"


class Window(Strict):
    """A time window; ISO-8601 with a timezone (UTC assumed when none is given)."""

    start: datetime
    end: datetime

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        try:
            value.astimezone(UTC)
        except OverflowError:  # e.g. 9999-12-31T23:00-14:00 is in year 10000 in UTC
            raise ValueError("date out of range once converted to UTC") from None
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError("window.end must be after window.start")
        return self


Row = dict[str, Any]


def _one_source(schema: dict[str, Any]) -> None:
    """The `_one_source` rule in the published schema, so generated requests (and readers) know it."""
    schema["description"] = (schema.get("description", "").rstrip(".") + ". Either inline `rows` or a stored "
                             "selection (`outcome_types`, `last_days` or `window`), not both; `last_days` "
                             "or `window`, not both.")
    both = [["rows", "outcome_types"], ["rows", "last_days"], ["rows", "window"], ["last_days", "window"]]
    schema["not"] = {"anyOf": [{"required": pair} for pair in both]}


class Selection(Strict):
    """SPEC §3.1: stored conversions (outcome types + last_days or window) or inline rows."""

    model_config = ConfigDict(extra="forbid", defer_build=True, json_schema_extra=_one_source)

    outcome_types: Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(
        min_length=1, max_length=50)] | None = Field(
        default=None, description="Outcome types to send; default: every mapped type.")
    last_days: int | None = Field(default=None, ge=1, le=62,
                                  description="Stored conversions of the last N days (default 7).")
    window: Window | None = Field(default=None, description="Stored conversions in this window.")
    rows: Annotated[list[Row], Field(min_length=1, max_length=MAX_INLINE_ROWS)] | None = Field(
        default=None, description="Inline conversion rows (SPEC §4) instead of stored ones.")
    pixel_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[0-9]+$",
                                 description="Must equal the profile connection's pixel id.")
    preview_id: str | None = Field(default=None, pattern=PREVIEW_ID_PATTERN,
                                   description="Pins the step to exactly the previewed events.")

    @model_validator(mode="after")
    def _one_source(self) -> Selection:
        if self.last_days is not None and self.window is not None:
            raise ValueError("give last_days or window, not both")
        if self.rows is not None and (
            self.last_days is not None or self.window is not None or self.outcome_types is not None
        ):
            raise ValueError("give inline rows or a stored selection (outcome_types, last_days/window), "
                             "not both")
        return self


class PreviewRequest(Selection):
    """Body of POST .../writeback/preview."""


class DryRunRequest(Selection):
    """Body of POST .../writeback/dry-run."""

    test_event_code: str | None = Field(default=None, min_length=1, max_length=64,
                                        pattern=r"^[A-Za-z0-9_-]+$",
                                        description="Events Manager test code; default: the connection's.")


class ConfirmRequest(Selection):
    """Body of POST .../writeback/confirm. A missing key is IDEMPOTENCY_KEY_REQUIRED, not a 422 here."""

    idempotency_key: str | None = Field(default=None, max_length=128,
                                        description="1-128 printable characters; reuse it on retries.")

    @field_validator("idempotency_key")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value and not _PRINTABLE.fullmatch(value):
            raise ValueError("idempotency_key must be printable ASCII without leading blanks")
        return value


class StoreConversionsRequest(Strict):
    """Body of POST .../conversions."""

    rows: Annotated[list[Row], Field(min_length=1, max_length=MAX_STORE_ROWS)]


# ---- responses ---------------------------------------------------------------------------------

class SkippedItem(Model):
    conversion_id: str | None = None
    reason: str
    detail: str | None = None


class WindowOut(Model):
    start: str | None = None
    end: str | None = None


class PreviewResponse(Model):
    operation: Literal["preview"] = "preview"
    request_id: str | None = None
    preview_id: str
    payload_hash: str
    event_count: int
    events_by_name: dict[str, int]
    window: WindowOut | None = None
    sample_events: list[dict[str, Any]]
    match_quality: dict[str, int]
    skipped: list[SkippedItem]
    skipped_count: int = 0
    warnings: list[str]


class DryRunResponse(Model):
    operation: Literal["dry_run"] = "dry_run"
    request_id: str | None = None
    preview_id: str
    payload_hash: str
    test_event_code: str
    event_count: int
    events_received: int
    fbtrace_ids: list[str]
    messages: list[str]
    rejected: list[dict[str, Any]] = Field(default_factory=list,
                                           description="Events Meta refused inside accepted batches.")
    warnings: list[str]
    skipped: list[SkippedItem]
    skipped_count: int = 0


class BatchOut(Model):
    index: int
    event_count: int
    events_received: int
    fbtrace_id: str | None = None
    status: str
    rejected: list[dict[str, Any]] | None = None
    error: dict[str, Any] | None = None


class ConfirmResponse(Model):
    operation: Literal["confirm"] = "confirm"
    request_id: str | None = None
    idempotency_key: str
    payload_hash: str
    status: Literal["succeeded", "partially_failed", "failed"]
    event_count: int
    events_received: int
    batches: list[BatchOut]
    replayed: bool
    original_request_id: str | None = Field(default=None,
                                            description="On a replay: the request that did the sending.")
    skipped: list[SkippedItem]
    skipped_count: int = 0


class RejectedRow(Model):
    index: int
    conversion_id: str | None = None
    reason: str
    detail: str | None = None


class StoreConversionsResponse(Model):
    stored: int
    rejected: list[RejectedRow]


class AuditPage(Model):
    items: list[dict[str, Any]]
    next: str | None = None


class BreakerResetResponse(Model):
    operation: Literal["breaker_reset"] = "breaker_reset"
    request_id: str | None = None
    profile_id: str
    breaker: Literal["closed"] = "closed"
