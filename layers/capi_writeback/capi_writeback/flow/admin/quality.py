"""Match quality after the send (SPEC §11.3): Meta's Dataset Quality API for the profile's pixel,
cached a few minutes, next to our own pre-send great/good/weak counts.

- **Meta's side**: EMQ (composite score, 0-10), match-key coverage, event coverage, dedupe keys and
  freshness per event name, for the events of the last 7 days (Meta's window; web events only). With
  a `partner_agent` configured, only the events sent with it (`agent_name`). Cached per profile,
  pixel, agent and API version for `CACHE_SECONDS` in the function's memory: Meta recomputes these
  figures slowly, and the dashboard reads them on every visit.
- **Our side**: the match quality the preview scored (SPEC §3.2) for the events of each confirm of
  the last `OUR_DAYS` days that sent something (status succeeded or partially_failed), read from the
  confirms' audit rows (`match_quality`, recorded by every step since this release; older rows have
  none and are not counted). Counts are of events built, the same events Meta received.

Reading needs any scope and any role: the figures are aggregates with no customer data.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from capi_writeback.auth import check_access
from capi_writeback.exceptions import ConnectionRejected, SendUnavailable
from capi_writeback.flow.admin.access import READ, iso
from capi_writeback.flow.services import Services, default_services
from capi_writeback.flow.trail import Call

CACHE_SECONDS = 300
OUR_DAYS = 7
PAGES = 5            # audit pages of 100 rows read at most for our side
LISTED_PUSHES = 10
SENT = ("succeeded", "partially_failed")
LEVELS = ("great", "good", "weak")

_cache: dict[tuple[str, str, str | None, str], tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def match_quality(call: Call, services: Services | None = None) -> dict[str, Any]:
    """The quality report of the profile (needs an active Meta connection)."""
    from capi_writeback.meta.errors import MetaError, caller_details, is_outage
    from capi_writeback.meta.graph import agent_name, reader_for

    services = services or default_services()
    scopes, roles = READ
    access = check_access(services.directory, call.principal, call.profile_id, scopes=scopes, roles=roles,
                          writeback=False, connection=True)
    connection = access.connection
    pixel_id, secret_id = str(connection["pixel_id"]), str(connection["secret_id"])
    client = services.meta(str(connection.get("api_version") or "") or None)
    agent = agent_name(client.config.partner_agent)
    key = (access.profile_id, pixel_id, agent, client.config.api_version)
    now = services.clock()
    with _cache_lock:
        hit = _cache.get(key)
    cached = hit is not None and now - hit[0] < CACHE_SECONDS
    if hit is not None and cached:
        fetched_at, answer = hit
    else:
        try:
            answer = reader_for(client.config).dataset_quality(pixel_id, client.credentials.get(secret_id),
                                                               agent_name=agent)
        except MetaError as error:
            details = caller_details(error)
            if is_outage(error):
                raise SendUnavailable("Meta's Dataset Quality API did not answer.",
                                      fix="Retry in a minute.", details=details) from None
            raise ConnectionRejected(f"Meta refused the Dataset Quality request: {error.message}",
                               fix=error.fix, details=details) from None
        fetched_at = now
        with _cache_lock:
            _cache[key] = (now, answer)
    notes = ["Meta's EMQ covers website events of the last 7 days; other action sources have none."]
    events = [_event(e) for e in answer.get("web") or [] if isinstance(e, Mapping)]
    if not events:
        notes.append("Meta reports no web events for this pixel yet.")
    ours = _ours(services, access.profile_id, now)
    return {"operation": "quality", "request_id": call.request_id, "profile_id": access.profile_id,
            "pixel_id": pixel_id,
            "meta": {"fetched_at": iso(fetched_at), "cached": cached, "agent_name": agent, "events": events},
            "ours": ours, "notes": notes}


def _percentage(value: Any) -> float | None:
    if isinstance(value, Mapping):
        value = value.get("percentage")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _event(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One event name's figures from Meta's `web` list (fields Meta left out are null)."""
    emq = _mapping(entry.get("event_match_quality"))
    score = emq.get("composite_score")
    freshness = _mapping(entry.get("data_freshness"))
    return {
        "event_name": str(entry.get("event_name") or "?"),
        "emq": float(score) if isinstance(score, int | float) and not isinstance(score, bool) else None,
        "match_keys": [{"identifier": str(k.get("identifier")), "coverage": _percentage(k.get("coverage"))}
                       for k in emq.get("match_key_feedback") or [] if isinstance(k, Mapping)],
        "event_coverage": _percentage(entry.get("event_coverage")),
        "dedupe_keys": [{"identifier": str(k.get("dedupe_key")),
                         "coverage": _percentage(k.get("server_events_with_dedupe_key"))}
                        for k in entry.get("dedupe_key_feedback") or [] if isinstance(k, Mapping)],
        "freshness": freshness.get("upload_frequency") if isinstance(freshness.get("upload_frequency"), str)
        else None,
    }


def _ours(services: Services, profile_id: str, now: float) -> dict[str, Any]:
    """Our pre-send counts of the confirms of the last OUR_DAYS days, from their audit rows."""
    since = datetime.fromtimestamp(now - OUR_DAYS * 86400, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    totals = dict.fromkeys(LEVELS, 0)
    pushes: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(PAGES):
        rows, cursor = services.audit.list(profile_id, 100, cursor)
        for row in rows:
            if row.created_at < since:
                cursor = None
                break
            if row.operation != "confirm" or row.status not in SENT or not row.match_quality:
                continue
            for level in LEVELS:
                totals[level] += int(row.match_quality.get(level, 0))
            pushes.append({"created_at": row.created_at, "request_id": row.request_id, "status": row.status,
                           "event_count": row.event_count, "match_quality": dict(row.match_quality)})
        if cursor is None:
            break
    return {"days": OUR_DAYS, "pushes": len(pushes), "events": sum(p["event_count"] for p in pushes),
            "match_quality": totals, "recent": pushes[:LISTED_PUSHES]}
