"""The responses API Gateway makes itself (no function answered), shaped by the template.

Each kind has API Gateway's own default status and message; the template's `GatewayResponses`
entry for the kind (else DEFAULT_4XX / DEFAULT_5XX) overrides the status, adds static headers and
renders the body from its `application/json` template with the few `$context` variables used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from capi_writeback_local.api_gateway.definition import GatewayResponse
from capi_writeback_local.api_gateway.messages import HttpResponse

# API Gateway's own defaults for the responses it makes itself (used unless the template overrides).
DEFAULT_GATEWAY_STATUS = {
    "UNAUTHORIZED": (401, "Unauthorized"),
    "ACCESS_DENIED": (403, "User is not authorized to access this resource with an explicit deny"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "AUTHORIZER_FAILURE": (500, None),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, None),
    "REQUEST_TOO_LARGE": (413, "Request Too Long"),
    "INTEGRATION_FAILURE": (502, "Internal server error"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out"),
    "DEFAULT_4XX": (400, "Bad Request"),  # any other refusal: here, a request that cannot be parsed
}

# The x-amzn-ErrorType header API Gateway sends with each kind.
ERROR_TYPE_HEADER = {
    "UNAUTHORIZED": "UnauthorizedException",
    "ACCESS_DENIED": "AccessDeniedException",
    "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
    "AUTHORIZER_FAILURE": "AuthorizerFailureException",
    "AUTHORIZER_CONFIGURATION_ERROR": "AuthorizerConfigurationException",
    "REQUEST_TOO_LARGE": "RequestTooLargeException",
    "INTEGRATION_TIMEOUT": "IntegrationTimeout",
    "DEFAULT_4XX": "BadRequestException",
}


class GatewayResponses:
    """`GatewayResponses(api.gateway_responses).make(kind, request_id)` -> the HTTP response."""

    def __init__(self, configured: Mapping[str, GatewayResponse]) -> None:
        self.configured = configured

    def make(self, kind: str, request_id: str, *, status: int | None = None,
             message: str | None = None) -> HttpResponse:
        """The response for `kind` (a key of DEFAULT_GATEWAY_STATUS), as the template shapes it;
        `status` and `message` replace the kind's defaults (the template's StatusCode still wins)."""
        default_status, default_message = DEFAULT_GATEWAY_STATUS[kind]
        status, message = status or default_status, message or default_message
        fallback = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
        spec = self.configured.get(kind) or self.configured.get(fallback)
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id),
                   ("x-amzn-ErrorType", ERROR_TYPE_HEADER.get(kind, "InternalServerErrorException"))]
        body = json.dumps({"message": message})
        if spec is not None:
            status = spec.status or status
            headers += list(spec.headers.items())
            if spec.template is not None:
                body = _render(spec.template, request_id, kind, message)
        return HttpResponse(status, headers, body.encode("utf-8"))


def _render(template: str, request_id: str, kind: str, message: str | None) -> str:
    """The few $context variables a gateway response template may use."""
    values = {
        "$context.requestId": request_id,
        "$context.extendedRequestId": request_id,
        "$context.error.responseType": kind,
        "$context.error.message": message or "",
        "$context.error.messageString": json.dumps(message or ""),
    }
    return re.sub(r"\$context\.[A-Za-z.]+", lambda m: values.get(m.group(0), ""), template)
