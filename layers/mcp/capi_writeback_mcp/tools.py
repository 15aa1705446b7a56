"""The MCP tools (SPEC §9) over the write-back flow, and the `MCPServer` that lists them.

Each tool: who is calling (the API Gateway authorizer's context, as for every HTTP route) → its
arguments validated by the layer's request models (`arguments.py`) → the same flow function the
HTTP handler calls (prerequisites, rails, one audit row) → the HTTP API's JSON as structured content
plus a markdown summary, or a SPEC §3.3 refusal (`results.refusal`). Tools never raise.

Tools are built once per process; the transport (an ASGI app) is built per invocation (`transport.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel

from capi_writeback_mcp import arguments, layer, markdown
from capi_writeback_mcp.results import refusal, success

SERVER_NAME = "capi-writeback"
INSTRUCTIONS = (
    "Pushes a business's attributed conversions to Meta's Conversions API. Sending is irreversible, so "
    "use send_meta_conversions in three steps: mode=preview (nothing is sent; show the user the counts, "
    "sample events, match quality and skipped rows), then mode=dry_run (Meta validates with a "
    "test_event_code; nothing counts), then, only after the user agrees, mode=confirm with an "
    "idempotency_key and the preview_id. Retrying a confirm with the same key never sends twice. A "
    "refusal names what is missing and how to fix it (error.type, error.fix)."
)


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


Render = Callable[[Mapping[str, Any]], str]
_STEPS: dict[str, tuple[Callable[..., dict[str, Any]], type[BaseModel], Render]] = {
    "preview": (layer.preview, layer.PreviewResponse, markdown.preview),
    "dry_run": (layer.dry_run, layer.DryRunResponse, markdown.dry_run),
    "confirm": (layer.confirm, layer.ConfirmResponse, markdown.confirm),
}


def send_meta_conversions(ctx: Context) -> CallToolResult:
    """Preview, dry-run or confirm a push of stored (or inline) conversions to Meta for one profile.

    mode=preview builds the events and sends nothing; mode=dry_run sends them with a test_event_code
    (Meta validates, nothing counts); mode=confirm sends for real, once per idempotency_key. Select
    stored conversions with outcome_types and last_days (default 7) or window, or pass inline rows.
    Pass the preview_id of the preview the user reviewed to dry_run and confirm.
    """
    caller: Caller | None = None
    try:
        caller = caller_of(ctx)
        try:
            parsed = arguments.parse_send(raw_arguments(ctx))
        except arguments.InvalidArguments as invalid:
            if invalid.profile_id is not None and invalid.mode is not None:
                layer.record_refusal(layer.new_call(caller.principal, invalid.profile_id, caller.request_id),
                                     invalid.mode, invalid.error)
            raise invalid.error from None
        step, response_model, render = _STEPS[parsed.mode]
        call = layer.new_call(caller.principal, parsed.profile_id, caller.request_id)
        result = response_model.model_validate(step(call, parsed.request)).model_dump(mode="json")
        layer.obs.logger.info("mcp tool answered", extra={"tool": "send_meta_conversions",
                                                          "mode": parsed.mode})
        return success(result, render)
    except Exception as exc:
        return refusal(exc, caller.request_id if caller else None)


def get_writeback_audit(ctx: Context) -> CallToolResult:
    """The profile's write-back audit trail, newest first: one row per preview, dry-run, confirm and
    breaker reset, refusals included. Owners and admins only. Page with limit and next."""
    caller: Caller | None = None
    try:
        caller = caller_of(ctx)
        parsed = arguments.parse_audit(raw_arguments(ctx))
        call = layer.new_call(caller.principal, parsed.profile_id, caller.request_id)
        page = layer.AuditPage.model_validate(layer.list_audit(call, parsed.limit, parsed.next))
        return success(page.model_dump(mode="json"), markdown.audit)
    except arguments.InvalidArguments as invalid:
        return refusal(invalid.error, caller.request_id if caller else None)
    except Exception as exc:
        return refusal(exc, caller.request_id if caller else None)


def _tool(fn: Callable[..., CallToolResult], *, title: str, annotations: ToolAnnotations,
          input_schema: dict[str, Any], output_schema: dict[str, Any]) -> Tool:
    """A tool whose published schemas are the layer models' (the SDK would derive them from `fn`)."""
    tool = Tool.from_function(fn, title=title, annotations=annotations)
    tool.parameters = input_schema
    # Advertised; the SDK validates structured content only against a model, and our results are
    # built from the very models this schema comes from.
    tool.fn_metadata.output_schema = output_schema
    return tool


def tools() -> list[Tool]:
    """The tools of SPEC §9 that the layer supports today."""
    from capi_writeback_mcp import match_quality  # SPEC §11.3, its own module (it imports this one)

    return [
        _tool(send_meta_conversions, title="Send conversions to Meta (preview, dry-run, confirm)",
              annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True,
                                          open_world_hint=True),
              input_schema=arguments.send_input_schema(),
              output_schema=arguments.object_schema(layer.PreviewResponse, layer.DryRunResponse,
                                                    layer.ConfirmResponse)),
        _tool(get_writeback_audit, title="Write-back audit trail",
              annotations=ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                                          open_world_hint=False),
              input_schema=arguments.audit_input_schema(),
              output_schema=arguments.object_schema(layer.AuditPage)),
        match_quality.tool(),
    ]


def build_server() -> MCPServer:
    """The MCP server with its tools (once per process; its HTTP app is built per invocation).

    `MCPServer()` calls `logging.basicConfig`, which gives the root logger a handler when it has none
    (locally: every Powertools line would then be printed twice). The functions log through
    Powertools only, so that handler and level are put back as they were.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        return MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, tools=tools(), log_level="WARNING")
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)
