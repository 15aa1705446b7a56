"""The one boundary table: every domain exception maps to a SPEC §3.3 type, and every type a route
documents is one it can really answer with (status, body, header), whatever raised it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from capi_writeback import exceptions as ex
from capi_writeback.errors import ERRORS, SPEC_TYPES, ApiError, audit_error, spec_type, to_api_error
from capi_writeback.exceptions import CapiWritebackError
from capi_writeback.meta.credentials import CredentialsError
from capi_writeback.meta.errors import MetaAuthError, MetaError, MetaRejectedError, MetaUnavailableError
from capi_writeback.rails.breaker.exceptions import CircuitOpen
from capi_writeback.rails.idempotency.exceptions import KeyReused, LeaseLost

from tests.lambdas.conftest import ROUTES, LambdaContext, load_handler, proxy_event

# Answered by API Gateway itself, never by a function (template.yaml GatewayResponses).
GATEWAY_ONLY = {"THROTTLED", "GATEWAY_TIMEOUT"}  # answered by API Gateway itself, never a function


def subclasses(cls: type[BaseException]) -> set[type[BaseException]]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= subclasses(sub)
    return found


def make(cls: type[BaseException]) -> BaseException:
    """An instance of a domain exception with its defaults (the fewest arguments it takes)."""
    if issubclass(cls, CircuitOpen):
        return cls(retry_after=42)
    return cls()


DOMAIN = sorted(subclasses(CapiWritebackError), key=lambda c: c.__qualname__)
LEAVES = [cls for cls in DOMAIN if not cls.__subclasses__()]


@pytest.mark.parametrize("cls", LEAVES, ids=lambda c: c.__name__)
def test_every_domain_exception_maps_to_a_spec_type(cls: type[BaseException]) -> None:
    kind = spec_type(make(cls))
    assert kind in ERRORS and kind != "INTERNAL", cls


def test_the_table_names_only_spec_types_and_no_base_class() -> None:
    assert set(SPEC_TYPES.values()) <= set(ERRORS)
    bases = {CapiWritebackError, ex.AccessError, ex.RequestError, ex.SendFailed}
    assert not bases & set(SPEC_TYPES), "a base class would hide a subclass left out of the table"


@pytest.mark.parametrize(("error", "expected"), [
    (LeaseLost(), "CONFIRM_IN_PROGRESS"),                 # a subclass of InProgress, by the MRO
    (MetaRejectedError("bad"), "META_REJECTED"),
    (MetaAuthError("expired", code=190), "META_REJECTED"),
    (CredentialsError("no token"), "META_REJECTED"),
    (MetaUnavailableError("down"), "META_UNAVAILABLE"),
    (MetaError("timed out", is_transient=True), "META_UNAVAILABLE"),
    (MetaError("odd answer"), "META_REJECTED"),
    (RuntimeError("database on fire"), "INTERNAL"),
    (ValueError("x"), "INTERNAL"),
])
def test_the_mro_decides(error: BaseException, expected: str) -> None:
    assert spec_type(error) == expected


def test_every_meta_client_error_class_is_mapped() -> None:
    for cls in subclasses(MetaError) | {MetaError}:
        assert spec_type(cls("m")) in {"META_REJECTED", "META_UNAVAILABLE"}, cls


def test_defaults_come_from_the_spec_table_and_specialisations_are_kept() -> None:
    plain = to_api_error(ex.ProfileNotFound())
    spec = ERRORS["PROFILE_NOT_FOUND"]
    assert (plain.status, plain.message, plain.fix, plain.details) == (404, spec.message, spec.fix, None)
    special = to_api_error(ex.MissingScope("The API token lacks the mcp:read scope.", fix="Add mcp:read.",
                                           details={"scope": "mcp:read"}))
    assert (special.type, special.status) == ("MISSING_SCOPE", 403)
    assert (special.message, special.fix, special.details) == (
        "The API token lacks the mcp:read scope.", "Add mcp:read.", {"scope": "mcp:read"})
    lost = to_api_error(LeaseLost())
    assert lost.type == "CONFIRM_IN_PROGRESS" and "took over" in lost.message


def test_circuit_open_keeps_retry_after_in_body_and_header() -> None:
    error = to_api_error(CircuitOpen(retry_after=41.2, details={"failures": 3}))
    assert (error.status, error.retry_after, error.headers) == (503, 41, {"Retry-After": "41"})
    body = error.body("req-1")["error"]
    assert body["retry_after"] == 41 and body["details"] == {"failures": 3} and body["request_id"] == "req-1"


def test_meta_client_errors_carry_metas_code_and_fix_but_never_more() -> None:
    error = to_api_error(MetaAuthError("Invalid OAuth access token", code=190, fbtrace_id="Fb1"))
    assert error.type == "META_REJECTED" and "Reconnect Meta" in error.fix
    assert error.details["code"] == 190 and error.details["fbtrace_id"] == "Fb1"
    assert error.message == ERRORS["META_REJECTED"].message


def test_unknown_exceptions_show_nothing_of_themselves() -> None:
    error = to_api_error(RuntimeError("secret detail"))
    assert error == ApiError.of("INTERNAL")
    assert "secret" not in json.dumps(error.body(None))
    assert audit_error(RuntimeError("secret detail")) is None


def test_the_audit_names_a_refusal_like_the_response_does() -> None:
    refused = ex.SendRejected(details={"code": 100, "subcode": 33, "fbtrace_id": "Fb", "batches": []})
    assert audit_error(refused) == {"type": "META_REJECTED", "message": ERRORS["META_REJECTED"].message,
                                    "code": 100, "subcode": 33, "fbtrace_id": "Fb"}
    assert audit_error(KeyReused())["type"] == "IDEMPOTENCY_KEY_REUSED"


# ---- through the routes: what each route documents, it can answer -------------------------------

FLOW_OF = {"preview": "preview", "dry_run": "dry_run", "confirm": "confirm",
           "conversions": "store_conversions", "audit": "list_audit", "breaker_reset": "reset_breaker",
           "send_event": "send_event"}
BODY: dict[str, Any] = {"preview": {"last_days": 7}, "dry_run": {"last_days": 7},
                        "confirm": {"last_days": 7, "idempotency_key": "k"},
                        "conversions": {"rows": [{"conversion_id": "c1"}]}, "audit": None,
                        "breaker_reset": None,
                        "send_event": {"event_name": "Lead", "event_time": 1, "action_source": "email",
                                       "user_data": {"em": "a@example.com"}}}
AUTHORIZER = {"workspace_id": "ws", "user_id": "u", "scopes": "mcp:read mcp:write", "principalId": "u"}


def documented_types() -> list[tuple[str, str, int]]:
    """(function, SPEC type, status) for every error type each route's OpenAPI responses name, except
    what the gateway answers itself (`api.routes.operation.GATEWAY`: tests/local makes each of those)."""
    from capi_writeback.api.routes.operation import GATEWAY

    result = load_handler("docs")({"resource": "/v1/openapi.json", "path": "/v1/openapi.json",
                                   "httpMethod": "GET", "headers": {}, "requestContext": {"requestId": "d"}},
                                  LambdaContext(aws_request_id="d"))
    paths = json.loads(result["body"])["paths"]
    found = []
    for function, (method, resource) in ROUTES.items():
        for status, response in paths[resource][method.lower()]["responses"].items():
            if status != "200":
                found += [(function, kind, int(status)) for kind in response["description"].split(" / ")
                          if kind != GATEWAY.get(int(status))]
    return found


def raising(kind: str) -> BaseException:
    if kind == "INTERNAL":
        return RuntimeError("unexpected: secret detail")
    cls = next(c for c in LEAVES if spec_type(make(c)) == kind)
    return make(cls)


@pytest.mark.parametrize(("function", "kind", "status"), documented_types())
def test_every_documented_error_of_a_route_is_reachable(function: str, kind: str, status: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import capi_writeback.flow

    assert kind in ERRORS and ERRORS[kind].status == status
    if kind in GATEWAY_ONLY:
        return
    event = proxy_event(function, "prof_1", BODY[function], authorizer=AUTHORIZER)
    if kind == "NOT_FOUND":
        event["path"] = "/v1/nowhere"
    else:
        error = raising(kind)

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise error

        monkeypatch.setattr(capi_writeback.flow, FLOW_OF[function], refuse)
    result = load_handler(function)(event, LambdaContext(aws_request_id=str(uuid.uuid4())))
    body = json.loads(result["body"])["error"]
    assert (result["statusCode"], body["type"]) == (status, kind)
    assert body["message"] and body["fix"] and body["request_id"] == event["requestContext"]["requestId"]
    assert "secret" not in result["body"]
    if kind == "CIRCUIT_OPEN":
        headers = {**(result.get("headers") or {}),
                   **{k: ",".join(v) for k, v in (result.get("multiValueHeaders") or {}).items()}}
        assert headers["Retry-After"] == str(body["retry_after"]) == "42"
