"""Tool results: the structured content (the HTTP API's JSON) plus a markdown text block.

`refusal` is the one place a failure becomes a tool result. A refusal is an `isError` result whose
structured content is the SPEC §3.3 error body, so the assistant can tell its user what is missing and
how to fix it. (The SDK's `ToolError` would carry only text: it drops structured content.) Anything
unexpected is INTERNAL: logged (as the HTTP handlers log it) with the request id; nothing of it
reaches the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mcp.types import CallToolResult, TextContent

from capi_writeback_mcp import layer, markdown


def success(structured: Mapping[str, Any], render: Callable[[Mapping[str, Any]], str]) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=render(structured))],
                          structured_content=dict(structured), is_error=False)


def refusal(exc: BaseException, request_id: str | None) -> CallToolResult:
    """The SPEC §3.3 refusal for `exc` as an isError tool result."""
    error = layer.to_api_error(exc)
    if error.type == "INTERNAL":
        layer.obs.logger.error("unexpected error in a tool", exc_info=exc,
                               extra={"error_class": type(exc).__name__})
    else:
        layer.obs.logger.info("tool call refused", extra={"error_type": error.type})
    body = error.body(request_id)
    return CallToolResult(content=[TextContent(type="text", text=markdown.refusal(body))],
                          structured_content=body, is_error=True)
