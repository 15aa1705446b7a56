"""What every tool does with its call: who is calling (the API Gateway authorizer's context, as for
every HTTP route), the arguments exactly as sent, and how a tool function is published with the
layer models' schemas. Shared by `tools.py` and the tools in modules of their own (`match_quality.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations

from capi_writeback_mcp import layer


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the TOKEN authorizer established it, and the API Gateway request id."""

    principal: layer.Principal
    request_id: str | None


def caller_of(ctx: Context) -> Caller:
    """The caller of this tool call, from the API Gateway event the ASGI adapter put in the scope."""
    request = ctx.request_context.request
    scope = getattr(request, "scope", None) or {}
    event = scope.get("aws.event")
    context = event.get("requestContext") if isinstance(event, Mapping) else None
    if not isinstance(context, Mapping):
        raise layer.Unauthenticated()
    request_id = context.get("requestId")
    return Caller(principal=layer.Principal.from_authorizer(context.get("authorizer")),
                  request_id=str(request_id) if request_id else None)


def raw_arguments(ctx: Context) -> dict[str, Any]:
    """The call's arguments exactly as sent (the SDK's own parsing is bypassed: see arguments.py)."""
    params = ctx.request_context.params or {}
    value = params.get("arguments") if isinstance(params, Mapping) else None
    return dict(value) if isinstance(value, Mapping) else {}


def make_tool(fn: Callable[..., CallToolResult], *, title: str, annotations: ToolAnnotations,
          input_schema: dict[str, Any], output_schema: dict[str, Any]) -> Tool:
    """A tool whose published schemas are the layer models' (the SDK would derive them from `fn`)."""
    tool = Tool.from_function(fn, title=title, annotations=annotations)
    tool.parameters = input_schema
    # Advertised; the SDK validates structured content only against a model, and our results are
    # built from the very models this schema comes from.
    tool.fn_metadata.output_schema = output_schema
    return tool
