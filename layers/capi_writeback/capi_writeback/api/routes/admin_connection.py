"""The Meta connection routes (SPEC §11.1): connect (checked with Meta first) and disconnect."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from capi_writeback.api.routes.operation import COMMON, OperationRouter, ProfileId, responses
from capi_writeback.contracts.admin import ConnectionChange, ConnectionPut
from capi_writeback.flow.admin import connection

PUT = OperationRouter("connection_put", audited=True)
DELETE = OperationRouter("connection_delete", audited=True)
ROUTERS = (PUT, DELETE)


@PUT.put("/v1/profiles/<profile_id>/connection",
         summary="Connect Meta: check the token with Meta, store it in Secrets Manager, mark it active",
         tags=["admin"], responses=responses(ConnectionChange, *COMMON, 504))
def put_connection(profile_id: ProfileId, request: Annotated[ConnectionPut, Body()]) -> ConnectionChange:
    return ConnectionChange.model_validate(connection.connect(PUT.call(profile_id), request))


@DELETE.delete("/v1/profiles/<profile_id>/connection",
               summary="Disconnect Meta: the connection becomes inactive, its secret is deleted",
               tags=["admin"], responses=responses(ConnectionChange, *COMMON))
def delete_connection(profile_id: ProfileId) -> ConnectionChange:
    return ConnectionChange.model_validate(connection.disconnect(DELETE.call(profile_id)))
