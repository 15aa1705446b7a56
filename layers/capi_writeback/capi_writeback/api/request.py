"""Reading an invocation: the body as UTF-8 JSON text (any Content-Type, base64 or not), nested at
most `limits.MAX_JSON_DEPTH` deep and Unicode only; the request id, and when the invocation will be
stopped.

A body that cannot be read is a `json.JSONDecodeError`: Powertools' validation turns it into a
request validation error, so it becomes a VALIDATION_ERROR naming the body (and is audited like any
other malformed request of an audited operation). Reasons about the body as a whole carry the
position `WHOLE_BODY`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from capi_writeback.limits import MAX_JSON_DEPTH

WHOLE_BODY = -1
"""The position of a JSONDecodeError about the body as a whole (its encoding, its depth)."""

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_ESCAPE = re.compile(r"\\.", re.DOTALL)  # \\, \" ...: one escape, two characters
_NOT_SYNTAX = bytes(set(range(256)) - set(b'"[]{}'))  # all bytes but quotes and brackets
_STRING = re.compile(rb'"[^"]*"')  # once escapes are gone, a JSON string holds no quote
_OPENING = frozenset(b"[{")
_BOMS = ((b"\xef\xbb\xbf", "a UTF-8 byte order mark"), (b"\xff\xfe", "a UTF-16 byte order mark"),
         (b"\xfe\xff", "a UTF-16 byte order mark"))
_UTF8_FIX = "send the JSON encoded as UTF-8, without a byte order mark"


class RequestEvent(APIGatewayProxyEvent):
    """An API Gateway proxy event whose body is read as UTF-8 text, strictly.

    Powertools decodes a base64 body with `bytes.decode()`, so bytes that are no UTF-8 raise
    UnicodeDecodeError (an INTERNAL error); here every reason a body is no text is a JSONDecodeError.
    """

    @cached_property
    def decoded_body(self) -> str | None:
        body: str | None = self.body
        if not body:
            return body
        if self.is_base64_encoded:
            try:
                data = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                raise _unreadable("the body is marked base64-encoded but is not base64") from None
            return body_text(data)
        try:
            body.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no byte sequence is this text
            raise _unreadable(f"the body is not Unicode text: {_UTF8_FIX}") from None
        return _no_bom(body)


def body_text(data: bytes) -> str:
    """The body bytes as text: UTF-8, without a byte order mark (RFC 8259 §8.1)."""
    for mark, name in _BOMS:
        if data.startswith(mark):
            raise _unreadable(f"the body starts with {name}: {_UTF8_FIX}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _unreadable(f"the body is not UTF-8 text (at byte {exc.start}): {_UTF8_FIX}") from None


def _no_bom(text: str) -> str:
    if text.startswith("\ufeff"):
        raise _unreadable(f"the body starts with a byte order mark: {_UTF8_FIX}")
    return text


def _unreadable(reason: str) -> json.JSONDecodeError:
    return json.JSONDecodeError(reason, "", WHOLE_BODY)


def json_body(text: str) -> Any:
    """The request body as JSON; anything unparsable is a JSONDecodeError (a VALIDATION_ERROR)."""
    if "\x00" in text:
        raise _unreadable(f"the body holds NUL characters (UTF-16?): {_UTF8_FIX}")
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and nesting_depth(text) > MAX_JSON_DEPTH:
        raise _unreadable(f"the body is nested deeper than {MAX_JSON_DEPTH} levels of arrays and objects")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # e.g. an integer of more than 4,300 digits (Python's int parsing limit)
        raise json.JSONDecodeError("number too long", text, 0) from None
    except RecursionError:  # cannot happen below MAX_JSON_DEPTH; kept as the last line of defence
        raise _unreadable(f"the body is nested deeper than {MAX_JSON_DEPTH} levels of arrays and "
                          "objects") from None
    if _SURROGATE_ESCAPE.search(text) and not is_unicode(value):
        raise json.JSONDecodeError("lone surrogate escape (\\ud800-\\udfff): not Unicode text", text, 0)
    return value


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in JSON `text` (0 for a scalar), without parsing it: the
    parser recurses once per level and stops with a RecursionError near 1,000. Linear, in C: escapes
    go, then everything but quotes and brackets, then strings (now pairs of quotes around brackets
    or nothing), and only the brackets left are walked. For text that is not JSON, the depth of its
    longest valid prefix is never underestimated (the parser stops at the first error)."""
    text = _ESCAPE.sub("", text) if "\\" in text else text
    syntax = text.encode("utf-8", "surrogatepass").translate(None, _NOT_SYNTAX)
    # Two adjacent quotes are an empty string or join two strings over an empty gap: either way no
    # bracket changes sides, and the few strings left hold brackets.
    return _walk(_STRING.sub(b"", syntax.replace(b'""', b"")))


def _walk(brackets: bytes) -> int:
    depth = deepest = 0
    for char in brackets:
        if char in _OPENING:
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest


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
