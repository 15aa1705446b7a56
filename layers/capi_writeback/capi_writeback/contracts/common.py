"""What every contract module shares: the base models and the SPEC §3.3 error body.

Models build their schemas on first use (`defer_build`): each Lambda uses a few of them, and building
the others at import would only lengthen its cold start. Request models reject unknown fields, so a
typo such as `idempotencyKey` is a VALIDATION_ERROR naming the field instead of a silently ignored
option.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

# A profile id, wherever one is named (the HTTP path parameter, MCP tool arguments).
PROFILE_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
PROFILE_ID_MAX_LENGTH = 128


class Model(BaseModel):
    """A response (or nested) model."""

    model_config = ConfigDict(defer_build=True)


class Strict(Model):
    """A request model: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class ErrorDetail(Model):
    type: str
    message: str
    fix: str
    request_id: str | None = None
    details: Any = None
    retry_after: int | None = None


class ErrorBody(Model):
    """Every refusal (SPEC §3.3)."""

    error: ErrorDetail
