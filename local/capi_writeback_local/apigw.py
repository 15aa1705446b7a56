"""A local stand-in for the API Gateway REST API in front of the functions, configured from
template.yaml (routes, stage, TOKEN authorizer and its identity check, gateway responses), so the
local API and the deployed one cannot drift.

An HTTP request becomes exactly what API Gateway would hand the Lambdas: for an authorized route
the TOKEN authorizer is invoked first with `{"type": "TOKEN", "authorizationToken", "methodArn"}`
(a missing or ill-formed Authorization header is refused without calling it, as API Gateway does
with the template's ValidationExpression); its policy is evaluated against the method ARN (explicit
Deny wins, no matching Allow is a deny); on allow its context (values as strings) lands in
`requestContext.authorizer`. Then the route's function gets a REST proxy event (`resource`, `path`,
`httpMethod`, `headers`/`multiValueHeaders`, query strings, `pathParameters`, `requestContext`,
`body`, `isBase64Encoded`) and its proxy response (`statusCode`, `headers`, `multiValueHeaders`,
`body`, `isBase64Encoded`) becomes the HTTP response. Responses the gateway makes itself (401 for a
refused token, unknown routes, 413, a crashed function, 504 after the 29 s integration timeout while
the function carries on) use the template's GatewayResponses.

Functions are loaded from `functions/<name>/app.py` with importlib under unique module names (every
one is called app.py). Like Lambda, a loaded copy (a "container") serves one request at a time;
concurrent requests to the same function get further copies, so module-level state in a handler
behaves as it does on AWS. The layer package is shared by all copies, as the layer is on AWS.
Authorizer results are not cached (the template sets ReauthorizeEvery: 0).
"""

from __future__ import annotations

import base64
import fnmatch
import importlib.util
import json
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl

from capi_writeback_local.cfn_template import DEFAULT_TEMPLATE, load_template, resources_of_type

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
INTEGRATION_TIMEOUT_SECONDS = 29.0  # API Gateway's default (and, for REST APIs, usual) maximum


@dataclass(frozen=True)
class Route:
    """One API method: the path template as API Gateway's resource and the function behind it."""

    method: str
    resource: str
    function: str
    authorized: bool = True

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters when `path` fits this resource, else None."""
        pattern = re.sub(r"\\\{([A-Za-z_][A-Za-z0-9_]*)\\\}", r"(?P<\1>[^/]+)", re.escape(self.resource))
        found = re.fullmatch(pattern, path)
        return None if found is None else found.groupdict()


@dataclass(frozen=True)
class GatewayResponse:
    """A gateway response as the template declares it (status, static headers, body template)."""

    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    template: str | None = None


@dataclass(frozen=True)
class ApiDefinition:
    """What API Gateway is configured with: routes, stage, the TOKEN authorizer, gateway responses."""

    routes: tuple[Route, ...]
    stage: str = "prod"
    authorizer_function: str = "authorizer"
    identity_header: str = "Authorization"
    identity_pattern: str | None = None
    gateway_responses: Mapping[str, GatewayResponse] = field(default_factory=dict)

    @classmethod
    def from_template(cls, path: str | Path = DEFAULT_TEMPLATE) -> ApiDefinition:
        """Read the REST API, its functions' Api events and its authorizer from template.yaml."""
        template = load_template(path)
        resources: dict[str, Any] = template.get("Resources") or {}
        api_id, api = next(iter(resources_of_type(template, "AWS::Serverless::Api").items()))
        props = api.get("Properties") or {}
        auth = props.get("Auth") or {}
        default_authorizer = auth.get("DefaultAuthorizer")
        routes: list[Route] = []
        for resource in resources_of_type(template, "AWS::Serverless::Function").values():
            for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
                event_props = event.get("Properties") or {}
                if event.get("Type") != "Api" or (event_props.get("RestApiId") or {}).get("Ref") != api_id:
                    continue
                authorizer = (event_props.get("Auth") or {}).get("Authorizer", default_authorizer)
                routes.append(Route(str(event_props["Method"]).upper(), str(event_props["Path"]),
                                    _function_name(resource),
                                    authorized=bool(authorizer) and authorizer != "NONE"))
        authorizer_function, header, pattern = "authorizer", "Authorization", None
        if default_authorizer:
            spec = (auth.get("Authorizers") or {})[default_authorizer]
            target = (spec.get("FunctionArn") or {}).get("Fn::GetAtt", [""])[0]
            authorizer_function = _function_name(resources[target])
            identity = spec.get("Identity") or {}
            header = str(identity.get("Header") or header)
            pattern = identity.get("ValidationExpression")
        responses = {
            name: GatewayResponse(
                status=int(value["StatusCode"]) if value.get("StatusCode") else None,
                headers={k: str(v).strip("'") for k, v in
                         ((value.get("ResponseParameters") or {}).get("Headers") or {}).items()},
                template=(value.get("ResponseTemplates") or {}).get("application/json"),
            )
            for name, value in (props.get("GatewayResponses") or {}).items()
        }
        return cls(routes=tuple(routes), stage=_resolve(template, props.get("StageName"), "prod"),
                   authorizer_function=authorizer_function, identity_header=header,
                   identity_pattern=pattern, gateway_responses=responses)


def _function_name(resource: Mapping[str, Any]) -> str:
    """functions/<name>/ -> <name> (an API function must live in its own folder to be served)."""
    code_uri = (resource.get("Properties") or {}).get("CodeUri")
    if not code_uri:
        raise ValueError("an API function without CodeUri cannot be served locally")
    return Path(str(code_uri)).name


def _resolve(template: Mapping[str, Any], value: Any, default: str) -> str:
    if isinstance(value, Mapping) and "Ref" in value:
        parameter = (template.get("Parameters") or {}).get(value["Ref"]) or {}
        return str(parameter.get("Default", default))
    return str(value) if value else default


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
}


@dataclass(frozen=True)
class HttpRequest:
    """An HTTP request as the server received it (path without the query string)."""

    method: str
    path: str
    query: str = ""
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    source_ip: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        """The last value of a header (case-insensitive), as API Gateway's `headers` map keeps."""
        value = None
        for key, item in self.headers:
            if key.lower() == name.lower():
                value = item
        return value


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    def __init__(self, function_name: str, region: str, account_id: str, timeout_s: float = 30.0) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


Handler = Callable[[dict[str, Any], Any], Any]


class FunctionPool:
    """Loads `functions/<name>/app.py` and hands out one idle copy per invocation (see module doc)."""

    def __init__(self, functions_dir: Path = FUNCTIONS_DIR) -> None:
        self.functions_dir = functions_dir
        self._lock = threading.Lock()
        self._idle: dict[str, list[ModuleType]] = {}
        self._loaded = 0

    def _load(self, name: str) -> ModuleType:
        path = self.functions_dir / name / "app.py"
        with self._lock:
            self._loaded += 1
            module_name = f"capi_writeback_function_{name}_{self._loaded}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise FileNotFoundError(path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:  # like a failed Lambda init: nothing half-loaded is kept
            del sys.modules[module_name]
            raise
        return module

    def invoke(self, name: str, event: dict[str, Any], context: LambdaContext) -> Any:
        """Call `lambda_handler(event, context)` of function `name` in a copy no one else is using."""
        with self._lock:
            idle = self._idle.setdefault(name, [])
            module = idle.pop() if idle else None
        if module is None:
            module = self._load(name)
        try:
            handler: Handler = module.lambda_handler
            return handler(event, context)
        finally:
            with self._lock:
                self._idle[name].append(module)


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
        self.routes = self.api.routes
        self.stage = self.api.stage
        self.region = region
        self.account_id = account_id
        self.api_id = api_id
        self.host = host
        self.integration_timeout = integration_timeout

    def handle(self, request: HttpRequest) -> HttpResponse:
        """The HTTP response API Gateway would give to `request`."""
        request_id = str(uuid.uuid4())
        if len(request.body) > MAX_REQUEST_BYTES:
            return self._gateway("REQUEST_TOO_LARGE", request_id)
        route, params = self._route(request)
        if route is None:
            return self._gateway("MISSING_AUTHENTICATION_TOKEN", request_id)
        authorizer: dict[str, Any] | None = None
        if route.authorized:
            decision = self._authorize(request, request_id)
            if isinstance(decision, HttpResponse):
                return decision
            authorizer = decision
        event = self.proxy_event(request, route, params, request_id, authorizer)
        context = LambdaContext(route.function, self.region, self.account_id)
        outcome: dict[str, Any] = {}

        def integrate() -> None:
            try:
                outcome["result"] = self.functions.invoke(route.function, event, context)
            except Exception:  # a crashed integration: API Gateway answers 502
                outcome["failed"] = True

        # Like API Gateway, stop waiting after the integration timeout; the function carries on.
        worker = threading.Thread(target=integrate, name=f"lambda-{route.function}", daemon=True)
        worker.start()
        worker.join(self.integration_timeout)
        if worker.is_alive():
            return self._gateway("INTEGRATION_TIMEOUT", request_id)
        if "result" not in outcome:
            return self._gateway("INTEGRATION_FAILURE", request_id)
        return self._proxy_response(outcome["result"], request_id)

    # ---- routing and events ----------------------------------------------------------------

    def _route(self, request: HttpRequest) -> tuple[Route | None, dict[str, str]]:
        path = request.path.rstrip("/") or "/"
        for route in self.routes:
            if route.method == request.method.upper():
                params = route.match(path)
                if params is not None:
                    return route, params
        return None, {}

    def method_arn(self, method: str, path: str) -> str:
        return (f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}/{self.stage}/"
                f"{method.upper()}{path}")

    def proxy_event(
        self,
        request: HttpRequest,
        route: Route,
        params: Mapping[str, str],
        request_id: str,
        authorizer: Mapping[str, Any] | None,
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
            "accountId": self.account_id,
            "protocol": "HTTP/1.1",
            "stage": self.stage,
            "domainPrefix": self.host,
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request_id,
            "identity": {
                "sourceIp": request.source_ip,
                "userAgent": request.header("User-Agent"),
                **dict.fromkeys(("accountId", "apiKey", "apiKeyId", "caller", "cognitoIdentityId",
                                 "cognitoIdentityPoolId", "principalOrgId", "user", "userArn",
                                 "cognitoAuthenticationType", "cognitoAuthenticationProvider", "accessKey")),
            },
            "domainName": self.host,
            "apiId": self.api_id,
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

    # ---- the authorizer step ---------------------------------------------------------------

    def _authorize(self, request: HttpRequest, request_id: str) -> dict[str, Any] | HttpResponse:
        token = request.header(self.api.identity_header)
        pattern = self.api.identity_pattern
        if not token or (pattern is not None and re.fullmatch(pattern, token) is None):
            # a missing or ill-formed identity source: API Gateway refuses without calling the authorizer
            return self._gateway("UNAUTHORIZED", request_id)
        method_arn = self.method_arn(request.method, request.path)
        event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
        context = LambdaContext(self.api.authorizer_function, self.region, self.account_id)
        started = time.monotonic()
        try:
            result = self.functions.invoke(self.api.authorizer_function, event, context)
        except Exception as exc:
            kind = "UNAUTHORIZED" if str(exc) == "Unauthorized" else "AUTHORIZER_FAILURE"
            return self._gateway(kind, request_id)
        if not isinstance(result, Mapping) or not result.get("principalId"):
            return self._gateway("AUTHORIZER_CONFIGURATION_ERROR", request_id)
        try:
            allowed = policy_allows(result.get("policyDocument"), method_arn)
        except ValueError:
            return self._gateway("AUTHORIZER_CONFIGURATION_ERROR", request_id)
        if not allowed:
            return self._gateway("ACCESS_DENIED", request_id)
        context_out: dict[str, Any] = {"principalId": str(result["principalId"])}
        for key, value in (result.get("context") or {}).items():
            if isinstance(value, (dict, list)):  # API Gateway rejects nested context values
                return self._gateway("AUTHORIZER_CONFIGURATION_ERROR", request_id)
            context_out[str(key)] = _context_string(value)
        context_out["integrationLatency"] = int((time.monotonic() - started) * 1000)
        return context_out

    # ---- responses -------------------------------------------------------------------------

    def _gateway(self, kind: str, request_id: str) -> HttpResponse:
        """A response API Gateway makes itself, shaped by the template's GatewayResponses."""
        status, message = DEFAULT_GATEWAY_STATUS[kind]
        responses = self.api.gateway_responses
        spec = responses.get(kind) or responses.get("DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX")
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id),
                   ("x-amzn-ErrorType", _error_type(kind))]
        body = json.dumps({"message": message})
        if spec is not None:
            status = spec.status or status
            headers += list(spec.headers.items())
            if spec.template is not None:
                body = _render(spec.template, request_id, kind, message)
        return HttpResponse(status, headers, body.encode("utf-8"))

    def too_large(self) -> HttpResponse:
        """The gateway's answer to a body over the 10 MB limit (the server stops reading it)."""
        return self._gateway("REQUEST_TOO_LARGE", str(uuid.uuid4()))

    def _proxy_response(self, result: Any, request_id: str) -> HttpResponse:
        if not isinstance(result, Mapping) or not isinstance(result.get("statusCode"), int):
            return self._gateway("INTEGRATION_FAILURE", request_id)
        merged: list[tuple[str, str]] = []
        multi = result.get("multiValueHeaders") or {}
        for key, values in multi.items():
            merged += [(str(key), str(v)) for v in (values or [])]
        seen = {k.lower() for k, _ in merged}
        for key, value in (result.get("headers") or {}).items():
            if str(key).lower() not in seen:
                merged.append((str(key), str(value)))
        if "content-type" not in {k.lower() for k, _ in merged}:
            merged.append(("Content-Type", "application/json"))
        merged.append(("x-amzn-RequestId", request_id))
        raw = result.get("body")
        if raw is None:
            body = b""
        elif result.get("isBase64Encoded"):
            body = base64.b64decode(str(raw))
        else:
            body = str(raw).encode("utf-8")
        return HttpResponse(int(result["statusCode"]), merged, body)


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


def _context_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _event_body(raw: bytes) -> tuple[str | None, bool]:
    if not raw:
        return None, False
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), True


def _error_type(kind: str) -> str:
    return {
        "UNAUTHORIZED": "UnauthorizedException",
        "ACCESS_DENIED": "AccessDeniedException",
        "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
        "AUTHORIZER_FAILURE": "AuthorizerFailureException",
        "AUTHORIZER_CONFIGURATION_ERROR": "AuthorizerConfigurationException",
        "REQUEST_TOO_LARGE": "RequestTooLargeException",
        "INTEGRATION_TIMEOUT": "IntegrationTimeout",
    }.get(kind, "InternalServerErrorException")
