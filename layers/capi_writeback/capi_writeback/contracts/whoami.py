"""The `whoami` MCP tool's result (SPEC §9): the caller, the workspace, its profiles and what would
stop a send (`unmet`: SPEC §3.3 error types, in the order the prerequisites are checked)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from capi_writeback.contracts.common import Model


class ProfileState(Model):
    profile_id: str
    name: str | None = None
    pixel_id: str | None = None
    connection_status: str = Field(description="active, inactive, expired, or none.")
    breaker: Literal["open", "closed"]
    retry_after: int | None = Field(default=None, description="Seconds until an open breaker closes.")
    unmet: list[str] = Field(description="What this profile lacks to send (besides the workspace's).")
    can_send: bool = Field(description="A dry-run, confirm or live event would pass every prerequisite.")


class WhoamiResponse(Model):
    workspace_id: str
    workspace_name: str | None = None
    user_id: str
    role: str | None = Field(default=None, description="owner, admin, member or viewer.")
    scopes: list[str]
    writeback_enabled: bool
    unmet: list[str] = Field(description="What the token or workspace lacks to send, for every profile.")
    profiles: list[ProfileState]
    profile_count: int
