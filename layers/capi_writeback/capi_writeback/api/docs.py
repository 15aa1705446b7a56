"""The OpenAPI document and Swagger UI (GET /v1/openapi.json, GET /v1/docs), from the live routes.

The document is generated from the same route functions and pydantic models that serve the API, so
it cannot drift from them. Swagger UI is self-contained (Powertools inlines its JS and CSS: no CDN).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from capi_writeback.api.app import LambdaHandler, make_handler
from capi_writeback.api.routes import all_routers

TITLE = "capi-writeback"
VERSION = "1.0.0"
DESCRIPTION = (
    "Push attributed conversions to Meta's Conversions API safely: preview, dry-run, confirm — with "
    "idempotency keys, a per-profile circuit breaker and an append-only audit trail."
)
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]


def security_schemes() -> dict[str, Any]:
    """Bearer tokens (built when a resolver is, not at import: Powertools' OpenAPI models are heavy)."""
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    return {"bearer": HTTPBearer(description="Authorization: Bearer <token>")}


def openapi_document(app: APIGatewayRestResolver) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route registered on `app`."""
    document: dict[str, Any] = json.loads(app.get_openapi_json_schema(
        title=TITLE, version=VERSION, description=DESCRIPTION,
        security_schemes=security_schemes(), security=SECURITY))
    return document


def register_docs(app: APIGatewayRestResolver) -> None:
    @app.get("/v1/openapi.json", include_in_schema=False)
    def openapi_json() -> Response[str]:
        return Response(status_code=200, content_type="application/json",
                        body=json.dumps(openapi_document(app)))

    app.enable_swagger(path="/v1/docs", title=TITLE, version=VERSION, description=DESCRIPTION,
                       security_schemes=security_schemes(), security=SECURITY)


def docs_handler() -> LambdaHandler:
    return make_handler(*all_routers(), extras=(register_docs,))
