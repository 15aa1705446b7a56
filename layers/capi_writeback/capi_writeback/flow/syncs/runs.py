"""Runs of a sync over the API (SPEC §10): start one, list them, read one's report and its rows.

Starting a run answers 202 with the run id while the sync state machine does the work. A second
start while a run of the sync is going is refused with SYNC_RUN_IN_PROGRESS (409; details name the
running run), not queued: the schedule brings the next run anyway, and a queue would hide that the
previous one is slow. The one running run is a conditional write on the definition (`lock_run`);
Finish clears it. The run's audit row (`sync_run`) is written when it finishes; a refused start
writes its own (`sync_run`, refused).

Starting takes mcp:write, a writing role, write-back enabled and an active Meta connection (the
prerequisites of sending); reading takes mcp:read or mcp:write and any role.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Mapping
from typing import Any

from capi_writeback.auth import WRITE_SCOPE, WRITER_ROLES, check_access
from capi_writeback.exceptions import CapiWritebackError, InvalidRequest
from capi_writeback.flow.syncs.definitions import reader_access, stored_sync
from capi_writeback.flow.syncs.services import SyncServices, default_sync_services
from capi_writeback.flow.trail import Call, record_refusal
from capi_writeback.observability import logger
from capi_writeback.rails.audit.log import iso_ms
from capi_writeback.syncs.exceptions import RunInProgress, RunNotFound, SyncDisabled, SyncNotFound
from capi_writeback.syncs.persistence.base import RUN_TTL_SECONDS

RUN_LOCK_SECONDS = 12 * 3600  # the sync state machine's own timeout: a run never holds the lock longer
MAX_RUNS_PAGE = 50
MAX_ROW_PAGES = 5  # outcome pages (of up to 1,000 rows) per GET .../rows


def new_run_id(now: float) -> str:
    """`run_<UTC time>_<8 hex>`: sorts by start time (the runs list is newest first)."""
    stamp = dt.datetime.fromtimestamp(now, tz=dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"run_{stamp}_{secrets.token_hex(4)}"


def run_id_of(run_id: str | None, execution: str, started: str) -> str:
    """The run id of an execution: the one the API gave it, else derived from the execution (the same
    on every retry of a task): its start time and a digest of its name."""
    if run_id:
        return run_id
    moment = dt.datetime.fromisoformat(started.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    stamp = moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"run_{stamp}_{hashlib.sha256(execution.encode()).hexdigest()[:8]}"


def run_record(sync: Mapping[str, Any], run_id: str, trigger: str, actor: str, now: float) -> dict[str, Any]:
    """A new run: the definition it runs is a snapshot, so every item of the run reads the same."""
    return {"sync_id": sync["sync_id"], "run_id": run_id, "profile_id": sync["profile_id"],
            "workspace_id": sync.get("workspace_id"), "status": "running", "mode": sync["mode"],
            "trigger": trigger, "actor": actor, "started_at": iso_ms(now), "items": 0,
            "test_event_code": sync.get("test_event_code"),
            "definition": {k: sync[k] for k in ("source", "mapping", "primary_key")},
            "ttl": int(now) + RUN_TTL_SECONDS}


def start_run(call: Call, sync_id: str, services: SyncServices | None = None) -> dict[str, Any]:
    """Start a run of the sync now (202 + run id); refusals are audited as a refused `sync_run`."""
    services = services or default_sync_services()
    try:
        return _start(services, call, sync_id)
    except CapiWritebackError as exc:
        record_refusal(services.base, call, "sync_run", exc)
        raise


def _start(services: SyncServices, call: Call, sync_id: str) -> dict[str, Any]:
    access = check_access(services.base.directory, call.principal, call.profile_id, scopes=(WRITE_SCOPE,),
                          roles=WRITER_ROLES, writeback=True, connection=True)
    sync = stored_sync(services, access.profile_id, sync_id)
    if not sync.get("enabled", True):
        raise SyncDisabled()
    now = services.clock()
    run_id = new_run_id(now)
    holder = services.syncs.lock_run(access.profile_id, sync_id, run_id, now + RUN_LOCK_SECONDS, now)
    if holder == "":
        raise SyncNotFound()  # deleted meanwhile
    if holder is not None:
        raise RunInProgress(details={"run_id": holder})
    record = run_record(sync, run_id, "api", call.principal.user_id, now)
    services.runs.create_run(record)
    run_input = {"sync_id": sync_id, "profile_id": access.profile_id, "run_id": run_id, "trigger": "api",
                 "actor": call.principal.user_id}
    try:
        services.starter.start(run_id, run_input)
    except Exception:
        services.runs.update_run(sync_id, run_id, {
            "status": "failed", "finished_at": iso_ms(services.clock()),
            "error": {"type": "INTERNAL", "message": "the run could not be started"}})
        services.syncs.unlock_run(access.profile_id, sync_id, run_id)
        raise
    logger.info("sync run started", extra={"sync_id": sync_id, "run_id": run_id, "mode": sync["mode"]})
    return {"run_id": run_id, "sync_id": sync_id, "status": "running", "mode": sync["mode"],
            "started_at": record["started_at"], "request_id": call.request_id}


def list_runs(call: Call, sync_id: str, limit: int, cursor: str | None,
              services: SyncServices | None = None) -> dict[str, Any]:
    """The sync's runs, newest first (those kept: RUN_TTL_SECONDS), `next` for the next page."""
    services = services or default_sync_services()
    access = reader_access(services, call)
    stored_sync(services, access.profile_id, sync_id)
    before = _decode(cursor, sync_id, "run") if cursor else None
    if before is not None and not isinstance(before, str):
        raise _bad_cursor()
    runs = services.runs.list_runs(sync_id, limit + 1, before)
    page = runs[:limit]
    more = len(runs) > limit
    return {"items": [report_of(services, r) for r in page],
            "next": _encode(sync_id, "run", page[-1]["run_id"]) if more and page else None}


def get_run(call: Call, sync_id: str, run_id: str, services: SyncServices | None = None) -> dict[str, Any]:
    """One run's report; while it runs, the counts of the items finished so far."""
    services = services or default_sync_services()
    access = reader_access(services, call)
    stored_sync(services, access.profile_id, sync_id)
    return report_of(services, _run(services, sync_id, run_id), live=True)


def run_rows(call: Call, sync_id: str, run_id: str, cursor: str | None, outcome: str | None,
             services: SyncServices | None = None) -> dict[str, Any]:
    """Per-row outcomes of a run (no raw PII: row numbers, conversion ids, reasons, Meta's messages),
    a few pages at a time; `outcome` keeps one kind (sent, skipped, rejected, failed)."""
    from capi_writeback.syncs.outcomes import as_dict

    services = services or default_sync_services()
    access = reader_access(services, call)
    stored_sync(services, access.profile_id, sync_id)
    _run(services, sync_id, run_id)
    after = _decode(cursor, f"{sync_id}/{run_id}", "rows") if cursor else None
    if after is not None and not (isinstance(after, list) and len(after) == 2
                                  and all(isinstance(n, int) for n in after)):
        raise _bad_cursor()
    pages = services.runs.outcome_pages(sync_id, run_id, (after[0], after[1]) if after else None,
                                        MAX_ROW_PAGES + 1)
    objects = {int(p["item"]): str(p.get("key")) for p in services.runs.list_parts(sync_id, run_id)}
    items = []
    for item, _page, rows in pages[:MAX_ROW_PAGES]:
        for row in rows:
            entry = as_dict(item, row)
            if outcome is None or entry["outcome"] == outcome:
                items.append({**entry, "object": objects.get(item)})
    last = pages[MAX_ROW_PAGES - 1] if len(pages) > MAX_ROW_PAGES else None
    cursor_out = _encode(f"{sync_id}/{run_id}", "rows", [last[0], last[1]]) if last else None
    return {"items": items, "next": cursor_out}


def report_of(services: SyncServices, record: Mapping[str, Any], *, live: bool = False) -> dict[str, Any]:
    """The run report of a stored run (the aggregate of its items so far, if it is still running)."""
    from capi_writeback.syncs.report import aggregate, empty_counts

    report = {**empty_counts(), **(record.get("report") or {})}
    if record.get("status") == "running" and live:
        report.update(aggregate(int(record.get("items") or 0),
                                services.runs.list_parts(str(record["sync_id"]), str(record["run_id"]))))
    keep = ("run_id", "sync_id", "mode", "trigger", "started_at", "finished_at", "error", "paused_reason")
    out = {**report, **{k: record.get(k) for k in keep}, "status": record.get("status")}
    out["test_event_code"] = record.get("test_event_code") if record.get("mode") == "dry_run" else None
    out.pop("fbtrace_ids", None)
    out.pop("failed_batches", None)
    return out


def _run(services: SyncServices, sync_id: str, run_id: str) -> dict[str, Any]:
    record = services.runs.get_run(sync_id, run_id)
    if record is None:
        raise RunNotFound()
    return record


def _encode(scope: str, kind: str, position: Any) -> str:
    raw = json.dumps({"s": scope, "k": kind, "p": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, scope: str, kind: str) -> Any:
    try:
        data = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise _bad_cursor() from None
    if not isinstance(data, dict) or data.get("s") != scope or data.get("k") != kind:
        raise _bad_cursor()
    return data.get("p")


def _bad_cursor() -> InvalidRequest:
    return InvalidRequest("The pagination cursor is not valid.",
                          fix="Pass the `next` value of the previous page unchanged, or omit it.",
                          details=[{"field": "next", "message": "invalid cursor"}])
