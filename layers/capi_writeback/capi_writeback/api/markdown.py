"""Short markdown summaries of results, for people: the HTTP API answers one when a request asks for
`response_format: markdown` (the single-event send), and the MCP server uses the same text as its
tool result's text block. Ids, counts and hashes only: never a raw value of the caller's data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MARKDOWN = "text/markdown; charset=utf-8"


def send_event(result: Mapping[str, Any]) -> str:
    """SPEC §8's result: what was sent (or replayed), Meta's answer, match quality, warnings."""
    name, event_id = result["event_name"], result["event_id"]
    if result.get("replayed"):
        head = (f"**Event already sent**: {name} `{event_id}` went to pixel {result['pixel_id']} before "
                f"(request {result.get('original_request_id')}); nothing was sent again.")
    elif result.get("test_event_code"):
        code = result["test_event_code"]
        head = (f"**Test event sent**: {name} `{event_id}` with test_event_code `{code}`: Meta received "
                f"{result['events_received']} event. Nothing counts for real.")
    else:
        head = (f"**Event sent**: {name} `{event_id}` to pixel {result['pixel_id']}: Meta received "
                f"{result['events_received']} event.")
    lines = [head, f"- Match quality: {result['match_quality']}",
             f"- fbtrace_id: {result.get('fbtrace_id') or 'none'}"]
    lines += [f"- Meta: {m}" for m in result.get("messages") or []]
    lines += [f"- Warning: {w}" for w in result.get("warnings") or []]
    if not result.get("replayed") and not result.get("test_event_code"):
        lines.append("- Sending it again (same pixel, event_name and event_id) within 7 days replays this "
                     "result; nothing is sent twice.")
    return "\n".join(lines)
