"""The API token routes (SPEC §11.1): issue one (returned once), list them, revoke one at once."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from capi_writeback.api.routes.operation import COMMON, OperationRouter, responses
from capi_writeback.contracts.admin import (
    TOKEN_ID_PATTERN,
    TokenCreate,
    TokenCreated,
    TokenList,
    TokenRevoked,
)
from capi_writeback.flow.admin import tokens

CREATE = OperationRouter("token_create")
LIST = OperationRouter("token_list")
REVOKE = OperationRouter("token_revoke")
ROUTERS = (CREATE, LIST, REVOKE)
WORKSPACE = ""  # audited in the workspace's trail

TokenId = Annotated[str, Path(min_length=20, max_length=20, pattern=TOKEN_ID_PATTERN,
                              description="The token's public id (from GET /v1/tokens).")]


@CREATE.post("/v1/tokens", summary="Issue an API token for a member (shown once; stored as SHA-256)",
             tags=["admin"], responses=responses(TokenCreated, *COMMON))
def create_token(request: Annotated[TokenCreate, Body()]) -> TokenCreated:
    return TokenCreated.model_validate(tokens.create_token(CREATE.call(WORKSPACE), request))


@LIST.get("/v1/tokens", summary="The workspace's API tokens (never the tokens themselves)",
          tags=["admin"], responses=responses(TokenList, 401, 403, 422, 500))
def list_tokens() -> TokenList:
    return TokenList.model_validate(tokens.list_tokens(LIST.call(WORKSPACE)))


@REVOKE.delete("/v1/tokens/<token_id>", summary="Revoke an API token (refused from the next request on)",
               tags=["admin"], responses=responses(TokenRevoked, *COMMON))
def revoke_token(token_id: TokenId) -> TokenRevoked:
    return TokenRevoked.model_validate(tokens.revoke_token(REVOKE.call(WORKSPACE), token_id))
