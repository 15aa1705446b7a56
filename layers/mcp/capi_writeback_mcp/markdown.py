"""The text block of each tool result: a short markdown summary of the structured content.

An assistant reads this block to tell its user what happened; the structured content carries the
same facts as JSON (exactly the HTTP API's body). Only ids, counts, hashes and the sample events
(already hashed, as they are sent to Meta) appear here: nothing raw from a conversion row.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

SAMPLE_EVENTS = 3


def _counts(mapping: Mapping[str, Any]) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in mapping.items()) or "none"


def _skipped(result: Mapping[str, Any]) -> list[str]:
    listed = list(result.get("skipped") or [])
    total = int(result.get("skipped_count") or len(listed))
    if not total:
        return ["- Skipped rows: none"]
    by_reason = Counter(str(s.get("reason")) for s in listed)
    line = f"- Skipped rows: {total:,} ({_counts(dict(by_reason.most_common()))}"
    if total > len(listed):
        line += f"; {total - len(listed):,} more not listed"
    return [line + ")"]


def _warnings(result: Mapping[str, Any]) -> list[str]:
    warnings = [str(w) for w in result.get("warnings") or []]
    return [f"- Warning: {w}" for w in warnings]


def _json_block(value: Any) -> list[str]:
    return ["```json", json.dumps(value, indent=2, ensure_ascii=False, default=str), "```"]


def preview(result: Mapping[str, Any]) -> str:
    window = result.get("window") or {}
    lines = [
        f"**Preview**: {result['event_count']:,} events built; nothing was sent to Meta.",
        f"- Events by name: {_counts(result.get('events_by_name') or {})}",
        f"- Match quality: {_counts(result.get('match_quality') or {})}",
        *_skipped(result),
    ]
    if window:
        lines.append(f"- Window: {window.get('start')} to {window.get('end')}")
    lines += _warnings(result)
    lines.append(f"- preview_id: `{result['preview_id']}` (pass it to dry_run and confirm to send exactly "
                 "these events; they are refused with PAYLOAD_CHANGED if the data changed)")
    samples = list(result.get("sample_events") or [])[:SAMPLE_EVENTS]
    if samples:
        lines += ["", f"First {len(samples)} events exactly as they would be sent (PII hashed):"]
        lines += _json_block(samples)
    return "\n".join(lines)


def dry_run(result: Mapping[str, Any]) -> str:
    lines = [
        f"**Dry-run** with test_event_code `{result['test_event_code']}`: Meta received "
        f"{result['events_received']:,} of {result['event_count']:,} events. Nothing counts for real.",
        f"- fbtrace ids: {', '.join(result.get('fbtrace_ids') or []) or 'none'}",
        *_skipped(result),
    ]
    rejected = list(result.get("rejected") or [])
    if rejected:
        lines.append(f"- Events Meta refused: {len(rejected):,}")
    lines += [f"- Meta: {m}" for m in result.get("messages") or []]
    lines += _warnings(result)
    lines.append("- Next: confirm with an idempotency_key (and this preview_id) to send for real.")
    return "\n".join(lines)


def confirm(result: Mapping[str, Any]) -> str:
    if result.get("replayed"):
        head = (f"**Confirm replayed**: idempotency_key `{result['idempotency_key']}` already "
                f"{result['status']}; nothing was sent again.")
    else:
        head = f"**Confirm {result['status']}**: idempotency_key `{result['idempotency_key']}`."
    lines = [
        head,
        f"- Events received by Meta: {result['events_received']:,} of {result['event_count']:,}",
        *_skipped(result),
    ]
    batches = list(result.get("batches") or [])
    if batches:
        lines += ["", "| batch | events | received | status | fbtrace_id |", "|---|---|---|---|---|"]
        lines += [f"| {b['index']} | {b['event_count']:,} | {b['events_received']:,} | {b['status']} | "
                  f"{b.get('fbtrace_id') or ''} |" for b in batches]
    if result.get("status") == "partially_failed":
        lines += ["", "Retry with the same idempotency_key: only the batches Meta did not accept are sent."]
    return "\n".join(lines)


def audit(page: Mapping[str, Any]) -> str:
    items: Iterable[Mapping[str, Any]] = page.get("items") or []
    rows = [f"| {r.get('created_at')} | {r.get('operation')} | {r.get('status')} | {r.get('event_count')} | "
            f"{r.get('actor')} | {r.get('request_id')} |" for r in items]
    if not rows:
        lines = ["**Audit trail**: no rows."]
    else:
        lines = [f"**Audit trail**: {len(rows)} rows, newest first.", "",
                 "| at | operation | status | events | actor | request_id |", "|---|---|---|---|---|---|",
                 *rows]
    if page.get("next"):
        lines += ["", f"More rows: call again with next=`{page['next']}`."]
    return "\n".join(lines)


def whoami(result: Mapping[str, Any]) -> str:
    """Who is calling and what would stop a send, so the assistant can say what to fix first."""
    unmet = list(result.get("unmet") or [])
    lines = [f"**{result['user_id']}** in workspace {result.get('workspace_name') or result['workspace_id']} "
             f"(`{result['workspace_id']}`): role {result.get('role') or 'none'}, scopes "
             f"{', '.join(result.get('scopes') or []) or 'none'}, write-back "
             f"{'enabled' if result.get('writeback_enabled') else 'disabled'}.",
             f"- Sending is blocked for every profile by: {', '.join(unmet)}" if unmet
             else "- The token, role and workspace may send."]
    profiles = list(result.get("profiles") or [])
    if profiles:
        lines += ["", "| profile | name | pixel | connection | breaker | can send | blocked by |",
                  "|---|---|---|---|---|---|---|"]
        for p in profiles:
            breaker = p["breaker"] + (f" ({p['retry_after']} s)" if p.get("retry_after") else "")
            lines.append(f"| `{p['profile_id']}` | {p.get('name') or ''} | {p.get('pixel_id') or ''} | "
                         f"{p['connection_status']} | {breaker} | {'yes' if p['can_send'] else 'no'} | "
                         f"{', '.join(p.get('unmet') or []) or ''} |")
    else:
        lines.append("- The workspace has no profile yet.")
    if result.get("profile_count", len(profiles)) > len(profiles):
        lines.append(f"- {result['profile_count'] - len(profiles)} more profiles are not listed.")
    return "\n".join(lines)


def refusal(body: Mapping[str, Any]) -> str:
    """A SPEC §3.3 error body: what is missing and how to fix it."""
    error = body["error"]
    lines = [f"**Refused: {error['type']}**: {error['message']}", f"- Fix: {error['fix']}"]
    if error.get("retry_after") is not None:
        lines.append(f"- Retry after: {error['retry_after']} s")
    details = error.get("details")
    if isinstance(details, list):
        lines += [f"- `{d.get('field')}`: {d.get('message')}" for d in details if isinstance(d, Mapping)]
    elif isinstance(details, Mapping):
        for key in ("code", "subcode", "fbtrace_id", "status"):
            if details.get(key) is not None:
                lines.append(f"- {key}: {details[key]}")
    lines.append(f"- request_id: {error.get('request_id')}")
    return "\n".join(lines)
