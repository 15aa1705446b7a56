"""Resetting the circuit breaker: scope mcp:write, owners and admins; audited like a step."""

from __future__ import annotations

from typing import Any

from capi_writeback.flow.services import Services, default_services
from capi_writeback.flow.trail import Call, Note, audited, noted_access
from capi_writeback.observability import logger


def reset_breaker(call: Call, services: Services | None = None) -> dict[str, Any]:
    """An admin closes the profile's circuit breaker (forgets its failures)."""
    services = services or default_services()

    def body(note: Note) -> dict[str, Any]:
        access = noted_access(services, call, note, writeback=False, connection=False)
        services.breaker.reset(access.profile_id)
        logger.info("circuit breaker reset", extra={"profile_id": access.profile_id})
        return {"operation": "breaker_reset", "request_id": call.request_id,
                "profile_id": access.profile_id, "breaker": "closed"}

    return audited(services, call, "breaker_reset", body)
