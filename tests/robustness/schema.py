"""The OpenAPI document as schemathesis reads it, and the checks the robustness suite adds to its own.

The document comes from the docs function in-process (the same one `GET /v1/openapi.json` serves),
so every route in `all_routers()` is covered as soon as it is added. Generated requests call the
seeded demo profile most of the time (a random profile id only ever meets PROFILE_NOT_FOUND).
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from schemathesis import Case, CheckContext, Response

from tests.robustness.support import problems


def openapi_document() -> dict[str, Any]:
    """GET /v1/openapi.json through the docs function's handler (no AWS needed)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "functions" / "docs" / "app.py"
    spec = importlib.util.spec_from_file_location("_robustness_docs_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    event = {"resource": "/v1/openapi.json", "path": "/v1/openapi.json", "httpMethod": "GET", "headers": {},
             "requestContext": {"requestId": "robustness"}}
    result = module.lambda_handler(event, None)
    document: dict[str, Any] = json.loads(result["body"])
    return document


@schemathesis.check
def spec_error_shape(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """No 5xx but the documented Meta/gateway refusals, and every 4xx/5xx in the SPEC error shape."""
    headers = {name: ",".join(values) for name, values in response.headers.items()}
    found = problems(case.formatted_path, response.status_code, headers, response.content)
    if found:
        raise AssertionError("; ".join(found))
    return None


def aim(case: Case, profile_id: str, choice: int) -> None:
    """Point three calls in four at the seeded profile (its id is valid, so the body is reached)."""
    if "profile_id" in (case.path_parameters or {}) and choice % 4:
        case.path_parameters = {**case.path_parameters, "profile_id": profile_id}
