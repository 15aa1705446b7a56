"""The REST API Lambda proxy integration: the event a function gets and how its answer becomes HTTP.

Event: `resource`, `path`, `httpMethod`, `headers`/`multiValueHeaders`, query strings,
`pathParameters`, `requestContext` (with the authorizer's context on authorized routes), `body`
(base64 with `isBase64Encoded` when it is not UTF-8). Response: `statusCode`, `headers`,
`multiValueHeaders`, `body`, `isBase64Encoded`; anything else is a malformed proxy response (None).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from capi_writeback_local.api_gateway.definition import Route
from capi_writeback_local.api_gateway.messages import HttpRequest, HttpResponse

_IDENTITY_FIELDS = ("accountId", "apiKey", "apiKeyId", "caller", "cognitoIdentityId", "cognitoIdentityPoolId",
                    "principalOrgId", "user", "userArn", "cognitoAuthenticationType",
                    "cognitoAuthenticationProvider", "accessKey")


def proxy_event(
    request: HttpRequest,
    route: Route,
    params: Mapping[str, str],
    request_id: str,
    authorizer: Mapping[str, Any] | None,
    *,
    stage: str,
    account_id: str,
    api_id: str,
    host: str,
) -> dict[str, Any]:
    """The REST API proxy integration event for `request`."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for key, value in request.headers:
        headers[key] = value
        multi_headers.setdefault(key, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for key, value in parse_qsl(request.query, keep_blank_values=True):
        query[key] = value
        multi_query.setdefault(key, []).append(value)
    body, is_b64 = _event_body(request.body)
    now = datetime.now(UTC)
    request_context: dict[str, Any] = {
        "resourceId": "local",
        "resourcePath": route.resource,
        "httpMethod": route.method,
        "extendedRequestId": request_id,
        "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "path": request.path,  # as behind a custom domain: no stage prefix
        "accountId": account_id,
        "protocol": "HTTP/1.1",
        "stage": stage,
        "domainPrefix": host,
        "requestTimeEpoch": int(now.timestamp() * 1000),
        "requestId": request_id,
        "identity": {
            "sourceIp": request.source_ip,
            "userAgent": request.header("User-Agent"),
            **dict.fromkeys(_IDENTITY_FIELDS),
        },
        "domainName": host,
        "apiId": api_id,
    }
    if authorizer is not None:
        request_context["authorizer"] = dict(authorizer)
    return {
        "resource": route.resource,
        "path": request.path,
        "httpMethod": route.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(params) or None,
        "stageVariables": None,
        "requestContext": request_context,
        "body": body,
        "isBase64Encoded": is_b64,
    }


def proxy_response(result: Any, request_id: str) -> HttpResponse | None:
    """The HTTP response for a function's proxy result; None when it is malformed (API Gateway
    then answers 502): no integer status in 100-599, a body that is not a string (or not base64
    when it says so, or not encodable as UTF-8), headers that are not a map, multi-value headers
    that are not lists."""
    if not isinstance(result, Mapping):
        return None
    status = result.get("statusCode")
    headers = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    raw = result.get("body")
    if (not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599
            or not isinstance(headers, Mapping) or not isinstance(multi, Mapping)
            or not all(isinstance(values, list) for values in multi.values())
            or not (raw is None or isinstance(raw, str))):
        return None
    merged: list[tuple[str, str]] = []
    for key, values in multi.items():
        merged += [(str(key), str(v)) for v in values]
    seen = {k.lower() for k, _ in merged}
    for key, value in headers.items():
        if str(key).lower() not in seen:
            merged.append((str(key), str(value)))
    if "content-type" not in {k.lower() for k, _ in merged}:
        merged.append(("Content-Type", "application/json"))
    merged.append(("x-amzn-RequestId", request_id))
    try:
        if raw is None:
            body = b""
        elif result.get("isBase64Encoded"):
            body = base64.b64decode(raw, validate=True)
        else:
            body = raw.encode("utf-8")
    except ValueError:  # not base64 (binascii.Error), or a lone surrogate (UnicodeEncodeError)
        return None
    return HttpResponse(status, merged, body)


def _event_body(raw: bytes) -> tuple[str | None, bool]:
    if not raw:
        return None, False
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), True
