"""The last task of a run: the report, the audit row, the breaker, the metric, the lock (and the
definition's `last_run`).

Whichever way the execution got here (items done, nothing to list, refused or paused at Plan, an
Athena query that failed, a Map that failed), Finish aggregates the items' records into the SPEC
§10 report and closes the run (status no longer `running`: a conditional write, so a retried Finish
changes nothing). Then, exactly once per run:
- one audit row (`sync_run`; its id is derived from the run id and its time is the run's end, so a
  retried Finish finds it written instead of adding another), with the run id as request_id, the
  actor, via step_functions, events sent as event_count, Meta's trace ids;
- a live run in which Meta failed batches feeds the profile's circuit breaker (events Meta refused
  one by one do not: a bad row must not pause every send of the profile); a live run that succeeded
  in sending closes it, as a successful confirm does;
- SyncRunsFailed (alarmed) when the run failed, was refused, or lost items or batches (a run whose
  only trouble is rows Meta refused is `partially_failed` without it: see its report).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from capi_writeback import observability as obs
from capi_writeback.contracts.syncs import FinishTask
from capi_writeback.flow.syncs.runs import report_of, run_id_of
from capi_writeback.flow.syncs.services import SyncServices, default_sync_services
from capi_writeback.rails.audit.log import iso_ms


def finish(task: FinishTask, services: SyncServices | None = None) -> dict[str, Any]:
    services = services or default_sync_services()
    planned = ((task.plan or {}).get("run") or {}).get("run_id")
    run_id = run_id_of(task.run_id or planned, task.execution, task.started)
    record = services.runs.get_run(task.sync_id, run_id)
    if record is None:  # skipped (busy, sync gone) or Plan failed before the run existed
        services.syncs.unlock_run(task.profile_id, task.sync_id, run_id)
        return {"run_id": run_id, "sync_id": task.sync_id, "status": "not_run"}
    if record.get("status") == "running":
        record = _close(services, task, record)
    if not record.get("audited"):
        _once(services, record)
        services.runs.update_run(task.sync_id, run_id, {"audited": True})
    services.syncs.record_last_run(task.profile_id, task.sync_id, last_run_of(record))
    services.syncs.unlock_run(task.profile_id, task.sync_id, run_id)
    report = report_of(services, record)
    return {k: report[k] for k in ("run_id", "sync_id", "status", "mode", "rows_read", "rows_new",
                                   "events_sent", "events_received", "rejected", "failed")}


def last_run_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """The summary a definition keeps of its latest finished run (the sync list and the dashboard)."""
    report = record.get("report") or {}
    return {"run_id": record["run_id"], "status": record.get("status"), "mode": record.get("mode"),
            "started_at": record.get("started_at"), "finished_at": record.get("finished_at"),
            "events_sent": int(report.get("events_sent") or 0)}


def _close(services: SyncServices, task: FinishTask, record: dict[str, Any]) -> dict[str, Any]:
    from capi_writeback.syncs.report import aggregate

    sync_id, run_id = str(record["sync_id"]), str(record["run_id"])
    totals = aggregate(int(record.get("items") or 0), services.runs.list_parts(sync_id, run_id))
    totals["warnings"] = [*(record.get("plan_warnings") or []), *totals["warnings"]]
    status = str(totals.pop("status"))
    error = _workflow_error(task)
    if error is not None:
        status = "failed" if totals["events_received"] == 0 else "partially_failed"
    changes: dict[str, Any] = {"status": status, "report": totals, "finished_at": iso_ms(services.clock())}
    if error is not None:
        changes["error"] = error
    if status == "paused":
        changes["paused_reason"] = ("the profile's circuit breaker opened during the run: live items wait "
                                    "for it to close; the next run sends their rows")
    if not services.runs.update_run(sync_id, run_id, changes, only_status="running"):
        return services.runs.get_run(sync_id, run_id) or {**record, **changes}  # a retry closed it first
    return {**record, **changes}


def _workflow_error(task: FinishTask) -> dict[str, Any] | None:
    """What stopped the execution before its items ran: an Athena query, a failing state."""
    state = task.query_state or {}
    if state.get("state") in ("FAILED", "CANCELLED"):
        status = state.get("status")
        reason = status.get("StateChangeReason") if isinstance(status, Mapping) else None
        return {"type": "ATHENA_QUERY_FAILED",
                "message": f"the Athena query {str(state['state']).lower()}: "
                           f"{reason or 'see the query in the Athena console'}"}
    if task.error:
        return {"type": "WORKFLOW_ERROR",
                "message": f"the run stopped at {task.error.get('Error') or 'a step'}; its items that "
                           "finished are counted, the rest are sent by the next run"}
    return None


def _once(services: SyncServices, record: Mapping[str, Any]) -> None:
    """The audit row, then (only if this call wrote it) the breaker and the metric."""
    from capi_writeback.rails.audit.exceptions import AuditConflict
    from capi_writeback.rails.audit.log import AuditRow

    base = services.base
    report = record.get("report") or {}
    status = str(record.get("status"))
    profile = base.directory.get_profile(str(record["profile_id"])) or {}
    connection = profile.get("connection") if isinstance(profile.get("connection"), Mapping) else {}
    error = record.get("error")
    row = AuditRow.new(
        audit_id="run" + hashlib.sha256(str(record["run_id"]).encode()).hexdigest()[:29],
        created_at=str(record.get("finished_at") or iso_ms(services.clock())),
        profile_id=str(record["profile_id"]),
        workspace_id=str(profile.get("workspace_id") or record.get("workspace_id") or ""),
        actor=str(record.get("actor") or "-"), operation="sync_run", request_id=str(record["run_id"]),
        event_count=int(report.get("events_sent") or 0),
        pixel_id=str((connection or {}).get("pixel_id") or "") or None,
        fbtrace_ids=[str(t) for t in report.get("fbtrace_ids") or []], status=status,
        error={k: error[k] for k in ("type", "message") if k in error}
        if isinstance(error, Mapping) else None,
        via="step_functions")
    try:
        base.audit.append(row)
    except AuditConflict:
        return  # a retried Finish: the first one did all of this
    live = record.get("mode") == "live"
    items = report.get("items") or {}
    if live and int(report.get("failed_batches") or 0) > 0:
        if base.breaker.record_failure(str(record["profile_id"])):
            obs.count(obs.BREAKER_OPENED)
            obs.logger.warning("circuit breaker opened by a sync run", extra={"run_id": record["run_id"]})
    elif live and status == "succeeded" and int(report.get("events_received") or 0) > 0:
        base.breaker.record_success(str(record["profile_id"]))
    lost = int(items.get("failed") or 0) + int(items.get("cut_short") or 0) + int(report.get("failed") or 0)
    if status in ("failed", "refused") or lost:
        obs.count(obs.SYNC_RUNS_FAILED)
    obs.logger.info("sync run finished", extra={"sync_id": record["sync_id"], "run_id": record["run_id"],
                                                "status": status, "mode": record.get("mode"),
                                                "events_sent": report.get("events_sent", 0)})
