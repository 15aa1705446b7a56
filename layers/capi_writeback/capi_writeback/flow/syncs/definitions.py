"""Sync definitions (SPEC §10): create, list, read, change and delete a profile's syncs.

Who may: reading takes mcp:read or mcp:write and any role in the workspace; changing takes mcp:write
and a writing role (owner, admin, member). A new sync starts in `dry_run`; only an owner or admin
switches it to `live`, and once live only they may change or delete it (a member's edit would
otherwise reach Meta for real without an admin reading a dry-run of it). Every change is audited
(`sync_create`, `sync_update`, `sync_delete`; the row's payload_hash is a digest of the definition
saved).

Validated on save, every problem named at once (VALIDATION_ERROR, `details` one per problem): the
mapping (`syncs.mapping.problems`), the schedule expression, the source's URIs, and whether the
source can be read: a real ListObjectsV2 on the prefix with this function's own permissions, the
same grant the runs have. The schedule is made to match the definition (EventBridge Scheduler)
before the definition is written, so a saved sync always has the schedule it says.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from typing import Any

from capi_writeback.auth import ADMIN_ROLES, READ_SCOPE, WRITE_SCOPE, WRITER_ROLES, Access, check_access
from capi_writeback.contracts.syncs import SyncCreate, SyncUpdate
from capi_writeback.exceptions import InsufficientRole, InvalidRequest
from capi_writeback.flow.selection import profile_settings
from capi_writeback.flow.syncs.services import SyncServices, default_sync_services
from capi_writeback.flow.trail import Call, Note, audited, noted_access
from capi_writeback.observability import logger
from capi_writeback.payload import canonical_json
from capi_writeback.rails.audit.log import iso_ms
from capi_writeback.syncs.exceptions import SyncChanged, SyncNotFound
from capi_writeback.syncs.persistence.base import RUN_STATE

READER_ROLES = frozenset({"owner", "admin", "member", "viewer"})
DEFINITION_FIELDS = ("name", "source", "mapping", "primary_key", "schedule", "mode", "test_event_code",
                     "enabled")
_LIVE_ONLY_ADMINS = InsufficientRole(
    "Only workspace owners and admins may switch a sync to live, or change or delete a live sync.",
    fix="Ask an owner or admin to do it after reading the sync's dry-run report.")


def new_sync_id() -> str:
    return "sync_" + secrets.token_hex(10)


def create_sync(call: Call, request: SyncCreate, services: SyncServices | None = None) -> dict[str, Any]:
    """Validate, schedule and store a new sync (in dry_run)."""
    services = services or default_sync_services()

    def body(note: Note) -> dict[str, Any]:
        access = _writer(services, call, note)
        now = iso_ms(services.clock())
        item = {"profile_id": access.profile_id, "sync_id": new_sync_id(),
                "workspace_id": access.workspace_id,
                **request.model_dump(mode="json"), "version": 1, "created_at": now, "updated_at": now,
                "created_by": call.principal.user_id, "updated_by": call.principal.user_id}
        validate(services, access, item)
        item["schedule_arn"] = services.schedules.put(item)
        try:
            services.syncs.create(item)
        except Exception:
            _forget_schedule(services, str(item["sync_id"]))
            raise
        note.payload_hash = definition_digest(item)
        logger.info("sync created", extra={"sync_id": item["sync_id"], "scheduled": bool(item["schedule"])})
        return sync_out(item, services.clock(), call.request_id)

    return audited(services.base, call, "sync_create", body)


def list_syncs(call: Call, services: SyncServices | None = None) -> dict[str, Any]:
    services = services or default_sync_services()
    access = reader_access(services, call)
    now = services.clock()
    return {"items": [sync_out(item, now) for item in services.syncs.list(access.profile_id)]}


def get_sync(call: Call, sync_id: str, services: SyncServices | None = None) -> dict[str, Any]:
    services = services or default_sync_services()
    access = reader_access(services, call)
    return sync_out(stored_sync(services, access.profile_id, sync_id), services.clock(), call.request_id)


def update_sync(call: Call, sync_id: str, request: SyncUpdate,
                services: SyncServices | None = None) -> dict[str, Any]:
    """Apply the given fields; the mode switch to live (and any change of a live sync) is for owners
    and admins only. Refused with SYNC_CHANGED if someone else saved the sync meanwhile."""
    services = services or default_sync_services()

    def body(note: Note) -> dict[str, Any]:
        access = _writer(services, call, note)
        old = stored_sync(services, access.profile_id, sync_id)
        changes = request.model_dump(mode="json", exclude_unset=True)
        if "live" in (old.get("mode"), changes.get("mode")) and access.role not in ADMIN_ROLES:
            raise _LIVE_ONLY_ADMINS
        new = {**{k: v for k, v in old.items() if k not in RUN_STATE}, **changes,
               "version": int(old["version"]) + 1, "updated_at": iso_ms(services.clock()),
               "updated_by": call.principal.user_id}
        validate(services, access, new, source=("source" in changes))
        new["schedule_arn"] = services.schedules.put(new)
        if not services.syncs.replace(new, int(old["version"])):
            _restore_schedule(services, access.profile_id, sync_id)
            raise SyncChanged()
        note.payload_hash = definition_digest(new)
        logger.info("sync updated", extra={"sync_id": sync_id, "fields": sorted(changes),
                                           "mode": new["mode"]})
        return sync_out({**new, **{k: old[k] for k in ("active_run", "active_run_until") if k in old}},
                        services.clock(), call.request_id)

    return audited(services.base, call, "sync_update", body)


def delete_sync(call: Call, sync_id: str, services: SyncServices | None = None) -> dict[str, Any]:
    """Delete the schedule, then the definition (its ledger and runs expire by their TTLs)."""
    services = services or default_sync_services()

    def body(note: Note) -> dict[str, Any]:
        access = _writer(services, call, note)
        old = stored_sync(services, access.profile_id, sync_id)
        if old.get("mode") == "live" and access.role not in ADMIN_ROLES:
            raise _LIVE_ONLY_ADMINS
        services.schedules.delete(sync_id)
        services.syncs.delete(access.profile_id, sync_id)
        note.payload_hash = definition_digest(old)
        logger.info("sync deleted", extra={"sync_id": sync_id})
        return {"sync_id": sync_id, "deleted": True, "request_id": call.request_id}

    return audited(services.base, call, "sync_delete", body)


def stored_sync(services: SyncServices, profile_id: str, sync_id: str) -> dict[str, Any]:
    item = services.syncs.get(profile_id, sync_id)
    if item is None:
        raise SyncNotFound()
    return item


def reader_access(services: SyncServices, call: Call) -> Access:
    """Reading a profile's syncs or their runs: mcp:read or mcp:write, any role."""
    return check_access(services.base.directory, call.principal, call.profile_id,
                        scopes=(READ_SCOPE, WRITE_SCOPE), roles=READER_ROLES, writeback=False,
                        connection=False)


def _writer(services: SyncServices, call: Call, note: Note) -> Access:
    return noted_access(services.base, call, note, roles=WRITER_ROLES, writeback=False, connection=False)


def validate(services: SyncServices, access: Access, definition: Mapping[str, Any], *,
             source: bool = True) -> None:
    """Every problem of a definition at once, as one InvalidRequest (VALIDATION_ERROR)."""
    from capi_writeback.syncs.mapping import problems
    from capi_writeback.syncs.schedule import schedule_problem
    from capi_writeback.syncs.source import parse_uri

    settings = profile_settings(access.profile)
    found = problems(definition["mapping"], definition["primary_key"], settings.event_mapping)
    if definition.get("schedule"):
        problem = schedule_problem(str(definition["schedule"]))
        if problem:
            found.append({"field": "schedule", "message": problem})
    if definition.get("mode") == "dry_run" and not definition.get("test_event_code") \
            and not access.connection.get("test_event_code"):
        found.append({"field": "test_event_code",
                      "message": "a dry_run sync sends with a test_event_code: give one (Events Manager > "
                                 "Test events) or set a default on the profile's connection"})
    spec = definition["source"]
    athena = spec["type"] == "athena"
    workgroup = os.environ.get("SYNC_ATHENA_WORKGROUP")
    if athena and workgroup and spec.get("workgroup") != workgroup:
        found.append({"field": "source.workgroup",
                      "message": f"sync queries run in the workgroup {workgroup} (the stack's "
                                 "SyncAthenaWorkGroup): name it, or redeploy with yours"})
    location_field, uri = ("source.output", spec["output"]) if athena else ("source.uri", spec["uri"])
    try:
        parse_uri(uri)
    except ValueError as exc:
        found.append({"field": location_field, "message": str(exc)})
    else:
        if source:
            problem = services.source.readable_problem(uri)
            if problem:
                found.append({"field": location_field, "message": problem})
    if found:
        raise InvalidRequest("The sync definition has problems; nothing was saved.",
                             fix="Correct each field named in details and save again.", details=found)


def definition_digest(item: Mapping[str, Any]) -> str:
    """sha256 of the definition's fields (what an audit row of a change pins)."""
    payload = canonical_json({k: item.get(k) for k in DEFINITION_FIELDS})
    return "sha256:" + hashlib.sha256(payload).hexdigest()


def sync_out(item: Mapping[str, Any], now: float, request_id: str | None = None) -> dict[str, Any]:
    """A stored definition as the API shows it (`running_run` while a run holds it, `last_run` the
    latest finished run's summary or None)."""
    running = item.get("active_run") if float(item.get("active_run_until") or 0) > now else None
    out = {k: item.get(k) for k in ("sync_id", "profile_id", *DEFINITION_FIELDS, "schedule_arn", "version",
                                    "created_at", "updated_at", "created_by", "updated_by", "last_run")}
    return {**out, "running_run": running, "request_id": request_id}


def _forget_schedule(services: SyncServices, sync_id: str) -> None:
    try:
        services.schedules.delete(sync_id)
    except Exception:  # the refusal that got us here matters more
        logger.exception("could not delete the schedule of a sync that was not saved")


def _restore_schedule(services: SyncServices, profile_id: str, sync_id: str) -> None:
    """Someone else saved the sync first: make the schedule match what is stored again."""
    current = services.syncs.get(profile_id, sync_id)
    try:
        if current is None:
            services.schedules.delete(sync_id)
        else:
            services.schedules.put(current)
    except Exception:
        logger.exception("could not restore the schedule of a sync changed concurrently")
