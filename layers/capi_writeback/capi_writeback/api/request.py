"""Reading an invocation: JSON bodies (any Content-Type), Unicode-only text, the request id, and
when the invocation will be stopped."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


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


def is_unicode(value: Any) -> bool:
    """False when a string in `value` holds a lone UTF-16 surrogate ("\\ud800" is valid JSON but
    no text: it cannot be hashed, stored in DynamoDB or sent to Meta)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def as_json_request(event: Mapping[str, Any]) -> Mapping[str, Any]:
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


def is_http(event: Any) -> bool:
    """An API Gateway proxy event (anything else reaching a function is a direct invocation)."""
    return isinstance(event, Mapping) and ("requestContext" in event or "httpMethod" in event)


def deadline_of(context: Any, clock: Callable[[], float]) -> float | None:
    """When the Lambda serving this invocation will be stopped, on `clock` (the services' clock), from
    the context's remaining time; None without a Lambda context (local tools, some tests)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    try:
        millis = float(remaining())
    except (TypeError, ValueError):
        return None
    return clock() + max(0.0, millis) / 1000


def request_id_of(event: Any) -> str | None:
    """API Gateway's request id: the correlation id of the logs and the `request_id` callers see."""
    context = event.get("requestContext") if isinstance(event, Mapping) else None
    if isinstance(context, Mapping) and context.get("requestId"):
        return str(context["requestId"])
    return None
