"""The MCP tools (SPEC §9) over the write-back flow, and the `MCPServer` that lists them.

Each tool: who is calling (the API Gateway authorizer's context, as for every HTTP route) → its
arguments validated by the layer's request models (`arguments.py`) → the same flow function the
HTTP handler calls (prerequisites, rails, one audit row) → the HTTP API's JSON as structured content
plus a markdown summary, or a SPEC §3.3 refusal (`results.refusal`). Tools never raise.

Tools are built once per process; the transport (an ASGI app) is built per invocation (`transport.py`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel

from capi_writeback_mcp import arguments, layer, markdown, match_quality
from capi_writeback_mcp.calls import Caller, caller_of, make_tool, raw_arguments
from capi_writeback_mcp.results import refusal, success

SERVER_NAME = "capi-writeback"
INSTRUCTIONS = (
    "Pushes a business's attributed conversions to Meta's Conversions API. Call whoami first: it lists "
    "the workspace's profiles and pixels and anything that would stop a send. Sending is irreversible, "
    "so use send_meta_conversions in three steps: mode=preview (nothing is sent; show the user the "
    "counts, sample events, match quality and skipped rows), then mode=dry_run (Meta validates with a "
    "test_event_code; nothing counts), then, only after the user agrees, mode=confirm with an "
    "idempotency_key and the preview_id. Retrying a confirm with the same key never sends twice. "
    "meta_send_conversion_event sends one event now (with test_event_code: a test; without: live, once "
    "per pixel_id + event_name + event_id, so a retry never double-counts). A refusal names what is "
    "missing and how to fix it (error.type, error.fix)."
)


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
        profile_id = parsed.profile_id or layer.only_profile(caller.principal)
        call = layer.new_call(caller.principal, profile_id, caller.request_id)
        result = response_model.model_validate(step(call, parsed.request)).model_dump(mode="json")
        layer.obs.logger.info("mcp tool answered", extra={"tool": "send_meta_conversions",
                                                          "mode": parsed.mode})
        return success(result, render)
    except Exception as exc:
        return refusal(exc, caller.request_id if caller else None)


def meta_send_conversion_event(ctx: Context) -> CallToolResult:
    """Send one conversion event to Meta now, for the profile connected to pixel_id.

    With test_event_code it is a test (shows in Events Manager > Test events; nothing counts); without
    it, it is live and sent exactly once per (pixel_id, event_name, event_id): calling again with the
    same event answers the first result (replayed: true) and sends nothing. Pass raw customer data in
    user_data (email, phone, ...): it is normalized and hashed here. event_id defaults to an id derived
    from the event's content. An event Meta would refuse (too old, missing fields) is refused with the
    reason and nothing is sent.
    """
    caller: Caller | None = None
    try:
        caller = caller_of(ctx)
        try:
            request = arguments.parse_event(raw_arguments(ctx))
        except arguments.InvalidArguments as invalid:
            _audit_malformed_event(caller, invalid)
            raise invalid.error from None
        profile_id = layer.profile_for_pixel(caller.principal, str(request.pixel_id))
        call = layer.new_call(caller.principal, profile_id, caller.request_id)
        answer = layer.SendEventResponse.model_validate(layer.send_event(call, request))
        result = answer.model_dump(mode="json")
        layer.obs.logger.info("mcp tool answered", extra={"tool": "meta_send_conversion_event",
                                                          "replayed": result["replayed"]})
        return success(result, layer.send_event_markdown if request.response_format == "markdown" else _json)
    except Exception as exc:
        return refusal(exc, caller.request_id if caller else None)


def _audit_malformed_event(caller: Caller, invalid: arguments.InvalidArguments) -> None:
    """Malformed arguments naming a pixel of the caller's profile are audited on that profile, as a
    malformed HTTP request is (none when the pixel is unknown or the token may not send)."""
    if invalid.pixel_id is None:
        return
    try:
        profile_id = layer.profile_for_pixel(caller.principal, invalid.pixel_id)
    except layer.CapiWritebackError:
        return
    layer.record_refusal(layer.new_call(caller.principal, profile_id, caller.request_id), "send_event",
                         invalid.error)


def _json(result: Mapping[str, Any]) -> str:
    """The text block of response_format json: the result itself."""
    return json.dumps(result, ensure_ascii=False, indent=2)


def whoami(ctx: Context) -> CallToolResult:
    """Who you are and what you may do: the workspace, your role and scopes, whether write-back is on,
    and each profile with its pixel, Meta connection status and circuit breaker. `unmet` names the
    error a send would be refused with (and its fix is in the refusal): check it before sending."""
    caller: Caller | None = None
    try:
        caller = caller_of(ctx)
        arguments.parse_none(raw_arguments(ctx))
        result = layer.WhoamiResponse.model_validate(layer.whoami(caller.principal)).model_dump(mode="json")
        return success(result, markdown.whoami)
    except arguments.InvalidArguments as invalid:
        return refusal(invalid.error, caller.request_id if caller else None)
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


READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                            open_world_hint=False)
SENDS = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True,
                        open_world_hint=True)


def tools() -> list[Tool]:
    """The tools of SPEC §9."""
    return [
        make_tool(whoami, title="Who am I, and what would stop a send", annotations=READ_ONLY,
                  input_schema=arguments.NO_ARGUMENTS,
                  output_schema=arguments.object_schema(layer.WhoamiResponse)),
        make_tool(send_meta_conversions, title="Send conversions to Meta (preview, dry-run, confirm)",
                  annotations=SENDS, input_schema=arguments.send_input_schema(),
                  output_schema=arguments.object_schema(layer.PreviewResponse, layer.DryRunResponse,
                                                        layer.ConfirmResponse)),
        make_tool(meta_send_conversion_event, title="Send one conversion event to Meta now",
                  annotations=SENDS, input_schema=arguments.event_input_schema(),
                  output_schema=arguments.object_schema(layer.SendEventResponse)),
        make_tool(get_writeback_audit, title="Write-back audit trail", annotations=READ_ONLY,
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
