"""The conversions route: store rows (upsert by conversion_id; PII hashed at ingest)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from capi_writeback import flow
from capi_writeback.api.routes.operation import COMMON, OperationRouter, ProfileId, responses
from capi_writeback.contracts.writeback import StoreConversionsRequest, StoreConversionsResponse

STORE = OperationRouter("store_conversions")


@STORE.post("/v1/profiles/<profile_id>/conversions",
            summary="Store conversion rows (upsert by conversion_id; PII hashed at ingest)",
            tags=["conversions"], responses=responses(StoreConversionsResponse, *COMMON))
def store_conversions(profile_id: ProfileId,
                      request: Annotated[StoreConversionsRequest, Body()]) -> StoreConversionsResponse:
    return StoreConversionsResponse.model_validate(flow.store_conversions(STORE.call(profile_id), request))
