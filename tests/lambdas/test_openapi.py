"""The docs function: OpenAPI 3.1 document with every route, and a self-contained Swagger UI."""

from __future__ import annotations

import json
from typing import Any

from tests.lambdas.conftest import LambdaContext, load_handler

ROUTES = {
    ("post", "/v1/profiles/{profile_id}/writeback/preview"),
    ("post", "/v1/profiles/{profile_id}/writeback/dry-run"),
    ("post", "/v1/profiles/{profile_id}/writeback/confirm"),
    ("post", "/v1/profiles/{profile_id}/conversions"),
    ("get", "/v1/profiles/{profile_id}/writeback/audit"),
    ("post", "/v1/profiles/{profile_id}/writeback/breaker/reset"),
    ("post", "/v1/profiles/{profile_id}/syncs"),
    ("get", "/v1/profiles/{profile_id}/syncs"),
    ("get", "/v1/profiles/{profile_id}/syncs/{sync_id}"),
    ("patch", "/v1/profiles/{profile_id}/syncs/{sync_id}"),
    ("delete", "/v1/profiles/{profile_id}/syncs/{sync_id}"),
    ("post", "/v1/profiles/{profile_id}/syncs/{sync_id}/runs"),
    ("get", "/v1/profiles/{profile_id}/syncs/{sync_id}/runs"),
    ("get", "/v1/profiles/{profile_id}/syncs/{sync_id}/runs/{run_id}"),
    ("get", "/v1/profiles/{profile_id}/syncs/{sync_id}/runs/{run_id}/rows"),
}


def _get(path: str) -> dict[str, Any]:
    event = {"resource": path, "path": path, "httpMethod": "GET", "headers": {}, "multiValueHeaders": {},
             "queryStringParameters": None, "pathParameters": None, "body": None, "isBase64Encoded": False,
             "requestContext": {"requestId": "r1", "stage": "Prod", "path": "/Prod" + path,
                                "httpMethod": "GET", "resourcePath": path}}
    result: dict[str, Any] = load_handler("docs")(event, LambdaContext(aws_request_id="x"))
    return result


def test_openapi_document_lists_every_route_with_models() -> None:
    result = _get("/v1/openapi.json")
    assert result["statusCode"] == 200
    doc = json.loads(result["body"])
    assert doc["openapi"].startswith("3.1")
    found = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert found == ROUTES
    confirm = doc["paths"]["/v1/profiles/{profile_id}/writeback/confirm"]["post"]
    assert set(confirm["responses"]) >= {"200", "409", "422", "503", "502", "504"}
    schemas = doc["components"]["schemas"]
    for name in ("ConfirmRequest", "ConfirmResponse", "PreviewResponse", "ErrorBody", "Window"):
        assert any(key.startswith(name) for key in schemas), name
    assert "idempotency_key" in json.dumps(schemas)
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_swagger_ui_is_self_contained() -> None:
    result = _get("/v1/docs")
    assert result["statusCode"] == 200
    html = result["body"]
    assert "<html" in html.lower() and "SwaggerUIBundle" in html
    assert "cdn" not in html.lower().split("swaggeruibundle")[0][-2000:]
    assert "/v1/profiles/{profile_id}/writeback/confirm" in html
