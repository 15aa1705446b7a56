"""The TOKEN authorizer step, as API Gateway runs it before an authorized route.

A missing or ill-formed identity header (the template's ValidationExpression) is refused without
calling the authorizer. Otherwise the authorizer function gets `{"type": "TOKEN",
"authorizationToken", "methodArn"}`; its policy is evaluated against the method ARN (explicit Deny
wins, no matching Allow is a deny); on allow its context, values as strings, becomes
`requestContext.authorizer`. Results are not cached (the template sets ReauthorizeEvery: 0).
"""

from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from capi_writeback_local.api_gateway.definition import ApiDefinition
from capi_writeback_local.api_gateway.messages import HttpRequest
from capi_writeback_local.lambda_runtime import FunctionPool, LambdaContext


@dataclass(frozen=True)
class Refused:
    """The authorizer step said no; `kind` is the gateway response API Gateway answers with."""

    kind: str


def authorize(request: HttpRequest, method_arn: str, api: ApiDefinition, functions: FunctionPool,
              *, region: str, account_id: str) -> dict[str, Any] | Refused:
    """The `requestContext.authorizer` for an allowed request, or why it was refused."""
    token = request.header(api.identity_header)
    pattern = api.identity_pattern
    if not token or (pattern is not None and re.fullmatch(pattern, token) is None):
        return Refused("UNAUTHORIZED")
    event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
    context = LambdaContext(api.authorizer_function, region, account_id)
    started = time.monotonic()
    try:
        result = functions.invoke(api.authorizer_function, event, context)
    except Exception as exc:  # raising "Unauthorized" is the documented way to answer 401
        return Refused("UNAUTHORIZED" if str(exc) == "Unauthorized" else "AUTHORIZER_FAILURE")
    if not isinstance(result, Mapping) or not result.get("principalId"):
        return Refused("AUTHORIZER_CONFIGURATION_ERROR")
    try:
        allowed = policy_allows(result.get("policyDocument"), method_arn)
    except ValueError:
        return Refused("AUTHORIZER_CONFIGURATION_ERROR")
    if not allowed:
        return Refused("ACCESS_DENIED")
    context_out: dict[str, Any] = {"principalId": str(result["principalId"])}
    for key, value in (result.get("context") or {}).items():
        if isinstance(value, (dict, list)):  # API Gateway rejects nested context values
            return Refused("AUTHORIZER_CONFIGURATION_ERROR")
        context_out[str(key)] = _context_string(value)
    context_out["integrationLatency"] = int((time.monotonic() - started) * 1000)
    return context_out


def policy_allows(policy: Any, method_arn: str) -> bool:
    """IAM evaluation of an authorizer policy for one execute-api:Invoke: explicit Deny wins."""
    if not isinstance(policy, Mapping):
        raise ValueError("policyDocument missing")
    statements = policy.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        raise ValueError("policyDocument.Statement missing")
    allowed = False
    for statement in statements:
        if not isinstance(statement, Mapping):
            raise ValueError("bad statement")
        if not (_matches(statement.get("Action"), "execute-api:Invoke")
                and _matches(statement.get("Resource"), method_arn)):
            continue
        effect = statement.get("Effect")
        if effect == "Deny":
            return False
        if effect == "Allow":
            allowed = True
    return allowed


def _matches(patterns: Any, value: str) -> bool:
    items = [patterns] if isinstance(patterns, str) else patterns if isinstance(patterns, list) else []
    return any(fnmatch.fnmatchcase(value, str(p).replace("[", "[[]")) for p in items)


def _context_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
