"""What the robustness suite sends and what it accepts back, shared by the pytest suite and `make fuzz`
(`python -m tests.robustness.fuzz`).

The rule (SPEC §3.3): no request, however malformed, gets a 500 or anything but the SPEC error body.
A 5xx is accepted only for the refusals the Meta emulator or the gateway can cause on purpose
(`ALLOWED_5XX`). The MCP route speaks JSON-RPC (its own error shape): only "no 5xx" applies there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from capi_writeback.errors import ERRORS

ALLOWED_5XX = frozenset({"META_REJECTED", "META_UNAVAILABLE", "CIRCUIT_OPEN", "GATEWAY_TIMEOUT"})
# Statuses the gateway gives a type other than its table status (template.yaml's GatewayResponses).
GATEWAY_STATUSES = {("VALIDATION_ERROR", 400), ("VALIDATION_ERROR", 413)}
JSON_RPC_ROUTES = ("/v1/mcp",)


def problems(path: str, status: int, headers: Mapping[str, str], body: bytes) -> list[str]:
    """Why this answer breaks the rule (empty when it does not)."""
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    found: list[str] = []
    if path.startswith(JSON_RPC_ROUTES):
        if status >= 500:
            found.append(f"{status} from the MCP route")
        return found
    if status < 400:
        return found
    if "json" not in content_type:
        return [f"{status} with Content-Type {content_type!r}, not the JSON error body"]
    try:
        error = json.loads(body)["error"]
        kind, message, fix, request_id = error["type"], error["message"], error["fix"], error["request_id"]
    except (ValueError, KeyError, TypeError):
        return [f"{status} whose body is not the SPEC error shape: {body[:200]!r}"]
    if not (isinstance(message, str) and message and isinstance(fix, str) and fix
            and isinstance(request_id, str) and request_id):
        found.append(f"{status} {kind}: message, fix and request_id must be non-empty strings")
    if kind not in ERRORS:
        found.append(f"{status} with an unknown error type {kind!r}")
    elif ERRORS[kind].status != status and (kind, status) not in GATEWAY_STATUSES:
        found.append(f"{kind} answered with {status}, its table status is {ERRORS[kind].status}")
    if status >= 500 and kind not in ALLOWED_5XX:
        found.append(f"{status} {kind} (request_id {request_id})")
    return found


@dataclass(frozen=True)
class Hostile:
    """One hand-made hostile request body (issue 9), sent to every route."""

    name: str
    body: bytes
    content_type: str | None = "application/json"


def _json(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def hostile_bodies(row: Mapping[str, Any]) -> Iterator[Hostile]:
    """The bodies that once broke the API, around `row` (a valid conversion row)."""
    text = json.dumps({"rows": [dict(row)], "idempotency_key": "hostile"}, ensure_ascii=False)
    yield Hostile("valid rows (control)", text.encode("utf-8"))
    yield Hostile("latin-1", text.replace("}]", ', "first_name": "Jos\u00e9"}]').encode("latin-1"))
    yield Hostile("utf-16 with BOM", text.encode("utf-16"))
    yield Hostile("utf-16-le", text.encode("utf-16-le"))
    yield Hostile("utf-8 BOM", b"\xef\xbb\xbf" + text.encode("utf-8"))
    yield Hostile("invalid utf-8", b"\xff\xfe\xfd{\x80}")
    yield Hostile("utf-8 encoded surrogate", text.replace("}]", ', "email": "X"}]').encode().replace(
        b'"X"', b'"\xed\xa0\x80"'))
    yield Hostile("lone surrogate escape", text.replace("}]", ', "email": "a\\ud800"}]').encode())
    yield Hostile("NUL bytes", b'{"rows": [\x00]}')
    yield Hostile("nested 1,000 deep", _nested(1000).encode())
    yield Hostile("nested 100,000 deep", _nested(100_000).encode())
    yield Hostile("nested in a row", text.replace("}]", ', "contents": ' + _nested(999) + "}]").encode())
    yield Hostile("5,000-digit integer", text.replace("}]", ', "value": ' + "9" * 5000 + "}]").encode())
    yield Hostile("400-digit occurred_at",
                  text.replace("}]", ', "occurred_at": 1' + "0" * 400 + "}]").encode())
    yield Hostile("10^400 values", text.replace("}]", ', "value": 1e400, "num_items": 1' + "0" * 400
                                                + ', "predicted_ltv": -1e400}]').encode())
    yield Hostile("NaN and Infinity", text.replace("}]", ', "value": NaN, "num_items": Infinity}]').encode())
    yield Hostile("NaN last_days", b'{"last_days": NaN}')
    yield Hostile("trailing-newline key", _json({"rows": [dict(row)], "idempotency_key": "k\n"}))
    yield Hostile("control-character key", _json({"rows": [dict(row)], "idempotency_key": "k\x00\x07"}))
    yield Hostile("empty body", b"")
    yield Hostile("blank body", b" \r\n\t ")
    for literal in (b"null", b"true", b"0", b'"text"', b"[]", b"[{}]", b"{}", b"{", b"}"):
        yield Hostile(f"JSON {literal.decode()}", literal)
    yield Hostile("array instead of object", _json([{"rows": [dict(row)]}]))
    yield Hostile("rows as an object", _json({"rows": dict(row)}))
    yield Hostile("rows of arrays", _json({"rows": [[1, 2], "x", None]}))
    yield Hostile("duplicate keys", b'{"rows": [], "rows": [{}], "last_days": 1, "last_days": 2}')
    yield Hostile("1 MB string", _json({"rows": [{**row, "content_name": "x" * 1_000_000}]}))
    yield Hostile("10,000 keys", _json({"rows": [{f"k{i}": i for i in range(10_000)}]}))
    yield Hostile("form content type", b"rows=1&last_days=7", "application/x-www-form-urlencoded")
    yield Hostile("JSON as a form", text.encode(), "application/x-www-form-urlencoded")
    yield Hostile("multipart", b"--x\r\nContent-Disposition: form-data; name=\"rows\"\r\n\r\n1\r\n--x--\r\n",
                  "multipart/form-data; boundary=x")
    yield Hostile("text/plain", text.encode(), "text/plain")
    yield Hostile("xml", b"<rows><row/></rows>", "application/xml")
    yield Hostile("no content type", text.encode(), None)
    yield Hostile("unparsable content type", text.encode(), ";;;=\x7f")
