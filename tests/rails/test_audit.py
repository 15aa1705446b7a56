"""The audit log (SPEC §6): every field, append-only (no update/delete call ever reaches the audit
table), newest first with an opaque cursor."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from capi_writeback.rails.audit.exceptions import AuditConflict, InvalidCursor
from capi_writeback.rails.audit.log import AuditLog, AuditRow, iso_ms
from capi_writeback.rails.audit.persistence.dynamodb import DynamoAuditStore
from capi_writeback.rails.clock import ManualClock

SPEC_FIELDS = {"audit_id", "profile_id", "workspace_id", "actor", "operation", "request_id",
               "payload_hash", "event_count", "window", "idempotency_key", "pixel_id", "fbtrace_ids",
               "status", "error", "created_at"}
WRITE_OPERATIONS = ("UpdateItem", "DeleteItem", "BatchWriteItem", "ExecuteStatement",
                    "BatchExecuteStatement", "ExecuteTransaction", "TransactWriteItems")


def make_row(clock: ManualClock, profile_id: str = "p1", **overrides: Any) -> AuditRow:
    values: dict[str, Any] = dict(
        profile_id=profile_id, workspace_id="ws1", actor="user-1", operation="confirm",
        request_id="req-1", payload_hash="sha256:" + "a" * 64, event_count=1500,
        window={"start": "2026-01-01T00:00:00.000Z", "end": "2026-01-08T00:00:00.000Z"},
        idempotency_key="key-1", pixel_id="1234567890", fbtrace_ids=["AbC1", "dEf2"],
        status="partially_failed",
        error={"type": "META_REJECTED", "message": "Meta refused", "code": 100, "subcode": 2804003},
    )
    values.update(overrides)
    return AuditRow.new(clock=clock, **values)


def test_row_has_every_spec_field(clock: ManualClock) -> None:
    # via: SPEC §9; match_quality and change: §11 (quality after the send, administration)
    assert {f.name for f in dataclasses.fields(AuditRow)} == SPEC_FIELDS | {"via", "match_quality", "change"}
    row = make_row(clock)
    assert row.created_at == iso_ms(clock())
    assert row.sk == f"{row.created_at}#{row.audit_id}"
    json.dumps(row.to_dict())  # the API returns it as is


def test_iso_ms_is_utc_with_milliseconds() -> None:
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"
    assert iso_ms(1_780_000_000.1234) == "2026-05-28T20:26:40.123Z"
    assert iso_ms(59.9996) == "1970-01-01T00:01:00.000Z"


def test_row_refuses_bad_timestamps_and_ids(clock: ManualClock) -> None:
    with pytest.raises(ValueError):
        make_row(clock, created_at="2026-01-01 00:00:00")
    with pytest.raises(ValueError):
        make_row(clock, audit_id="a#b")


def test_append_and_read_back_every_field(audit_store: Any, clock: ManualClock) -> None:
    log = AuditLog(audit_store)
    row = make_row(clock)
    log.append(row)
    refused = make_row(clock, audit_id="r2", operation="dry_run", status="refused", payload_hash=None,
                       window=None, idempotency_key=None, pixel_id=None, fbtrace_ids=[], event_count=0,
                       error={"type": "WRITEBACK_DISABLED", "message": "off"})
    log.append(refused)
    rows, cursor = log.list("p1", 10)
    assert cursor is None
    assert {r.audit_id for r in rows} == {row.audit_id, "r2"}
    assert next(r for r in rows if r.audit_id == row.audit_id) == row
    assert next(r for r in rows if r.audit_id == "r2") == refused


def test_rows_are_never_overwritten(audit_store: Any, clock: ManualClock) -> None:
    log = AuditLog(audit_store)
    row = make_row(clock)
    log.append(row)
    with pytest.raises(AuditConflict):
        log.append(dataclasses.replace(row, status="succeeded", error=None))
    assert log.list("p1")[0] == [row]


def test_newest_first_across_pages(audit_store: Any, clock: ManualClock) -> None:
    log = AuditLog(audit_store)
    written = []
    for i in range(7):
        row = make_row(clock, request_id=f"req-{i}")
        log.append(row)
        written.append(row)
        clock.advance(0.001 if i % 2 else 61)
    log.append(make_row(clock, profile_id="other"))

    seen: list[AuditRow] = []
    cursor: str | None = None
    pages = 0
    while True:
        rows, cursor = log.list("p1", 3, cursor)
        pages += 1
        seen.extend(rows)
        if cursor is None:
            break
        assert cursor.isascii() and "p1" not in cursor  # opaque
    assert pages == 3
    assert [r.request_id for r in seen] == [f"req-{i}" for i in reversed(range(7))]
    assert seen == list(reversed(written))


def test_a_full_last_page_has_no_next(audit_store: Any, clock: ManualClock) -> None:
    log = AuditLog(audit_store)
    for _ in range(4):
        log.append(make_row(clock))
        clock.advance(1)
    first, cursor = log.list("p1", 2)
    second, cursor2 = log.list("p1", 2, cursor)
    assert len(first) == len(second) == 2 and cursor2 is None
    assert log.list("empty", 5) == ([], None)


@pytest.mark.parametrize("limit", [0, 101, -1, True, 2.5])
def test_limit_must_be_1_to_100(audit_store: Any, limit: Any) -> None:
    with pytest.raises(ValueError):
        AuditLog(audit_store).list("p1", limit)


def test_cursor_must_come_from_this_profile(audit_store: Any, clock: ManualClock) -> None:
    log = AuditLog(audit_store)
    for _ in range(3):
        log.append(make_row(clock))
        clock.advance(1)
    _, cursor = log.list("p1", 1)
    assert cursor is not None
    for bad in ("not base64 !!", "e30", cursor[:-3] + "xyz"):
        with pytest.raises(InvalidCursor):
            log.list("p1", 1, bad)
    with pytest.raises(InvalidCursor):
        log.list("p2", 1, cursor)


def test_no_update_or_delete_ever_reaches_the_audit_table(aws: dict[str, str], calls: Any,
                                                          clock: ManualClock) -> None:
    log = AuditLog(DynamoAuditStore())
    for i in range(5):
        log.append(make_row(clock, request_id=f"req-{i}"))
        clock.advance(1)
    row = make_row(clock)
    log.append(row)
    with pytest.raises(AuditConflict):
        log.append(row)
    cursor = None
    while True:
        _, cursor = log.list("p1", 2, cursor)
        if cursor is None:
            break

    table = aws["AUDIT_TABLE"]
    operations = calls.for_table(table)
    assert operations.count("PutItem") == 7 and operations.count("Query") >= 3
    assert not [op for op in operations if op in WRITE_OPERATIONS]
    for op, t, body in calls.calls:
        if op == "PutItem" and t == table:
            assert body["ConditionExpression"].startswith("attribute_not_exists(")
    assert not [name for name in dir(AuditLog) if any(w in name for w in ("update", "delete", "remove"))]


def test_via_says_how_the_operation_came_in(audit_store: Any, clock: ManualClock) -> None:
    log = AuditLog(audit_store)
    assert make_row(clock).via == "api"
    log.append(make_row(clock, request_id="by-mcp", via="mcp"))
    [row] = log.list("p1")[0]
    assert (row.request_id, row.via) == ("by-mcp", "mcp")


def test_rows_written_before_via_existed_read_back_as_api(audit_store: Any, clock: ManualClock) -> None:
    old = make_row(clock).to_item()
    del old["via"]
    audit_store.put_new(old)
    [row] = AuditLog(audit_store).list("p1")[0]
    assert row.via == "api" and row.audit_id == old["audit_id"]
