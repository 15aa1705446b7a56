"""Meta's errors as typed exceptions, and the fix hint for each code, in one place.

A `MetaError` carries what Meta said (code, subcode, fbtrace_id, user title/message) and never the
access token: the client scrubs the token out of any text before it builds one. `fix_for` is the only
table that turns a Meta code into advice for a person.
"""

from __future__ import annotations

import json
from typing import Any

# (code, subcode) -> fix hint; (code, None) is the hint for any subcode of that code.
_FIXES: dict[tuple[int, int | None], str] = {
    (190, None): "Reconnect Meta for this profile: the access token is invalid or expired; generate a "
    "new one in Events Manager and rotate the connection's secret.",
    (102, None): "Reconnect Meta for this profile: the API session is no longer valid.",
    (100, 33): "Check the pixel (dataset) id and that the token's system user has access to it.",
    (33, None): "Check the pixel (dataset) id and that the token's system user has access to it.",
    (100, 2804003): "The event is too old: Meta accepts events up to 7 days old (62 for physical_store). "
    "Drop or re-date the event.",
    (100, 2804009): "Add value and currency to Purchase events.",
    (100, 2804016): "A user_data field was not hashed: hash em/ph/fn/ln/db/ge/ct/st/zp/country with SHA-256 "
    "after normalizing them.",
    (100, 2804050): "The event carries too little customer information to be matched; add email, phone, "
    "external_id, fbp/fbc or IP address.",
    (100, None): "Meta refused a parameter: correct the field named in the message and retry.",
    (3, None): "The app lacks the capability for this call: check the token's app and permissions.",
    (10, None): "Permission denied: grant the token's system user access to the dataset.",
    (200, None): "Permission denied: grant the token's system user access to the dataset.",
    (1, None): "Meta had a temporary problem: wait and retry.",
    (2, None): "Meta's service is temporarily down: wait and retry.",
    (4, None): "Meta is throttling this app: wait before sending again and spread sends out.",
    (17, None): "Meta is throttling this user/token: wait before sending again.",
    (32, None): "Meta is throttling this token: wait before sending again.",
    (341, None): "Meta's application limit was reached: wait and retry later.",
    (368, None): "Meta temporarily blocked the account for policy reasons: wait, then check Business "
    "Support.",
    (613, None): "Meta is rate limiting this call: wait before sending again and spread sends out.",
    (80004, None): "Meta's business use case limit was reached: wait before sending again.",
}
_DEFAULT_FIX = "See Meta's message and fbtrace_id; correct the request or retry later."
_UNAVAILABLE_FIX = "Meta did not answer in time or answered with a server error: retry later."
_NOT_GRAPH_FIX = (
    "The endpoint did not answer like the Graph API: check the Meta base URL and API version settings."
)


def fix_for(code: int | None, subcode: int | None = None) -> str:
    """The fix hint for a Meta error code/subcode (falls back to the code's, then a generic one)."""
    if code is None:
        return _UNAVAILABLE_FIX
    if 200 <= code <= 299:
        return _FIXES[(200, None)]
    return _FIXES.get((code, subcode)) or _FIXES.get((code, None)) or _DEFAULT_FIX


class MetaError(Exception):
    """An error answered by (or on the way to) Meta's Graph API. Never holds the access token."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        fbtrace_id: str | None = None,
        error_type: str | None = None,
        user_title: str | None = None,
        user_msg: str | None = None,
        is_transient: bool = False,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.subcode = subcode
        self.fbtrace_id = fbtrace_id
        self.error_type = error_type
        self.user_title = user_title
        self.user_msg = user_msg
        self.is_transient = is_transient
        self.http_status = http_status
        self.fix = fix_for(code, subcode)

    def __str__(self) -> str:
        parts = [self.message]
        if self.code is not None:
            parts.append(f"code={self.code}" + (f"/{self.subcode}" if self.subcode is not None else ""))
        if self.fbtrace_id:
            parts.append(f"fbtrace_id={self.fbtrace_id}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self!s})"

    @property
    def is_throttling(self) -> bool:
        return self.code in THROTTLE_CODES

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe summary for audit rows and API error details (no token, no PII)."""
        return {
            "kind": type(self).__name__,
            "message": self.message,
            "code": self.code,
            "subcode": self.subcode,
            "fbtrace_id": self.fbtrace_id,
            "type": self.error_type,
            "user_title": self.user_title,
            "user_msg": self.user_msg,
            "is_transient": self.is_transient,
            "http_status": self.http_status,
            "fix": self.fix,
        }

    def as_kind(self, cls: type[MetaError]) -> MetaError:
        """The same error as another class of the hierarchy (the client decides the final class)."""
        return cls(
            self.message,
            code=self.code,
            subcode=self.subcode,
            fbtrace_id=self.fbtrace_id,
            error_type=self.error_type,
            user_title=self.user_title,
            user_msg=self.user_msg,
            is_transient=self.is_transient,
            http_status=self.http_status,
        )


class MetaRejectedError(MetaError):
    """Meta refused the request; sending it again unchanged will not help."""


class MetaAuthError(MetaRejectedError):
    """The access token is invalid/expired (190) or the session is gone (102)."""


class MetaUnavailableError(MetaError):
    """Meta kept failing transiently (timeouts, 5xx, throttling) until the retry budget ran out."""


def is_outage(error: BaseException) -> bool:
    """True when a Meta failure is an outage (timeouts, 5xx, throttling: retry later), False when Meta
    refused the request (resending it unchanged will not help)."""
    return isinstance(error, MetaUnavailableError) or bool(getattr(error, "is_transient", False))


def caller_details(error: BaseException) -> dict[str, Any]:
    """What a caller and the audit trail may see of a Meta failure: Meta's code, subcode,
    fbtrace_id, message, user message and fix hint (never a token; unset ones left out)."""
    summary = error.to_dict() if isinstance(error, MetaError) else {"message": str(error)}
    details = {k: summary[k] for k in ("code", "subcode", "fbtrace_id", "message", "user_msg", "fix")
               if summary.get(k) is not None}
    details.setdefault("message", str(error))
    return details


# Throttling codes get a longer backoff (see retry.py); kept here so MetaError can name them.
THROTTLE_CODES: frozenset[int] = frozenset({4, 17, 32, 613, 80004})
AUTH_CODES: frozenset[int] = frozenset({190, 102})


def transport_error(exc: BaseException) -> MetaError:
    """A request that got no answer from Meta (urllib3's errors): transient, named without its text
    (which may hold the URL)."""
    import urllib3

    kind = "timed out" if isinstance(exc, urllib3.exceptions.TimeoutError) else "network error"
    return MetaError(f"Meta request {kind} ({type(exc).__name__})", is_transient=True)


def json_or_none(data: bytes | None) -> Any:
    """Meta's answer body parsed, or None when it is empty or not JSON (an HTML error page)."""
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None


def parse_error_body(body: Any, http_status: int, *, scrub: str | None = None) -> MetaError:
    """A `MetaError` from a Graph error response body (any shape; HTML or junk becomes a generic one).

    `scrub` is a secret (the access token) to blank out of every text field, in case Meta echoes it.
    """

    def clean(value: Any) -> str | None:
        if value is None:
            return None
        text = str(value)
        return text.replace(scrub, "***") if scrub else text

    def as_int(value: Any) -> int | None:
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        odd = MetaError(
            f"Meta answered HTTP {http_status} without a Graph error body",
            http_status=http_status,
            is_transient=http_status >= 500,
        )
        if http_status < 500:
            odd.fix = _NOT_GRAPH_FIX
        return odd
    return MetaError(
        clean(error.get("message")) or f"Meta answered HTTP {http_status}",
        code=as_int(error.get("code")),
        subcode=as_int(error.get("error_subcode")),
        fbtrace_id=clean(error.get("fbtrace_id")),
        error_type=clean(error.get("type")),
        user_title=clean(error.get("error_user_title")),
        user_msg=clean(error.get("error_user_msg")),
        is_transient=error.get("is_transient") is True,
        http_status=http_status,
    )
