"""The route functions of SPEC §3, registered on a Powertools resolver.

Each Lambda registers only its own route(s); the docs Lambda registers them all so the OpenAPI
document comes from the very functions and models that serve the API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel

from capi_writeback import flow
from capi_writeback.auth import Principal
from capi_writeback.contracts import (
    AuditPage,
    BreakerResetResponse,
    ConfirmRequest,
    ConfirmResponse,
    DryRunRequest,
    DryRunResponse,
    ErrorBody,
    PreviewRequest,
    PreviewResponse,
    StoreConversionsRequest,
    StoreConversionsResponse,
)
from capi_writeback.flow.audit import MAX_AUDIT_PAGE

ProfileId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$",
                                description="The profile (one tracked business/site).")]

PREVIEW = "/v1/profiles/<profile_id>/writeback/preview"
DRY_RUN = "/v1/profiles/<profile_id>/writeback/dry-run"
CONFIRM = "/v1/profiles/<profile_id>/writeback/confirm"
CONVERSIONS = "/v1/profiles/<profile_id>/conversions"
AUDIT = "/v1/profiles/<profile_id>/writeback/audit"
BREAKER_RESET = "/v1/profiles/<profile_id>/writeback/breaker/reset"


def _responses(ok: type[BaseModel], *statuses: int) -> dict[int, Any]:
    """A route's responses for the OpenAPI document: the 200 model, and SPEC error types by status."""
    from capi_writeback.errors import ERRORS

    out: dict[int, Any] = {200: {"description": "OK", "content": {"application/json": {"model": ok}}}}
    for status in sorted(set(statuses)):
        types = sorted(t for t, spec in ERRORS.items() if spec.status == status)
        out[status] = {"description": " / ".join(types) or "error",
                       "content": {"application/json": {"model": ErrorBody}}}
    return out


_COMMON = (401, 403, 404, 409, 422, 500)


def call_for(app: APIGatewayRestResolver, profile_id: str) -> flow.Call:
    """The flow's view of the request: principal from the authorizer context, and the request id."""
    context = app.current_event.raw_event.get("requestContext") or {}
    return flow.Call(principal=Principal.from_authorizer(context.get("authorizer")),
                     profile_id=profile_id, request_id=context.get("requestId"))


def register_preview(app: APIGatewayRestResolver) -> None:
    @app.post(PREVIEW, summary="Step 1: build the events and show them; nothing is sent",
              tags=["write-back"], responses=_responses(PreviewResponse, *_COMMON))
    def preview(profile_id: ProfileId,
                request: Annotated[PreviewRequest, Body()]) -> PreviewResponse:
        return PreviewResponse.model_validate(flow.preview(call_for(app, profile_id), request))


def register_dry_run(app: APIGatewayRestResolver) -> None:
    @app.post(DRY_RUN, summary="Step 2: send with a test_event_code; Meta validates, nothing counts",
              tags=["write-back"], responses=_responses(DryRunResponse, *_COMMON, 502, 504))
    def dry_run(profile_id: ProfileId,
                request: Annotated[DryRunRequest, Body()]) -> DryRunResponse:
        return DryRunResponse.model_validate(flow.dry_run(call_for(app, profile_id), request))


def register_confirm(app: APIGatewayRestResolver) -> None:
    @app.post(CONFIRM, summary="Step 3: send for real, once (idempotency key, circuit breaker, audit)",
              tags=["write-back"], responses=_responses(ConfirmResponse, *_COMMON, 502, 503, 504))
    def confirm(profile_id: ProfileId,
                request: Annotated[ConfirmRequest, Body()]) -> ConfirmResponse:
        return ConfirmResponse.model_validate(flow.confirm(call_for(app, profile_id), request))


def register_conversions(app: APIGatewayRestResolver) -> None:
    @app.post(CONVERSIONS, summary="Store conversion rows (upsert by conversion_id; PII hashed at ingest)",
              tags=["conversions"], responses=_responses(StoreConversionsResponse, *_COMMON))
    def store_conversions(profile_id: ProfileId,
                          request: Annotated[StoreConversionsRequest, Body()]) -> StoreConversionsResponse:
        return StoreConversionsResponse.model_validate(
            flow.store_conversions(call_for(app, profile_id), request))


def register_audit(app: APIGatewayRestResolver) -> None:
    @app.get(AUDIT, summary="Audit rows, newest first, paginated (owners and admins)",
             tags=["audit"], responses=_responses(AuditPage, *_COMMON))
    def audit(profile_id: ProfileId,
              limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_PAGE)] = 25,
              cursor: Annotated[str | None, Query(alias="next", max_length=2048,
                                                  description="The `next` of the previous page.")] = None,
              ) -> AuditPage:
        return AuditPage.model_validate(flow.list_audit(call_for(app, profile_id), limit, cursor))


def register_breaker_reset(app: APIGatewayRestResolver) -> None:
    @app.post(BREAKER_RESET, summary="Close an open circuit breaker (admins; audited)",
              tags=["write-back"], responses=_responses(BreakerResetResponse, *_COMMON))
    def breaker_reset(profile_id: ProfileId) -> BreakerResetResponse:
        return BreakerResetResponse.model_validate(flow.reset_breaker(call_for(app, profile_id)))


ALL: tuple[Callable[[APIGatewayRestResolver], None], ...] = (
    register_preview,
    register_dry_run,
    register_confirm,
    register_conversions,
    register_audit,
    register_breaker_reset,
)
