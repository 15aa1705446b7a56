"""The API Gateway stand-in: authorizer step, proxy events and responses, gateway responses.

Functions here are plain Python callables behind a FunctionPool, so each API Gateway rule is
checked on its own; the real handlers run behind it in test_serve.py and test_local_api.py, and
the runtime itself (copies, invocations) in test_lambda_runtime.py.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from capi_writeback.errors import ERRORS
from capi_writeback_local.api_gateway import ApiDefinition, ApiGateway, HttpRequest, Route
from capi_writeback_local.api_gateway.authorizer import policy_allows
from capi_writeback_local.api_gateway.responses import DEFAULT_GATEWAY_STATUS, GatewayResponses
from capi_writeback_local.lambda_runtime import FunctionPool

ALLOW_ALL = {"Version": "2012-10-17",
             "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow",
                            "Resource": "arn:aws:execute-api:us-east-1:123456789012:local/prod/*"}]}


class FakePool(FunctionPool):
    """Functions as callables; every event each one got is kept."""

    def __init__(self, functions: dict[str, Callable[[dict[str, Any]], Any]]) -> None:
        super().__init__()
        self.functions = functions
        self.calls: dict[str, list[dict[str, Any]]] = {name: [] for name in functions}

    def invoke(self, name: str, event: dict[str, Any], context: Any) -> Any:
        self.calls[name].append(event)
        return self.functions[name](event)


def _authorizer(result: Any = None, exc: Exception | None = None) -> Callable[[dict[str, Any]], Any]:
    def authorizer(event: dict[str, Any]) -> Any:
        if exc is not None:
            raise exc
        return result if result is not None else {
            "principalId": "user_1", "policyDocument": ALLOW_ALL,
            "context": {"workspace_id": "ws_1", "user_id": "user_1", "scopes": "mcp:read mcp:write",
                        "admin": True, "n": 3}}
    return authorizer


def _echo(event: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"ok": True})}


@pytest.fixture(scope="module")
def template_api() -> ApiDefinition:
    return ApiDefinition.from_template()


Function = Callable[[dict[str, Any]], Any]


def _gateway(template_api: ApiDefinition, **functions: Function) -> tuple[ApiGateway, FakePool]:
    defaults: dict[str, Function] = {"authorizer": _authorizer(), "preview": _echo, "docs": _echo}
    pool = FakePool({**defaults, **functions})
    return ApiGateway(pool, template_api), pool


def _post(path: str = "/v1/profiles/prof_1/writeback/preview", token: str | None = "Bearer abc.DEF-123",
          body: bytes = b'{"last_days": 7}', query: str = "") -> HttpRequest:
    headers = [("Content-Type", "application/json")]
    if token is not None:
        headers.append(("Authorization", token))
    return HttpRequest("POST", path, query, headers, body)


def _error(response: Any) -> dict[str, Any]:
    return dict(json.loads(response.body)["error"])


def test_template_declares_the_spec_routes(template_api: ApiDefinition) -> None:
    routes = {(r.method, r.resource, r.function, r.authorized) for r in template_api.routes}
    assert routes == {
        ("POST", "/v1/profiles/{profile_id}/writeback/preview", "preview", True),
        ("POST", "/v1/profiles/{profile_id}/writeback/dry-run", "dry_run", True),
        ("POST", "/v1/profiles/{profile_id}/writeback/confirm", "confirm", True),
        ("POST", "/v1/profiles/{profile_id}/conversions", "conversions", True),
        ("GET", "/v1/profiles/{profile_id}/writeback/audit", "audit", True),
        ("POST", "/v1/profiles/{profile_id}/writeback/breaker/reset", "breaker_reset", True),
        ("GET", "/v1/openapi.json", "docs", False),
        ("GET", "/v1/docs", "docs", False),
        ("POST", "/v1/mcp", "mcp", True),
        ("GET", "/v1/workspace", "workspace", True), ("PATCH", "/v1/workspace/settings", "workspace", True),
        ("PUT", "/v1/workspace/members/{user_id}", "workspace", True),
        ("DELETE", "/v1/workspace/members/{user_id}", "workspace", True),
        ("GET", "/v1/workspace/audit", "workspace", True), ("POST", "/v1/tokens", "workspace", True),
        ("GET", "/v1/tokens", "workspace", True), ("DELETE", "/v1/tokens/{token_id}", "workspace", True),
        ("POST", "/v1/profiles", "profiles", True), ("GET", "/v1/profiles", "profiles", True),
        ("GET", "/v1/profiles/{profile_id}", "profiles", True),
        ("PATCH", "/v1/profiles/{profile_id}", "profiles", True),
        ("PUT", "/v1/profiles/{profile_id}/connection", "connection", True),
        ("DELETE", "/v1/profiles/{profile_id}/connection", "connection", True),
        ("GET", "/v1/profiles/{profile_id}/quality", "quality", True),
        ("GET", "/v1/dashboard", "dashboard", False),
        ("POST", "/v1/profiles/{profile_id}/events", "send_event", True),
        ("POST", "/v1/profiles/{profile_id}/syncs", "syncs", True),
        ("GET", "/v1/profiles/{profile_id}/syncs", "syncs", True),
        ("GET", "/v1/profiles/{profile_id}/syncs/{sync_id}", "syncs", True),
        ("PATCH", "/v1/profiles/{profile_id}/syncs/{sync_id}", "syncs", True),
        ("DELETE", "/v1/profiles/{profile_id}/syncs/{sync_id}", "syncs", True),
        ("POST", "/v1/profiles/{profile_id}/syncs/{sync_id}/runs", "sync_runs", True),
        ("GET", "/v1/profiles/{profile_id}/syncs/{sync_id}/runs", "sync_runs", True),
        ("GET", "/v1/profiles/{profile_id}/syncs/{sync_id}/runs/{run_id}", "sync_runs", True),
        ("GET", "/v1/profiles/{profile_id}/syncs/{sync_id}/runs/{run_id}/rows", "sync_runs", True),
    }
    assert template_api.authorizer_function == "authorizer"
    assert template_api.identity_header == "Authorization"


@pytest.mark.parametrize("token", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer two words"])
def test_missing_or_malformed_token_is_refused_without_calling_the_authorizer(
        template_api: ApiDefinition, token: str | None) -> None:
    gateway, pool = _gateway(template_api)
    response = gateway.handle(_post(token=token))
    assert response.status == 401
    error = _error(response)
    assert error["type"] == "UNAUTHENTICATED" and error["fix"]
    assert error["request_id"] == response.header("x-amzn-RequestId")
    assert response.header("WWW-Authenticate") == "Bearer"
    assert pool.calls["authorizer"] == [] and pool.calls["preview"] == []


def test_authorizer_gets_a_token_event_with_the_method_arn(template_api: ApiDefinition) -> None:
    gateway, pool = _gateway(template_api)
    assert gateway.handle(_post()).status == 200
    (event,) = pool.calls["authorizer"]
    assert event == {"type": "TOKEN", "authorizationToken": "Bearer abc.DEF-123",
                     "methodArn": "arn:aws:execute-api:us-east-1:123456789012:local/prod/POST"
                                  "/v1/profiles/prof_1/writeback/preview"}


@pytest.mark.parametrize("outcome,status,error_type", [
    ({"exc": Exception("Unauthorized")}, 401, "UNAUTHENTICATED"),
    ({"result": {"principalId": "u", "policyDocument": {**ALLOW_ALL, "Statement": [
        {**ALLOW_ALL["Statement"][0], "Effect": "Deny"}]}}}, 401, "UNAUTHENTICATED"),
    ({"result": {"principalId": "u", "policyDocument": {**ALLOW_ALL, "Statement": [
        {**ALLOW_ALL["Statement"][0], "Resource": "arn:aws:execute-api:us-east-1:123456789012:other/*"}]}}},
     401, "UNAUTHENTICATED"),
    ({"exc": RuntimeError("boom")}, 500, "INTERNAL"),
    ({"result": {"policyDocument": ALLOW_ALL}}, 500, "INTERNAL"),
    ({"result": {"principalId": "u", "policyDocument": ALLOW_ALL, "context": {"nested": {"a": 1}}}},
     500, "INTERNAL"),
])
def test_authorizer_refusals_never_reach_the_function(
        template_api: ApiDefinition, outcome: dict[str, Any], status: int, error_type: str) -> None:
    gateway, pool = _gateway(template_api, authorizer=_authorizer(**outcome))
    response = gateway.handle(_post())
    assert response.status == status
    assert _error(response)["type"] == error_type
    assert pool.calls["preview"] == []


def test_allowed_request_becomes_a_rest_proxy_event(template_api: ApiDefinition) -> None:
    gateway, pool = _gateway(template_api)
    request = HttpRequest("POST", "/v1/profiles/prof_9/writeback/preview", "a=1&a=2&b=",
                          [("Authorization", "Bearer abc"), ("X-Multi", "one"), ("X-Multi", "two"),
                           ("User-Agent", "tests")], "héllo".encode(), "127.0.0.1")
    gateway.handle(request)
    (event,) = pool.calls["preview"]
    assert event["resource"] == "/v1/profiles/{profile_id}/writeback/preview"
    assert event["path"] == "/v1/profiles/prof_9/writeback/preview"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"profile_id": "prof_9"}
    assert event["queryStringParameters"] == {"a": "2", "b": ""}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [""]}
    assert event["headers"]["X-Multi"] == "two"
    assert event["multiValueHeaders"]["X-Multi"] == ["one", "two"]
    assert event["body"] == "héllo" and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["resourcePath"] == event["resource"] and context["stage"] == "prod"
    assert context["identity"]["sourceIp"] == "127.0.0.1" and context["identity"]["userAgent"] == "tests"
    authorizer = context["authorizer"]
    assert authorizer["principalId"] == "user_1"
    # API Gateway hands the authorizer context over as strings
    assert {k: authorizer[k] for k in ("workspace_id", "user_id", "scopes", "admin", "n")} == {
        "workspace_id": "ws_1", "user_id": "user_1", "scopes": "mcp:read mcp:write",
        "admin": "true", "n": "3"}


def test_binary_body_is_base64_encoded(template_api: ApiDefinition) -> None:
    gateway, pool = _gateway(template_api)
    gateway.handle(_post(body=b"\xff\xfe\x00"))
    (event,) = pool.calls["preview"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe\x00"


def test_docs_routes_skip_the_authorizer(template_api: ApiDefinition) -> None:
    gateway, pool = _gateway(template_api)
    response = gateway.handle(HttpRequest("GET", "/v1/docs"))
    assert response.status == 200
    assert pool.calls["authorizer"] == []
    assert "authorizer" not in pool.calls["docs"][0]["requestContext"]


def test_proxy_response_headers_are_merged_and_base64_bodies_decoded(template_api: ApiDefinition) -> None:
    def handler(event: dict[str, Any]) -> dict[str, Any]:
        return {"statusCode": 201, "headers": {"X-One": "h", "X-Two": "h"},
                "multiValueHeaders": {"X-Two": ["m1", "m2"], "Set-Cookie": ["a=1", "b=2"]},
                "body": base64.b64encode(b"\x00binary").decode(), "isBase64Encoded": True}
    gateway, _pool = _gateway(template_api, preview=handler)
    response = gateway.handle(_post())
    assert response.status == 201
    assert response.body == b"\x00binary"
    assert [v for k, v in response.headers if k == "X-Two"] == ["m1", "m2"]
    assert [v for k, v in response.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert response.header("X-One") == "h"


@pytest.mark.parametrize("result", [
    None, {"body": "no status"}, {"statusCode": "200"}, "text", {"statusCode": True},
    {"statusCode": 1000}, {"statusCode": 99}, {"statusCode": 200, "body": {"not": "a string"}},
    {"statusCode": 200, "body": "abc", "isBase64Encoded": True},  # not base64
    {"statusCode": 200, "body": "lone \ud800 surrogate"},
    {"statusCode": 200, "headers": ["X-A"]}, {"statusCode": 200, "multiValueHeaders": {"X-A": "one"}},
    {"statusCode": 200, "multiValueHeaders": ["X-A"]}])
def test_malformed_or_crashing_function_gives_the_gateway_5xx(
        template_api: ApiDefinition, result: Any) -> None:
    gateway, _pool = _gateway(template_api, preview=lambda event: result)
    response = gateway.handle(_post())
    assert response.status == 502
    assert _error(response)["type"] == "INTERNAL"

    def crash(event: dict[str, Any]) -> Any:
        raise ValueError("bug")
    gateway, _pool = _gateway(template_api, preview=crash)
    assert gateway.handle(_post()).status == 502


@pytest.mark.parametrize("method,path", [("GET", "/v1/nope"), ("DELETE", "/v1/profiles/p/writeback/preview"),
                                         ("POST", "/v1/profiles/p/writeback/preview/extra")])
def test_unknown_route_uses_the_templates_not_found(
        template_api: ApiDefinition, method: str, path: str) -> None:
    gateway, pool = _gateway(template_api)
    response = gateway.handle(HttpRequest(method, path, "", [("Authorization", "Bearer abc")]))
    assert response.status == 404
    assert _error(response)["type"] == "NOT_FOUND"
    assert pool.calls["authorizer"] == []


def test_explicit_deny_wins_and_wildcards_match() -> None:
    arn = "arn:aws:execute-api:us-east-1:1:api/prod/POST/v1/x"
    allow = {"Action": "execute-api:Invoke", "Effect": "Allow",
             "Resource": "arn:aws:execute-api:us-east-1:1:api/*"}
    deny = {**allow, "Effect": "Deny", "Resource": [arn]}
    assert policy_allows({"Statement": [allow]}, arn)
    assert not policy_allows({"Statement": [allow, deny]}, arn)
    assert not policy_allows({"Statement": [{**allow, "Action": "s3:GetObject"}]}, arn)
    with pytest.raises(ValueError):
        policy_allows({"Statement": "nope"}, arn)


def test_a_function_that_fails_to_load_answers_502_and_is_not_kept(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "app.py").write_text("raise ImportError('no such dependency')\n")
    api = dataclasses.replace(ApiDefinition.from_template(),
                              routes=(Route("GET", "/broken", "broken", authorized=False),))
    gateway = ApiGateway(FunctionPool(tmp_path), api)
    response = gateway.handle(HttpRequest("GET", "/broken"))
    assert response.status == 502
    assert _error(response)["type"] == "INTERNAL"  # the template's DEFAULT_5XX body
    (folder / "app.py").write_text("def lambda_handler(event, context):\n    return {'statusCode': 204}\n")
    assert gateway.handle(HttpRequest("GET", "/broken")).status == 204


def test_integration_timeout_answers_504_while_the_function_carries_on(template_api: ApiDefinition) -> None:
    finished, completed = threading.Event(), threading.Event()

    def slow(event: dict[str, Any]) -> dict[str, Any]:
        finished.wait(5)
        completed.set()
        return {"statusCode": 200}

    pool = FakePool({"slow": slow})
    api = dataclasses.replace(template_api, routes=(Route("GET", "/slow", "slow", authorized=False),))
    gateway = ApiGateway(pool, api, integration_timeout=0.05)
    response = gateway.handle(HttpRequest("GET", "/slow"))
    assert response.status == 504
    error = _error(response)
    assert error["type"] == "GATEWAY_TIMEOUT" and "same idempotency_key" in error["fix"]
    assert error["request_id"] == response.header("x-amzn-RequestId")
    assert len(pool.calls["slow"]) == 1  # it was invoked, and is still running
    finished.set()
    assert completed.wait(5)  # and it ran to its end after the gateway stopped waiting


@pytest.mark.parametrize("kind", sorted(DEFAULT_GATEWAY_STATUS))
def test_every_response_the_gateway_makes_is_a_spec_error_of_the_table(
        template_api: ApiDefinition, kind: str) -> None:
    """The template's GatewayResponses, the ERRORS table and the local gateway agree."""
    response = GatewayResponses(template_api.gateway_responses).make(kind, "req-1")
    assert response.header("Content-Type") == "application/json"
    error = json.loads(response.body)["error"]
    assert set(error) == {"type", "message", "fix", "request_id"} and error["request_id"] == "req-1"
    spec = ERRORS[error["type"]]
    assert error["message"] and error["fix"]
    if kind in ("REQUEST_TOO_LARGE", "DEFAULT_4XX"):  # a refused request: its own status and words
        assert error["type"] == "VALIDATION_ERROR" and 400 <= response.status < 500
        return
    assert (error["message"], error["fix"]) == (spec.message, spec.fix)
    if kind in ("INTEGRATION_TIMEOUT", "MISSING_AUTHENTICATION_TOKEN", "UNAUTHORIZED", "ACCESS_DENIED"):
        assert response.status == spec.status
    else:  # the authorizer or the function failed: DEFAULT_5XX keeps API Gateway's own 5xx
        assert error["type"] == "INTERNAL" and 500 <= response.status < 600


def test_a_request_that_cannot_be_parsed_keeps_its_status_and_says_what_is_wrong(
        template_api: ApiDefinition) -> None:
    response = ApiGateway(FunctionPool(), template_api).malformed(431, "Too many headers.")
    assert response.status == 431
    error = _error(response)
    assert (error["type"], error["message"]) == ("VALIDATION_ERROR", "Too many headers.")
    assert error["request_id"] == response.header("x-amzn-RequestId")


def test_methods_are_case_sensitive(template_api: ApiDefinition) -> None:
    gateway, pool = _gateway(template_api)
    assert gateway.handle(HttpRequest("GET", "/v1/docs")).status == 200
    response = gateway.handle(HttpRequest("get", "/v1/docs"))
    assert response.status == 404 and _error(response)["type"] == "NOT_FOUND"
    assert len(pool.calls["docs"]) == 1


def test_the_integration_timeout_is_its_own_spec_type(template_api: ApiDefinition) -> None:
    response = GatewayResponses(template_api.gateway_responses).make("INTEGRATION_TIMEOUT", "req-1")
    spec = ERRORS["GATEWAY_TIMEOUT"]
    assert response.status == spec.status == 504
    assert json.loads(response.body) == {"error": {"type": "GATEWAY_TIMEOUT", "message": spec.message,
                                                   "fix": spec.fix, "request_id": "req-1"}}
