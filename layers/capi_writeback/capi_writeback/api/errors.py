"""Request validation failures as an InvalidRequest whose details name each field.

Pydantic's messages are kept, its `input` values never are (they may be a customer's email).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from capi_writeback.api.request import WHOLE_BODY
from capi_writeback.exceptions import InvalidRequest

_LOCATIONS = ("body", "query", "path", "header", "cookie")
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def validation_details(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic/Powertools errors as [{"field": "rows.3", "type": ..., "message": ...}] (no inputs)."""
    details = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())]
        kind = str(error.get("type", "invalid"))
        if kind == "json_invalid":
            ctx = error.get("ctx") or {}
            reason = str(ctx.get("error", "cannot parse"))
            position = loc[1] if len(loc) > 1 else "?"
            message = (reason[:1].upper() + reason[1:] + "." if position == str(WHOLE_BODY)
                       else f"Malformed JSON: {reason} (at character {position})")
            details.append({"field": "body", "type": kind, "message": message})
            continue
        if loc and loc[0] in _LOCATIONS:
            loc = loc[1:]
        if kind == "extra_forbidden" and loc and not _FIELD_NAME.fullmatch(loc[-1]):
            loc[-1] = "(unknown field)"  # the key itself is user data (an email used as a key...)
        message = str(error.get("msg") or kind)
        details.append({"field": ".".join(loc) or "body", "type": kind, "message": message})
    return details


def validation_error(errors: Iterable[Mapping[str, Any]]) -> InvalidRequest:
    """The refusal of a request that failed its model (a pydantic error anywhere else, e.g. in a
    response model, is our bug and stays INTERNAL)."""
    return InvalidRequest(details=validation_details(errors))
