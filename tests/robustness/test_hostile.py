"""The hand-made hostile bodies of issue 9, sent to every route of template.yaml over HTTP: zero 500s,
and every refusal in the SPEC error shape (the MCP route: no 5xx; it answers in JSON-RPC)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from capi_writeback_local.api_gateway import MAX_REQUEST_BYTES, ApiDefinition
from capi_writeback_local.local_api import LocalApi

from tests.robustness.http import send
from tests.robustness.support import hostile_bodies, problems

ROUTES = [(route.method, route.resource) for route in ApiDefinition.from_template().routes]
# A GET reads no body: a few bodies show it is ignored whatever it holds (`make fuzz` sends them all).
FOR_GET = {"utf-16 with BOM", "invalid utf-8", "NUL bytes", "nested 100,000 deep", "empty body",
           "form content type"}


def _row() -> dict[str, Any]:
    return {"conversion_id": "hostile-1", "outcome_type": "lead_created",
            "occurred_at": int(time.time()) - 60, "email": "hostile@example.com",
            "client_ip_address": "203.0.113.9"}


def _headers(api: LocalApi, content_type: str | None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {api.seed.api_token}",
               "Accept": "application/json, text/event-stream"}  # the MCP route wants both
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


@pytest.mark.parametrize(("method", "resource"), ROUTES, ids=[f"{m} {r}" for m, r in ROUTES])
def test_no_hostile_body_gets_a_500_on_any_route(api: LocalApi, method: str, resource: str) -> None:
    path = resource.replace("{profile_id}", api.seed.profile_id)
    found: list[str] = []
    statuses: dict[str, int] = {}
    for hostile in hostile_bodies(_row()):
        if method == "GET" and hostile.name not in FOR_GET:
            continue
        answer = send(api.url, method, path, hostile.body, _headers(api, hostile.content_type))
        statuses[hostile.name] = answer.status
        found += [f"{hostile.name}: {p}" for p in problems(path, answer.status, answer.headers, answer.body)]
    assert found == [], found
    if resource.endswith(("/preview", "/dry-run", "/confirm", "/conversions")):  # the routes that read a body
        assert statuses["utf-16 with BOM"] == statuses["nested 100,000 deep"] == 422, statuses


@pytest.mark.parametrize(("method", "resource"), ROUTES, ids=[f"{m} {r}" for m, r in ROUTES])
def test_a_body_over_the_gateway_limit_is_a_413_in_the_spec_shape(api: LocalApi, method: str,
                                                                   resource: str) -> None:
    path = resource.replace("{profile_id}", api.seed.profile_id)
    answer = send(api.url, method, path, b"{" * 1024, _headers(api, "application/json"),
                  declared_length=MAX_REQUEST_BYTES + 1)
    assert answer.status == 413
    assert problems("/v1/any", answer.status, answer.headers, answer.body) == []
