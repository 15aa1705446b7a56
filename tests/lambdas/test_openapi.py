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
    # administration (SPEC §11)
    ("get", "/v1/workspace"), ("patch", "/v1/workspace/settings"), ("get", "/v1/workspace/audit"),
    ("put", "/v1/workspace/members/{user_id}"), ("delete", "/v1/workspace/members/{user_id}"),
    ("post", "/v1/tokens"), ("get", "/v1/tokens"), ("delete", "/v1/tokens/{token_id}"),
    ("post", "/v1/profiles"), ("get", "/v1/profiles"), ("get", "/v1/profiles/{profile_id}"),
    ("patch", "/v1/profiles/{profile_id}"), ("put", "/v1/profiles/{profile_id}/connection"),
    ("delete", "/v1/profiles/{profile_id}/connection"), ("get", "/v1/profiles/{profile_id}/quality"),
    ("post", "/v1/profiles/{profile_id}/events"),
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


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(_get("/v1/openapi.json")["body"])
    return document


def test_the_document_is_valid_openapi_3_1() -> None:
    from openapi_spec_validator import OpenAPIV31SpecValidator

    document = _document()
    errors = [error.message for error in OpenAPIV31SpecValidator(document).iter_errors()]
    assert errors == []


# The routes whose function calls Meta (and so may answer META_UNAVAILABLE after retries).
CALLS_META = {("post", "/dry-run"), ("post", "/confirm"), ("put", "/connection"), ("get", "/quality"),
              ("post", "/events")}


def test_every_route_documents_what_the_gateway_itself_answers() -> None:
    """413 (body over 10 MB), 429 (THROTTLED), 504 (GATEWAY_TIMEOUT) and 400 (a request the gateway
    cannot parse) come from API Gateway, before or instead of the function: each in the error shape."""
    document = _document()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for status in ("400", "401", "404", "413", "429", "500", "504"):
                assert status in responses, (method, path, status)
                content = responses[status]["content"]["application/json"]["schema"]
                assert content["$ref"].endswith("/ErrorBody"), (method, path, status)
            assert "THROTTLED" in responses["429"]["description"]
            assert "GATEWAY_TIMEOUT" in responses["504"]["description"]
            assert "VALIDATION_ERROR" in responses["413"]["description"]
            calls_meta = any(method == m and path.endswith(suffix) for m, suffix in CALLS_META)
            documented = "META_UNAVAILABLE" in responses["504"]["description"]
            assert documented == calls_meta, (path, responses["504"])


def _validates(document: dict[str, Any], schema_name: str, body: Any) -> bool:
    from jsonschema import Draft202012Validator

    schemas = document["components"]["schemas"]
    name = next(key for key in schemas if key.startswith(schema_name))
    root = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    validator = Draft202012Validator(root)
    return validator.is_valid(body)


WINDOW = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}


def test_the_schema_says_either_rows_or_a_stored_selection() -> None:
    document = _document()
    for name in ("PreviewRequest", "DryRunRequest", "ConfirmRequest"):
        assert _validates(document, name, {"rows": [{"conversion_id": "c"}]})
        assert _validates(document, name, {"last_days": 3, "outcome_types": ["lead_created"]})
        assert _validates(document, name, {"window": WINDOW})
        assert _validates(document, name, {})
        for both in ({"rows": [{}], "last_days": 3}, {"rows": [{}], "window": WINDOW},
                     {"rows": [{}], "outcome_types": ["x"]}, {"last_days": 3, "window": WINDOW}):
            assert not _validates(document, name, both), (name, both)
