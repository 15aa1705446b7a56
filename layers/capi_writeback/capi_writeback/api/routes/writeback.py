"""The write-back routes (SPEC §3): preview, dry-run, confirm, and the breaker reset."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from capi_writeback import flow
from capi_writeback.api.routes.operation import COMMON, OperationRouter, ProfileId, responses
from capi_writeback.contracts.writeback import (
    BreakerResetResponse,
    ConfirmRequest,
    ConfirmResponse,
    DryRunRequest,
    DryRunResponse,
    PreviewRequest,
    PreviewResponse,
)

PREVIEW = OperationRouter("preview", audited=True)
DRY_RUN = OperationRouter("dry_run", audited=True)
CONFIRM = OperationRouter("confirm", audited=True)
BREAKER_RESET = OperationRouter("breaker_reset", audited=True)


@PREVIEW.post("/v1/profiles/<profile_id>/writeback/preview",
              summary="Step 1: build the events and show them; nothing is sent",
              tags=["write-back"], responses=responses(PreviewResponse, *COMMON))
def preview(profile_id: ProfileId, request: Annotated[PreviewRequest, Body()]) -> PreviewResponse:
    return PreviewResponse.model_validate(flow.preview(PREVIEW.call(profile_id), request))


@DRY_RUN.post("/v1/profiles/<profile_id>/writeback/dry-run",
              summary="Step 2: send with a test_event_code; Meta validates, nothing counts",
              tags=["write-back"], responses=responses(DryRunResponse, *COMMON, 502, 504))
def dry_run(profile_id: ProfileId, request: Annotated[DryRunRequest, Body()]) -> DryRunResponse:
    return DryRunResponse.model_validate(flow.dry_run(DRY_RUN.call(profile_id), request))


@CONFIRM.post("/v1/profiles/<profile_id>/writeback/confirm",
              summary="Step 3: send for real, once (idempotency key, circuit breaker, audit)",
              tags=["write-back"], responses=responses(ConfirmResponse, *COMMON, 502, 503, 504))
def confirm(profile_id: ProfileId, request: Annotated[ConfirmRequest, Body()]) -> ConfirmResponse:
    return ConfirmResponse.model_validate(flow.confirm(CONFIRM.call(profile_id), request))


@BREAKER_RESET.post("/v1/profiles/<profile_id>/writeback/breaker/reset",
                    summary="Close an open circuit breaker (admins; audited)",
                    tags=["write-back"], responses=responses(BreakerResetResponse, *COMMON))
def breaker_reset(profile_id: ProfileId) -> BreakerResetResponse:
    return BreakerResetResponse.model_validate(flow.reset_breaker(BREAKER_RESET.call(profile_id)))
