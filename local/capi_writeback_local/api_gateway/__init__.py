"""A local stand-in for the API Gateway REST API in front of the functions, configured from
template.yaml: definition (what the template configures), authorizer (the TOKEN step), proxy (event
and response of the Lambda proxy integration), responses (the ones the gateway makes itself) and
gateway (`ApiGateway.handle`, the order API Gateway does all of it in). The functions themselves
run in `capi_writeback_local.lambda_runtime`."""

from capi_writeback_local.api_gateway.definition import ApiDefinition, Route
from capi_writeback_local.api_gateway.gateway import MAX_REQUEST_BYTES, ApiGateway
from capi_writeback_local.api_gateway.messages import HttpRequest, HttpResponse

__all__ = ["MAX_REQUEST_BYTES", "ApiDefinition", "ApiGateway", "HttpRequest", "HttpResponse", "Route"]
