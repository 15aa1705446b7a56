"""GET /v1/openapi.json and GET /v1/docs (no authorizer): the API's own description."""

from capi_writeback.api.docs import docs_handler

lambda_handler = docs_handler()
