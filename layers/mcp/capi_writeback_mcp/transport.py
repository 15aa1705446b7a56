"""Streamable HTTP at POST /v1/mcp on Lambda: the SDK's Starlette app behind API Gateway, via Mangum.

Stateless, JSON responses: every POST is answered on its own (the 2026-07-28 protocol's single
exchange, and the older initialize-then-call clients too), so any warm Lambda can serve any call.

Per invocation, a new ASGI app is built (the SDK's session manager may run only once, and Mangum runs
the app's lifespan on every call) on a new event loop that is closed afterwards; the `MCPServer` and
its tools are built once per process.

Authentication is API Gateway's: the route has the same TOKEN authorizer as every other route, so a
missing, unknown, revoked or expired token is a 401 (with `WWW-Authenticate: Bearer`) before this
function runs, and the tools read the caller from the authorizer's context.

Host and Origin checks (the SDK's DNS-rebinding protection): they matter to a server on localhost
that a browser page could reach under a rebound name. Here the allowed host is the domain API Gateway
says it received the request on (`requestContext.domainName`: the execute-api domain, a custom domain,
or 127.0.0.1 for `capi-writeback serve`), never a value taken from the request headers, and the only
allowed Origin is that same host. Bearer tokens are not ambient credentials (a rebound page does not
have one), so these checks are defence in depth, not the access control.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from mangum import Mangum
from mangum.types import ASGI
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from capi_writeback_mcp import layer
from capi_writeback_mcp.tools import build_server

MCP_PATH = "/v1/mcp"
# API Gateway's own payload limit (the SDK's default is 4 MiB); Lambda's 6 MB applies before it.
MAX_BODY_BYTES = 10 * 1024 * 1024

for _name in ("mcp", "mangum"):  # lifecycle chatter at INFO on every invocation
    logging.getLogger(_name).setLevel(logging.WARNING)

_server: MCPServer | None = None
_server_lock = threading.Lock()


def server() -> MCPServer:
    global _server
    with _server_lock:
        if _server is None:
            _server = build_server()
        return _server


def security_for(event: Mapping[str, Any]) -> TransportSecuritySettings:
    """Host/Origin allow-lists for this request: the domain API Gateway received it on (module doc)."""
    context = event.get("requestContext")
    domain = context.get("domainName") if isinstance(context, Mapping) else None
    if not isinstance(domain, str) or not domain:
        # Nothing trustworthy to compare with: refuse every Host (421) rather than accept any.
        return TransportSecuritySettings(enable_dns_rebinding_protection=True)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[domain, f"{domain}:*"],
        allowed_origins=[f"https://{domain}", f"https://{domain}:*", f"http://{domain}:*"],
    )


def asgi_app(event: Mapping[str, Any]) -> ASGI:
    """The SDK's Streamable HTTP app for one invocation."""
    app = server().streamable_http_app(streamable_http_path=MCP_PATH, stateless_http=True,
                                       json_response=True, transport_security=security_for(event),
                                       max_request_body_size=MAX_BODY_BYTES)
    return _text_by_default(app)


def _text_by_default(app: ASGIApp) -> ASGI:
    """The SDK answers some refusals (421 bad Host, 406 bad Accept...) as bodies without a
    Content-Type, which Mangum would base64-encode for API Gateway: label them as text."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        async def labelled(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                if not any(k.lower() == b"content-type" for k, _v in headers):
                    headers.append((b"content-type", b"text/plain; charset=utf-8"))
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, labelled)

    return wrapped


def _request_id(event: Any) -> str | None:
    context = event.get("requestContext") if isinstance(event, Mapping) else None
    value = context.get("requestId") if isinstance(context, Mapping) else None
    return str(value) if value else None


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """API Gateway proxy event in, proxy response out (a SPEC INTERNAL error if anything escapes)."""
    request_id = _request_id(event)
    layer.obs.logger.set_correlation_id(request_id)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        response: dict[str, Any] = Mangum(asgi_app(event), lifespan="auto")(event, context)
        return response
    except Exception as exc:
        layer.obs.logger.exception("mcp invocation failed", extra={"error_class": type(exc).__name__})
        body = layer.internal_error().body(request_id)
        return {"statusCode": 500, "headers": {"Content-Type": "application/json"},
                "body": json.dumps(body), "isBase64Encoded": False}
    finally:
        asyncio.set_event_loop(None)
        loop.close()
        layer.obs.flush()
