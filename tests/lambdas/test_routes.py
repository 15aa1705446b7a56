"""Routes carry their operation: the audit of a malformed request names the operation its route
declares (no URL sniffing), each function serves only its own route(s), the docs function all."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler.openapi.params import Body
from capi_writeback.api.app import make_handler
from capi_writeback.api.docs import docs_handler
from capi_writeback.api.routes import all_routers, audit, conversions, events, writeback
from capi_writeback.api.routes.operation import OperationRouter, ProfileId
from capi_writeback.contracts.writeback import PreviewRequest

from tests.lambdas.conftest import ROUTES, Env, LambdaContext, conversion_rows, load_handler, proxy_event

MALFORMED = {"rows": "not rows"}
ROUTER_OF = {"preview": writeback.PREVIEW, "dry_run": writeback.DRY_RUN, "confirm": writeback.CONFIRM,
             "breaker_reset": writeback.BREAKER_RESET, "conversions": conversions.STORE, "audit": audit.LIST,
             "send_event": events.SEND}


def _rows_for(env: Env, profile_id: str, request_id: str) -> list[dict[str, Any]]:
    return [r for r in env.audit_rows(profile_id) if r["request_id"] == request_id]


@pytest.mark.parametrize("function", sorted(ROUTES))
def test_a_malformed_request_is_audited_under_its_routes_operation(env: Env, function: str) -> None:
    audited = {"preview", "dry_run", "confirm", "breaker_reset", "send_event"}
    assert {f for f, r in ROUTER_OF.items() if r.audited} == audited
    tenant = env.tenant()
    router = ROUTER_OF[function]
    query = {"limit": "0"} if function == "audit" else None  # the only malformed input a GET can carry
    body = None if function in ("audit", "breaker_reset") else MALFORMED
    event = proxy_event(function, tenant.profile_id, body, authorizer=tenant.authorizer, query=query)
    result = load_handler(function)(event, LambdaContext(aws_request_id="x"))
    if function == "breaker_reset":
        assert result["statusCode"] == 200  # nothing of it can be malformed but its path
        return
    assert result["statusCode"] == 422, result["body"]
    written = _rows_for(env, tenant.profile_id, event["requestContext"]["requestId"])
    if router.audited:
        assert [(r["operation"], r["status"], r["error"]["type"]) for r in written] == [
            (router.operation, "refused", "VALIDATION_ERROR")]
    else:
        assert written == []


def test_the_declared_operation_is_audited_whatever_the_path(env: Env) -> None:
    """A route whose URL names no step still audits under the operation its router declares."""
    tenant = env.tenant()
    router = OperationRouter("renamed_step", audited=True)

    @router.post("/v1/profiles/<profile_id>/elsewhere")
    def elsewhere(profile_id: ProfileId, request: Annotated[PreviewRequest, Body()]) -> dict[str, Any]:
        raise AssertionError("a malformed request never reaches the route function")

    handler = make_handler(router)
    event = proxy_event("preview", tenant.profile_id, MALFORMED, authorizer=tenant.authorizer)
    event["path"] = event["resource"] = f"/v1/profiles/{tenant.profile_id}/elsewhere"
    result = handler(event, LambdaContext(aws_request_id="x"))
    assert result["statusCode"] == 422
    written = _rows_for(env, tenant.profile_id, event["requestContext"]["requestId"])
    assert [r["operation"] for r in written] == ["renamed_step"]

    quiet = OperationRouter("not_audited")
    quiet.post("/v1/profiles/<profile_id>/elsewhere")(elsewhere)
    event["requestContext"]["requestId"] = f"req-{uuid.uuid4()}"
    assert make_handler(quiet)(event, LambdaContext(aws_request_id="y"))["statusCode"] == 422
    assert _rows_for(env, tenant.profile_id, event["requestContext"]["requestId"]) == []


def test_one_resolver_with_every_route_audits_each_under_its_own_operation(env: Env) -> None:
    tenant = env.tenant()
    everything = make_handler(*all_routers())
    for function in ("preview", "dry_run", "confirm"):
        event = proxy_event(function, tenant.profile_id, MALFORMED, authorizer=tenant.authorizer)
        assert everything(event, LambdaContext(aws_request_id="x"))["statusCode"] == 422
        written = _rows_for(env, tenant.profile_id, event["requestContext"]["requestId"])
        assert [r["operation"] for r in written] == [function]


@pytest.mark.parametrize("function", sorted(ROUTES))
def test_each_function_serves_only_its_own_route(env: Env, function: str) -> None:
    tenant = env.tenant()
    for other in sorted(set(ROUTES) - {function}):
        body = {"rows": conversion_rows(1)} if ROUTES[other][0] == "POST" else None
        event = proxy_event(other, tenant.profile_id, body, authorizer=tenant.authorizer)
        result = load_handler(function)(event, LambdaContext(aws_request_id="x"))
        assert result["statusCode"] == 404, (function, other)
        assert json.loads(result["body"])["error"]["type"] == "NOT_FOUND"


def test_routers_bound_to_another_resolver_on_the_same_thread_read_their_own_request(env: Env) -> None:
    """The docs function includes the preview router too: serving a docs request in between must not
    leave preview reading the docs resolver's request."""
    tenant = env.tenant()
    first = tenant.call("preview", {"rows": conversion_rows(1)})
    docs = docs_handler()({"resource": "/v1/openapi.json", "path": "/v1/openapi.json",
                           "httpMethod": "GET", "headers": {}, "requestContext": {"requestId": "d"}},
                          LambdaContext(aws_request_id="d"))  # a new resolver including every router
    assert docs["statusCode"] == 200
    second = tenant.call("preview", {"rows": conversion_rows(2)})
    assert (first.status, second.status) == (200, 200)
    assert second.body["event_count"] == 2 and second.body["request_id"] != first.body["request_id"]


def test_concurrent_requests_each_read_their_own_event() -> None:
    """Powertools keeps the current event on a class attribute shared by every resolver: two
    requests served at once by one process (the local server, threads in tests) must still each
    see their own caller and request id."""
    import threading

    both_inside = threading.Barrier(2, timeout=10)
    seen: dict[str, tuple[str | None, str]] = {}
    router = OperationRouter("whoami")

    @router.get("/v1/profiles/<profile_id>/whoami")
    def whoami(profile_id: ProfileId) -> dict[str, Any]:
        both_inside.wait()  # both requests have been handed to Powertools before either reads it
        call = router.call(profile_id)
        seen[threading.current_thread().name] = (call.request_id, call.principal.user_id)
        return {}

    handler = make_handler(router)
    events = {}
    for user in ("alice", "bob"):
        authorizer = {"workspace_id": "ws", "user_id": user, "scopes": "mcp:read", "principalId": user}
        event = proxy_event("audit", "prof_1", authorizer=authorizer)
        event["path"] = event["resource"] = "/v1/profiles/prof_1/whoami"
        events[user] = event
    results: dict[str, dict[str, Any]] = {}

    def serve(user: str) -> None:
        results[user] = handler(events[user], LambdaContext(aws_request_id=user))

    threads = [threading.Thread(target=serve, args=(user,), name=user) for user in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert {user: result["statusCode"] for user, result in results.items()} == {"alice": 200, "bob": 200}
    assert seen == {user: (event["requestContext"]["requestId"], user) for user, event in events.items()}
