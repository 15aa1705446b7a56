"""Resolver factory and Lambda entry point shared by every HTTP function.

`make_handler(register_x, ..., direct=flow_fn)` gives a `lambda_handler(event, context)` that
- answers API Gateway proxy events through a Powertools resolver with only the given routes;
- with `direct`, also accepts a direct invocation (Step Functions: no `requestContext`/`httpMethod`):
  `{"profile_id", "actor", "selection": {...}, "idempotency_key"?, "test_event_code"?, "preview_id"?,
  "pixel_id"?}` → the same response dict, or an exception whose class name is the SPEC error type;
- shapes every failure as a SPEC §3.3 error body (INTERNAL only for the unexpected, never a trace);
- sets the API Gateway request id as the log correlation id and flushes metrics once.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import ValidationException
from pydantic import BaseModel, ValidationError

from capi_writeback import flow
from capi_writeback import observability as obs
from capi_writeback.api.errors import direct_error, validation_error
from capi_writeback.auth import Principal
from capi_writeback.errors import ApiError, to_api_error
from capi_writeback.exceptions import CapiWritebackError, InvalidRequest, Unauthenticated
from capi_writeback.flow import Call

Register = Callable[[APIGatewayRestResolver], None]
LambdaHandler = Callable[[Any, Any], dict[str, Any]]


def json_body(text: str) -> Any:
    """The request body as JSON; anything unparsable is a JSONDecodeError (a VALIDATION_ERROR)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # e.g. an integer of more than 4,300 digits (Python's int parsing limit)
        raise json.JSONDecodeError("number too long", text, 0) from None
    if _SURROGATE_ESCAPE.search(text) and not is_unicode(value):
        raise json.JSONDecodeError("lone surrogate escape (\\ud800-\\udfff): not Unicode text", text, 0)
    return value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def is_unicode(value: Any) -> bool:
    """False when a string in `value` holds a lone UTF-16 surrogate ("\\ud800" is valid JSON but
    no text: it cannot be hashed, stored in DynamoDB or sent to Meta)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def build_resolver(*registrations: Register) -> APIGatewayRestResolver:
    """A resolver with the given routes and the SPEC error shaping."""
    app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=json_body)
    for register in registrations:
        register(app)

    def request_id() -> str | None:
        context = app.current_event.raw_event.get("requestContext") or {}
        value = context.get("requestId")
        return str(value) if value else None

    def respond(error: ApiError) -> Response[str]:
        return Response(status_code=error.status, content_type="application/json",
                        body=json.dumps(error.body(request_id())), headers=error.headers)

    def _validation(exc: ValidationException) -> Response[str]:
        invalid = validation_error(exc.errors())
        _audit_malformed_step(app.current_event.raw_event, invalid)
        obs.logger.info("request invalid", extra={"error_type": "VALIDATION_ERROR",
                                                  "fields": [d["field"] for d in invalid.details]})
        return respond(to_api_error(invalid))

    def _not_found(exc: NotFoundError) -> Response[str]:
        return respond(ApiError.of("NOT_FOUND"))

    def _refused(exc: Exception) -> Response[str]:
        error = to_api_error(exc)
        if error.type == "INTERNAL":
            obs.logger.exception("unexpected error", extra={"error_class": type(exc).__name__})
        else:
            obs.logger.info("request refused", extra={"error_type": error.type, "status": error.status})
        return respond(error)

    app.exception_handler(ValidationException)(_validation)
    app.exception_handler(NotFoundError)(_not_found)
    app.exception_handler(Exception)(_refused)
    return app


STEP_SUFFIXES = {"/writeback/preview": "preview", "/writeback/dry-run": "dry_run",
                 "/writeback/confirm": "confirm"}


def _audit_malformed_step(event: Mapping[str, Any], error: CapiWritebackError) -> None:
    """A malformed preview/dry-run/confirm is a refused operation: audit it like any other."""
    path = str(event.get("path") or "")
    operation = next((op for suffix, op in STEP_SUFFIXES.items() if path.endswith(suffix)), None)
    profile_id = (event.get("pathParameters") or {}).get("profile_id")
    context = event.get("requestContext") or {}
    if operation is None or not profile_id:
        return
    try:
        principal = Principal.from_authorizer(context.get("authorizer"))
    except Unauthenticated:
        return
    flow.record_refusal(flow.default_services(),
                        Call(principal=principal, profile_id=str(profile_id),
                             request_id=context.get("requestId")), operation, error)


def _request_id_of(event: Mapping[str, Any]) -> str | None:
    context = event.get("requestContext")
    if isinstance(context, Mapping) and context.get("requestId"):
        return str(context["requestId"])
    return None


def _is_http(event: Any) -> bool:
    return isinstance(event, Mapping) and ("requestContext" in event or "httpMethod" in event)


def make_handler(*registrations: Register,
                 direct: tuple[type[BaseModel], Callable[[Call, Any], dict[str, Any]],
                               type[BaseModel]] | None = None) -> LambdaHandler:
    """The function's `lambda_handler`. `direct` = (request model, flow function, response model).

    Lambda runs one request per process at a time, but the local server and the tests call a handler
    from many threads, and a Powertools resolver keeps the current event on itself: so each thread
    gets its own resolver (built on its first request).
    """
    local = threading.local()

    def resolver() -> APIGatewayRestResolver:
        app: APIGatewayRestResolver | None = getattr(local, "app", None)
        if app is None:
            app = local.app = build_resolver(*registrations)
        return app

    def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
        try:
            if direct is not None and not _is_http(event):
                return _invoke_direct(event, context, *direct)
            request_id = _request_id_of(event) if isinstance(event, Mapping) else None
            obs.logger.set_correlation_id(request_id)
            try:
                return resolver().resolve(_as_json_request(event), context)
            except Exception as exc:  # the event itself is unusable (not a proxy event)
                obs.logger.exception("cannot resolve event", extra={"error_class": type(exc).__name__})
                error = to_api_error(exc)
                return {"statusCode": error.status, "headers": {"Content-Type": "application/json"},
                        "body": json.dumps(error.body(request_id)), "isBase64Encoded": False}
        finally:
            obs.flush()

    lambda_handler.resolver = resolver  # type: ignore[attr-defined]
    return lambda_handler


def _as_json_request(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """Every body of this API is JSON, whatever Content-Type the caller sent.

    curl's `-d` defaults to application/x-www-form-urlencoded, which Powertools would parse as a form
    (the whole JSON text becoming one field name, echoed back and logged). One rule here instead.
    """
    headers = event.get("headers")
    if not event.get("body") or not isinstance(headers, Mapping):
        return event
    json_type = {"Content-Type": "application/json"}
    fixed = {k: v for k, v in headers.items() if str(k).lower() != "content-type"} | json_type
    multi = event.get("multiValueHeaders")
    out = {**event, "headers": fixed}
    if isinstance(multi, Mapping):
        out["multiValueHeaders"] = {k: v for k, v in multi.items() if str(k).lower() != "content-type"} | {
            "Content-Type": ["application/json"]}
    return out


DIRECT_BODY_KEYS = ("idempotency_key", "test_event_code", "preview_id", "pixel_id")


def _invoke_direct(event: Any, context: Any, model: type[BaseModel],
                   operation: Callable[[Call, Any], dict[str, Any]],
                   response_model: type[BaseModel]) -> dict[str, Any]:
    """A Step Functions task: same validation, prerequisites (no scope) and audit as over HTTP."""
    request_id = str(getattr(context, "aws_request_id", None) or uuid.uuid4())
    obs.logger.set_correlation_id(request_id)
    try:
        call, body = _parse_direct(event, request_id)
        try:
            request = model.model_validate(body)
        except ValidationError as exc:
            invalid = validation_error(exc.errors())
            flow.record_refusal(flow.default_services(), call, operation.__name__, invalid)
            raise invalid from None
        result = operation(call, request)
        return response_model.model_validate(result).model_dump(mode="json")
    except Exception as exc:
        error = to_api_error(exc)
        if error.type == "INTERNAL":
            obs.logger.exception("unexpected error", extra={"error_class": type(exc).__name__})
        else:
            obs.logger.info("direct invocation refused", extra={"error_type": error.type})
        raise direct_error(error, request_id) from None


def _parse_direct(event: Any, request_id: str) -> tuple[Call, dict[str, Any]]:
    if not isinstance(event, Mapping):
        raise InvalidRequest("The invocation payload must be a JSON object.",
                               details=[{"field": "event", "message": "not an object"}])
    if not is_unicode(event):
        raise InvalidRequest("The invocation payload holds a lone surrogate: it is not Unicode text.",
                               details=[{"field": "event", "message": "lone surrogate (\\ud800-\\udfff)"}])
    problems = []
    for name in ("profile_id", "actor"):
        value = event.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > 128:
            problems.append({"field": name, "message": "required: a non-empty string (max 128)"})
    selection = event.get("selection", {})
    if not isinstance(selection, Mapping):
        problems.append({"field": "selection", "message": "must be an object"})
    if problems:
        raise InvalidRequest(details=problems)
    body = dict(selection)
    body.update({k: event[k] for k in DIRECT_BODY_KEYS if event.get(k) is not None})
    call = Call(principal=Principal.actor(str(event["actor"])), profile_id=str(event["profile_id"]),
                request_id=request_id)
    return call, body
