"""The local API Gateway REST API: one HTTP request in, the response API Gateway would give out.

In order, as API Gateway does it: the 10 MB payload limit; the route (method + resource, else the
"missing authentication token" response); on authorized routes the TOKEN authorizer step; then the
route's function with a proxy event, waited on for at most the 29 s integration timeout (the
function carries on after that, as on AWS); its proxy response becomes the HTTP response. Every
response the gateway makes itself comes from the template's GatewayResponses.
"""

from __future__ import annotations

import uuid

from capi_writeback_local.api_gateway.authorizer import Refused, authorize
from capi_writeback_local.api_gateway.definition import ApiDefinition
from capi_writeback_local.api_gateway.messages import HttpRequest, HttpResponse
from capi_writeback_local.api_gateway.proxy import proxy_event, proxy_response
from capi_writeback_local.api_gateway.responses import GatewayResponses
from capi_writeback_local.lambda_runtime import FunctionPool, LambdaContext

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
INTEGRATION_TIMEOUT_SECONDS = 29.0  # API Gateway's default (and, for REST APIs, usual) maximum


class ApiGateway:
    """Turns HTTP requests into authorizer + proxy-integration invocations, as API Gateway does."""

    def __init__(
        self,
        functions: FunctionPool | None = None,
        api: ApiDefinition | None = None,
        *,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        api_id: str = "local",
        host: str = "127.0.0.1",
        integration_timeout: float = INTEGRATION_TIMEOUT_SECONDS,
    ) -> None:
        self.functions = functions or FunctionPool()
        self.api = api or ApiDefinition.from_template()
        self.responses = GatewayResponses(self.api.gateway_responses)
        self.region = region
        self.account_id = account_id
        self.api_id = api_id
        self.host = host
        self.integration_timeout = integration_timeout

    def handle(self, request: HttpRequest) -> HttpResponse:
        """The HTTP response API Gateway would give to `request`."""
        request_id = str(uuid.uuid4())
        if len(request.body) > MAX_REQUEST_BYTES:
            return self.responses.make("REQUEST_TOO_LARGE", request_id)
        route, params = self.api.route(request.method, request.path)
        if route is None:
            return self.responses.make("MISSING_AUTHENTICATION_TOKEN", request_id)
        authorizer = None
        if route.authorized:
            decision = authorize(request, self.method_arn(request.method, request.path), self.api,
                                 self.functions, region=self.region, account_id=self.account_id)
            if isinstance(decision, Refused):
                return self.responses.make(decision.kind, request_id)
            authorizer = decision
        event = proxy_event(request, route, params, request_id, authorizer, stage=self.api.stage,
                            account_id=self.account_id, api_id=self.api_id, host=self.host)
        context = LambdaContext(route.function, self.region, self.account_id)
        invocation = self.functions.start(route.function, event, context)
        if not invocation.wait(self.integration_timeout):
            return self.responses.make("INTEGRATION_TIMEOUT", request_id)
        response = None if invocation.failed else proxy_response(invocation.result, request_id)
        return response or self.responses.make("INTEGRATION_FAILURE", request_id)

    def method_arn(self, method: str, path: str) -> str:
        """The execute-api ARN the authorizer's policy is evaluated against."""
        return (f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}/{self.api.stage}/"
                f"{method.upper()}{path}")

    def too_large(self) -> HttpResponse:
        """The gateway's answer to a body over the 10 MB limit (the server stops reading it)."""
        return self.responses.make("REQUEST_TOO_LARGE", str(uuid.uuid4()))

    def malformed(self, status: int, message: str) -> HttpResponse:
        """The gateway's answer to a request that cannot be parsed: a 4xx with the template's
        DEFAULT_4XX body, `message` saying what is wrong (never quoting the request)."""
        return self.responses.make("DEFAULT_4XX", str(uuid.uuid4()), status=status, message=message)
