"""Direct invocations: a Step Functions task calls preview, dry-run or confirm without API Gateway.

The payload is `{"profile_id", "actor", "selection": {...}, "idempotency_key"?, "test_event_code"?,
"preview_id"?, "pixel_id"?}`; the answer is the same response as over HTTP, or an exception whose
class name (Lambda's errorType) is the SPEC error type, so a state machine can Catch/Retry on it.
Same validation, prerequisites (no scope check: there is no token) and audit as over HTTP.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from capi_writeback import flow
from capi_writeback import observability as obs
from capi_writeback.api.errors import validation_error
from capi_writeback.api.request import deadline_of, is_unicode
from capi_writeback.auth import Principal
from capi_writeback.errors import ApiError, to_api_error
from capi_writeback.exceptions import InvalidRequest
from capi_writeback.flow import Call

BODY_KEYS = ("idempotency_key", "test_event_code", "preview_id", "pixel_id")


@dataclass(frozen=True)
class Direct:
    """How a function answers a direct invocation: request model, flow function, response model."""

    request: type[BaseModel]
    run: Callable[[Call, Any], dict[str, Any]]
    response: type[BaseModel]


def invoke(direct: Direct, operation: str, event: Any, context: Any) -> dict[str, Any]:
    """Answer one direct invocation of `operation` (its name in the audit trail)."""
    request_id = str(getattr(context, "aws_request_id", None) or uuid.uuid4())
    obs.logger.set_correlation_id(request_id)
    try:
        call, body = parse(event, request_id, deadline_of(context, flow.default_services().clock))
        try:
            request = direct.request.model_validate(body)
        except ValidationError as exc:
            invalid = validation_error(exc.errors())
            flow.record_refusal(flow.default_services(), call, operation, invalid)
            raise invalid from None
        result = direct.run(call, request)
        return direct.response.model_validate(result).model_dump(mode="json")
    except Exception as exc:
        error = to_api_error(exc)
        if error.type == "INTERNAL":
            obs.logger.exception("unexpected error", extra={"error_class": type(exc).__name__})
        else:
            obs.logger.info("direct invocation refused", extra={"error_type": error.type})
        raise direct_error(error, request_id) from None


def parse(event: Any, request_id: str, deadline: float | None = None) -> tuple[Call, dict[str, Any]]:
    """The call and the request body of a direct invocation payload (InvalidRequest if malformed)."""
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
    body.update({k: event[k] for k in BODY_KEYS if event.get(k) is not None})
    call = Call(principal=Principal.actor(str(event["actor"])), profile_id=str(event["profile_id"]),
                request_id=request_id, via="step_functions", deadline=deadline)
    return call, body


class DirectInvocationError(Exception):
    """Base of the errors raised to Step Functions; the subclass name is the SPEC error type."""


_DIRECT_TYPES: dict[str, type[DirectInvocationError]] = {}


def direct_error(error: ApiError, request_id: str | None) -> DirectInvocationError:
    """An exception whose class name (Lambda's errorType) is the SPEC type, e.g. `CIRCUIT_OPEN`, and
    whose message is the JSON error body."""
    cls = _DIRECT_TYPES.get(error.type)
    if cls is None:
        cls = _DIRECT_TYPES[error.type] = type(error.type, (DirectInvocationError,), {
            "__module__": __name__, "__doc__": f"SPEC error {error.type}."})
    return cls(json.dumps(error.body(request_id)))
