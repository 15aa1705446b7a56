"""The first task of a run (statemachines/sync.asl.json): register the run, check it may go, and
list its work.

- The run takes the sync's lock (one running run per sync; a scheduled start that finds one running
  is `busy` and ends quietly) and gets its record, a snapshot of the definition.
- It is `refused` (prerequisites of the actor: the run API's caller, or for a scheduled run the last
  user who saved the sync; the sync disabled; a dry run without a test code) or `paused` (a live
  run while the profile's circuit breaker is open): Finish then writes its report and audit row.
- Else the source is listed (an Athena source first runs its query: outcome `athena`, then this task
  again with action `list` on the query's result) and split into work items (`syncs.source`),
  written as a JSON manifest to the work bucket for the Distributed Map's ItemReader.

The answer always has the same keys (outcome, run, manifest, athena, items): the state machine's
ResultSelector reads them all.
"""

from __future__ import annotations

import json
from typing import Any

from capi_writeback.auth import WRITER_ROLES, Principal, check_access
from capi_writeback.contracts.syncs import PlanTask
from capi_writeback.errors import to_api_error
from capi_writeback.exceptions import CapiWritebackError, TestEventCodeRequired
from capi_writeback.flow.syncs.runs import RUN_LOCK_SECONDS, run_id_of, run_record
from capi_writeback.flow.syncs.services import SyncServices, default_sync_services
from capi_writeback.observability import logger
from capi_writeback.rails.audit.log import iso_ms
from capi_writeback.rails.breaker.exceptions import CircuitOpen
from capi_writeback.syncs.exceptions import SyncDisabled


def plan(task: PlanTask, services: SyncServices | None = None) -> dict[str, Any]:
    services = services or default_sync_services()
    run_id = run_id_of(task.run_id, task.execution, task.started)
    run = {"run_id": run_id, "sync_id": task.sync_id, "profile_id": task.profile_id}
    if task.action == "list":
        record = services.runs.get_run(task.sync_id, run_id)
        if record is None or record.get("status") != "running" or not task.athena_output:
            return _answer("finish", run)
        return _list(services, run, task.athena_output, "csv")
    now = services.clock()
    sync = services.syncs.get(task.profile_id, task.sync_id)
    if sync is None:
        logger.warning("sync run for a sync that no longer exists", extra={"sync_id": task.sync_id})
        return _answer("gone", run)
    holder = services.syncs.lock_run(task.profile_id, task.sync_id, run_id, now + RUN_LOCK_SECONDS, now)
    if holder is not None:
        logger.info("sync run skipped: another run is going",
                    extra={"sync_id": task.sync_id, "running": holder})
        return _answer("busy", run)
    actor = task.actor or str(sync.get("updated_by") or "")
    record = run_record(sync, run_id, task.trigger, actor, now)
    if not services.runs.create_run(record):  # started by the API, or this task is a retry
        record = services.runs.get_run(task.sync_id, run_id) or record
        if record.get("status") != "running":
            return _answer("finish", run)
    try:
        code = _checks(services, sync, record, actor)
    except CircuitOpen as exc:
        services.runs.update_run(task.sync_id, run_id, {
            "status": "paused", "paused_reason": f"the profile's circuit breaker is open (retry after "
                                                 f"{exc.retry_after} s): live runs wait until it closes",
            "error": {"type": "CIRCUIT_OPEN", "message": to_api_error(exc).message}}, only_status="running")
        return _answer("finish", run)
    except CapiWritebackError as exc:
        error = to_api_error(exc)
        services.runs.update_run(task.sync_id, run_id, {
            "status": "refused", "error": {"type": error.type, "message": error.message, "fix": error.fix}},
            only_status="running")
        return _answer("finish", run)
    services.runs.update_run(task.sync_id, run_id, {"test_event_code": code})
    source = record["definition"]["source"]
    if source["type"] == "athena":
        athena = {"query": source["query"], "workgroup": source.get("workgroup") or "primary",
                  "output": source["output"]}
        return _answer("athena", run, athena=athena)
    return _list(services, run, str(source["uri"]), str(source["format"]))


def _checks(services: SyncServices, sync: dict[str, Any], record: dict[str, Any], actor: str) -> str | None:
    """The prerequisites of sending, for the run's actor; the test code of a dry run."""
    access = check_access(services.base.directory, Principal.actor(actor or "-"), str(sync["profile_id"]),
                          roles=WRITER_ROLES, writeback=True, connection=True)
    if not sync.get("enabled", True):
        raise SyncDisabled()
    if record["mode"] == "dry_run":
        code = record.get("test_event_code") or access.connection.get("test_event_code")
        if not code:
            raise TestEventCodeRequired("A dry-run sync needs a test_event_code and the connection has no "
                                        "default.", fix="Set the sync's test_event_code, or a default on the "
                                        "profile's connection.")
        return str(code)
    services.base.breaker.check(str(sync["profile_id"]))
    return None


def _list(services: SyncServices, run: dict[str, Any], uri: str, fmt: str) -> dict[str, Any]:
    from capi_writeback.syncs.source import work_items

    sync_id, run_id = run["sync_id"], run["run_id"]
    try:
        items = work_items(services.source.objects(uri), fmt, services.part_bytes,
                           compressed=services.source.starts_with_gzip)
    except Exception as exc:
        from capi_writeback.syncs.aws import error_code

        code = error_code(exc)
        if code is None and not isinstance(exc, ValueError):
            raise
        message = str(exc) if isinstance(exc, ValueError) else f"cannot list {uri} ({code})"
        services.runs.update_run(sync_id, run_id, {"status": "failed", "error": {
            "type": "SOURCE_UNREADABLE", "message": message,
            "fix": "Check the sync's source (docs/syncs.md: where exports go) and run it again."}},
            only_status="running")
        return _answer("finish", run)
    if not items:
        services.runs.update_run(sync_id, run_id, {"items": 0,
                                                   "plan_warnings": [f"no export files under {uri}"]})
        return _answer("finish", run)
    key = f"manifests/{sync_id}/{run_id}.json"
    services.source.put_json(services.work_bucket, key, json.dumps(items, separators=(",", ":")).encode())
    services.runs.update_run(sync_id, run_id, {"items": len(items), "planned_at": iso_ms(services.clock())})
    logger.info("sync run planned", extra={"sync_id": sync_id, "run_id": run_id, "items": len(items)})
    return _answer("ready", run, manifest={"bucket": services.work_bucket, "key": key}, items=len(items))


def _answer(outcome: str, run: dict[str, Any], *, manifest: dict[str, str] | None = None,
            athena: dict[str, str] | None = None, items: int = 0) -> dict[str, Any]:
    return {"outcome": outcome, "run": run, "manifest": manifest, "athena": athena, "items": items}
