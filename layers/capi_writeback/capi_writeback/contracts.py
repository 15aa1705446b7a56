"""The request and response models of every operation (SPEC §3): the contract shared by the
boundaries (`api/`, Step Functions, MCP) and the flow, which sits below all of them.

They also generate the OpenAPI document. Request models reject unknown fields, so a typo such as
`idempotencyKey` is a VALIDATION_ERROR naming the field instead of a silently ignored option.
Direct (Step Functions) invocations are validated by the same models.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_INLINE_ROWS = 100_000
MAX_STORE_ROWS = 1_000
PREVIEW_ID_PATTERN = r"^pv_[0-9a-f]{32}$"
_PRINTABLE = re.compile(r"^[\x21-\x7e][\x20-\x7e]*$")


class _Model(BaseModel):
    """Schemas are built on first use: each Lambda uses a few of these models, and building the
    others at import would only lengthen its cold start."""

    model_config = ConfigDict(defer_build=True)


class _Strict(_Model):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class Window(_Strict):
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


class Selection(_Strict):
    """SPEC §3.1: stored conversions (outcome types + last_days or window) or inline rows."""

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
        if value and not _PRINTABLE.match(value):
            raise ValueError("idempotency_key must be printable ASCII without leading blanks")
        return value


class StoreConversionsRequest(_Strict):
    """Body of POST .../conversions."""

    rows: Annotated[list[Row], Field(min_length=1, max_length=MAX_STORE_ROWS)]


# ---- responses ---------------------------------------------------------------------------------

class SkippedItem(_Model):
    conversion_id: str | None = None
    reason: str
    detail: str | None = None


class WindowOut(_Model):
    start: str | None = None
    end: str | None = None


class PreviewResponse(_Model):
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


class DryRunResponse(_Model):
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


class BatchOut(_Model):
    index: int
    event_count: int
    events_received: int
    fbtrace_id: str | None = None
    status: str
    rejected: list[dict[str, Any]] | None = None
    error: dict[str, Any] | None = None


class ConfirmResponse(_Model):
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


class RejectedRow(_Model):
    index: int
    conversion_id: str | None = None
    reason: str
    detail: str | None = None


class StoreConversionsResponse(_Model):
    stored: int
    rejected: list[RejectedRow]


class AuditPage(_Model):
    items: list[dict[str, Any]]
    next: str | None = None


class BreakerResetResponse(_Model):
    operation: Literal["breaker_reset"] = "breaker_reset"
    request_id: str | None = None
    profile_id: str
    breaker: Literal["closed"] = "closed"


class ErrorDetail(_Model):
    type: str
    message: str
    fix: str
    request_id: str | None = None
    details: Any = None
    retry_after: int | None = None


class ErrorBody(_Model):
    """Every refusal (SPEC §3.3)."""

    error: ErrorDetail
