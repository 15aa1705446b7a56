"""Match quality after the send (SPEC §11.3): Meta's Dataset Quality API for a profile's pixel next
to our own pre-send great/good/weak counts of the recent pushes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from capi_writeback.contracts.common import PROFILE_ID_MAX_LENGTH, PROFILE_ID_PATTERN, Model, Strict


class QualityQuery(Strict):
    """The arguments of the MCP tool get_match_quality (the HTTP route takes the path only)."""

    profile_id: str = Field(min_length=1, max_length=PROFILE_ID_MAX_LENGTH, pattern=PROFILE_ID_PATTERN)


class KeyCoverage(Model):
    identifier: str
    coverage: float | None = Field(default=None, description="Percent of events carrying it.")


class MetaEventQuality(Model):
    event_name: str
    emq: float | None = Field(default=None, description="Event Match Quality, 0-10 (Meta's composite score).")
    match_keys: list[KeyCoverage]
    event_coverage: float | None = None
    dedupe_keys: list[KeyCoverage]
    freshness: str | None = Field(default=None, description="Meta's upload_frequency (real_time, hourly...).")


class MetaQuality(Model):
    fetched_at: str
    cached: bool
    agent_name: str | None = None
    events: list[MetaEventQuality]


class Push(Model):
    created_at: str
    request_id: str | None = None
    status: str
    event_count: int
    match_quality: dict[str, int]


class OurQuality(Model):
    """Our pre-send scores of the confirms of the last `days` days (from their audit rows)."""

    days: int
    pushes: int
    events: int
    match_quality: dict[str, int]
    recent: list[Push]


class QualityReport(Model):
    operation: Literal["quality"] = "quality"
    request_id: str | None = None
    profile_id: str
    pixel_id: str
    meta: MetaQuality
    ours: OurQuality
    notes: list[str]
