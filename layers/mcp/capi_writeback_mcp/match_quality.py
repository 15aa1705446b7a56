"""The MCP tool `get_match_quality` (SPEC §11.3): how well Meta matches a profile's events, over the
same flow function as GET /v1/profiles/{profile_id}/quality.

Read-only: Meta's Event Match Quality (0-10) per event name with match-key coverage and freshness,
beside our own pre-send great/good/weak counts of the recent confirms. Listed by `tools.tools()`.
Like every tool it never raises: a refusal is an isError result holding the SPEC §3.3 error body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from capi_writeback.contracts.quality import QualityQuery, QualityReport
from capi_writeback.flow.admin.quality import match_quality
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import ValidationError

from capi_writeback_mcp import layer
from capi_writeback_mcp.arguments import object_schema
from capi_writeback_mcp.calls import Caller, caller_of, make_tool, raw_arguments
from capi_writeback_mcp.results import refusal, success


def get_match_quality(ctx: Context) -> CallToolResult:
    """How well Meta matches this profile's events: Event Match Quality (0-10) per event name, the
    coverage of each match key (email, phone, IP address...) and how fresh the data is, next to the
    great/good/weak counts this service scored before sending the recent confirms. Read-only; any
    member of the workspace may ask. Use it after a confirm to tell the user what to improve."""
    caller: Caller | None = None
    try:
        caller = caller_of(ctx)
        given = {k: v for k, v in raw_arguments(ctx).items() if v is not None}
        try:
            query = QualityQuery.model_validate(given)
        except ValidationError as exc:
            raise layer.InvalidRequest(details=layer.validation_details(exc.errors())) from None
        call = layer.new_call(caller.principal, query.profile_id, caller.request_id)
        report = QualityReport.model_validate(match_quality(call)).model_dump(mode="json")
        layer.obs.logger.info("mcp tool answered", extra={"tool": "get_match_quality"})
        return success(report, render)
    except Exception as exc:
        return refusal(exc, caller.request_id if caller else None)


def render(report: Mapping[str, Any]) -> str:
    """The markdown an assistant relays: our counts, then Meta's table, then the notes."""
    ours, meta = report["ours"], report["meta"]
    quality = ours["match_quality"]
    lines = [f"**Match quality** of profile `{report['profile_id']}` (pixel `{report['pixel_id']}`)", "",
             f"- Ours, scored before sending: {ours['pushes']} confirm(s), {ours['events']} events in the "
             f"last {ours['days']} days: great {quality.get('great', 0)}, good {quality.get('good', 0)}, "
             f"weak {quality.get('weak', 0)}.",
             f"- Meta's figures, fetched {meta['fetched_at']}{' (cached)' if meta['cached'] else ''}:"]
    if meta["events"]:
        lines += ["", "| event | EMQ (0-10) | match keys (coverage %) | freshness |", "|---|---|---|---|"]
        for event in meta["events"]:
            keys = ", ".join(f"{k['identifier']} {k['coverage']}" for k in event["match_keys"]) or "—"
            emq = "—" if event["emq"] is None else f"{event['emq']:.1f}"
            lines.append(f"| {event['event_name']} | {emq} | {keys} | {event['freshness'] or '—'} |")
    lines += ["", *[f"_{note}_" for note in report["notes"]]]
    return "\n".join(lines)


def tool() -> Tool:
    schema = QualityQuery.model_json_schema()
    schema["additionalProperties"] = False
    return make_tool(get_match_quality, title="Match quality after the send",
                 annotations=ToolAnnotations(read_only_hint=True, destructive_hint=False,
                                             idempotent_hint=True, open_world_hint=True),
                 input_schema=schema, output_schema=object_schema(QualityReport))
