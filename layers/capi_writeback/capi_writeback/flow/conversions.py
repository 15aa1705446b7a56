"""Storing conversion rows: normalized and hashed by `rows.prepare_for_storage` before they are
written, so no raw PII is at rest.

Who may: scope mcp:write, any writing role (owner, admin, member). Write-back need not be enabled
(storing is not sending) and no Meta connection is needed. Not audited: nothing is sent.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from capi_writeback.auth import WRITER_ROLES, check_access
from capi_writeback.contracts.writeback import StoreConversionsRequest
from capi_writeback.flow.selection import profile_settings
from capi_writeback.flow.services import Services, default_services
from capi_writeback.flow.trail import Call
from capi_writeback.observability import logger

MAX_CONVERSION_ID_BYTES = 1024  # DynamoDB's limit for a sort key
MAX_ROW_BYTES = 350_000  # a DynamoDB item holds 400 KB; leave room for the other attributes


def store_conversions(call: Call, request: StoreConversionsRequest,
                      services: Services | None = None) -> dict[str, Any]:
    """Upsert rows by conversion_id; rows that can never become an event are rejected one by one."""
    from capi_writeback.rows import prepare_for_storage

    services = services or default_services()
    access = check_access(services.directory, call.principal, call.profile_id, roles=WRITER_ROLES,
                          writeback=False, connection=False)
    settings = profile_settings(access.profile)
    now = services.clock()
    by_id: dict[str, Any] = {}
    rejected: list[dict[str, Any]] = []
    for index, raw in enumerate(request.rows):
        prepared = prepare_for_storage(raw, settings, now)
        reason = getattr(prepared, "reason", None)
        if reason is not None and not isinstance(prepared, dict):
            cid = raw.get("conversion_id")
            rejected.append({"index": index, "conversion_id": str(cid) if cid is not None else None,
                             "reason": str(getattr(reason, "value", reason)),
                             "detail": getattr(prepared, "detail", None)})
            continue
        stored = prepared if isinstance(prepared, dict) else _as_dict(prepared)
        too_big = _too_big_to_store(stored)
        if too_big:
            rejected.append({"index": index, "conversion_id": str(stored["conversion_id"]),
                             "reason": "INVALID_ROW", "detail": too_big})
            continue
        by_id[str(stored["conversion_id"])] = stored  # the last row of a conversion_id wins
    if by_id:
        services.conversions.put_rows(access.profile_id, list(by_id.values()))
    logger.info("conversions stored", extra={"stored": len(by_id), "rejected": len(rejected)})
    return {"stored": len(by_id), "rejected": rejected}


def _too_big_to_store(stored: dict[str, Any]) -> str | None:
    """Why DynamoDB could not hold this row (it would fail the whole batch write), or None."""
    if len(str(stored["conversion_id"]).encode("utf-8")) > MAX_CONVERSION_ID_BYTES:
        return f"conversion_id is longer than {MAX_CONVERSION_ID_BYTES} bytes (UTF-8)"
    size = len(json.dumps(stored, separators=(",", ":"), default=str).encode("utf-8"))
    if size > MAX_ROW_BYTES:
        return f"the row is larger than {MAX_ROW_BYTES} bytes once stored"
    return None


def _as_dict(value: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return dict(value)
