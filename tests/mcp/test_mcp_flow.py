"""send_meta_conversions through the official client: preview → dry-run → confirm → replay, with the
Meta emulator's ledger as the witness of what was (not) sent, in both protocol generations."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from capi_writeback_local.local_api import LocalApi
from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS
from mcp_support import MODERN, MODES, PIXEL_ID, Mcp, conversion_rows, http_json, refusal_of, text_of

pytestmark = pytest.mark.timeout(240)


def _seed_profile(api: LocalApi, name: str) -> tuple[str, str]:
    """A workspace and profile of their own (owner token), with stored conversions."""
    seed = api.stack.seed_demo(pixel_id=PIXEL_ID, meta_token=api.meta_token, workspace_id=f"ws_{name}",
                               user_id=f"owner_{name}", profile_id=f"prof_{name}")
    status, stored = http_json("POST", f"{api.url}/v1/profiles/{seed.profile_id}/conversions", seed.api_token,
                               {"rows": conversion_rows(name, 5)})
    assert status == 200 and stored == {"stored": 6, "rejected": []}, stored
    return seed.profile_id, seed.api_token


def _without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    """A response minus what differs from call to call (request id; `last_days` ends at now)."""
    return {k: v for k, v in body.items() if k not in ("request_id", "window")}


@pytest.mark.parametrize("mode", MODES)
def test_preview_dry_run_confirm_replay(api: LocalApi, mode: str) -> None:
    profile_id, token = _seed_profile(api, f"flow_{mode}")
    mcp = Mcp(api.url + "/v1/mcp", token, mode)
    emulator = api.emulator
    selection = {"profile_id": profile_id, "outcome_types": ["payment_received"], "last_days": 7}
    requests_before = len(emulator.ledger())

    # 1. preview: the HTTP API's JSON, a readable summary, and nothing sent to Meta
    preview = mcp.call("send_meta_conversions", {"mode": "preview", **selection})
    if mode == "auto":  # the current protocol: no handshake, one POST per call
        assert mcp.protocol_version == MODERN
    else:  # an older client: initialize handshake first
        assert mcp.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS
    assert preview.is_error is False, text_of(preview)
    body = preview.structured_content
    assert body is not None and body["operation"] == "preview"
    assert body["event_count"] == 5 and body["events_by_name"] == {"Purchase": 5}
    assert [s["reason"] for s in body["skipped"]] == ["PURCHASE_MISSING_VALUE"]
    status, over_http = http_json("POST", f"{api.url}/v1/profiles/{profile_id}/writeback/preview", token,
                                  {k: v for k, v in selection.items() if k != "profile_id"})
    assert status == 200 and _without_request_id(over_http) == _without_request_id(body)
    text = text_of(preview)
    assert "5 events" in text and "nothing was sent" in text
    assert "PURCHASE_MISSING_VALUE 1" in text and body["preview_id"] in text
    assert text.count('"event_name": "Purchase"') == 3  # three sample events
    assert "buyer0@example.com" not in text  # hashed, never raw
    assert len(emulator.ledger()) == requests_before

    # 2. dry-run: only test events reach Meta
    live_before = len(emulator.received_events(PIXEL_ID))
    dry_run = mcp.call("send_meta_conversions", {"mode": "dry_run", **selection, "test_event_code": "TEST777",
                                                 "preview_id": body["preview_id"]})
    assert dry_run.is_error is False, text_of(dry_run)
    assert dry_run.structured_content is not None
    assert dry_run.structured_content["events_received"] == 5
    test_ids = [e["event_id"] for e in emulator.received_events(PIXEL_ID, test=True)][-5:]
    assert len(set(test_ids)) == 5
    assert len(emulator.received_events(PIXEL_ID)) == live_before
    assert "TEST777" in emulator.test_event_codes() and "received 5 of 5" in text_of(dry_run)

    # 3. confirm: each event once, live
    arguments = {"mode": "confirm", **selection, "idempotency_key": f"mcp-{mode}-1",
                 "preview_id": body["preview_id"]}
    confirm = mcp.call("send_meta_conversions", arguments)
    assert confirm.is_error is False, text_of(confirm)
    result = confirm.structured_content
    assert result is not None and result["status"] == "succeeded" and result["replayed"] is False
    live = [e["event_id"] for e in emulator.received_events(PIXEL_ID)][live_before:]
    assert sorted(live) == sorted(test_ids)
    assert "| 0 | 5 | 5 | accepted |" in text_of(confirm)

    # 4. the same confirm again: the stored result, nothing resent
    requests_before = len(emulator.ledger())
    replay = mcp.call("send_meta_conversions", arguments)
    assert replay.is_error is False and replay.structured_content is not None
    assert replay.structured_content["replayed"] is True
    assert replay.structured_content["batches"] == result["batches"]
    assert len(emulator.ledger()) == requests_before
    assert "nothing was sent again" in text_of(replay)

    # the audit trail, through its tool: one row per call, newest first
    audit = mcp.call("get_writeback_audit", {"profile_id": profile_id, "limit": 10})
    assert audit.is_error is False and audit.structured_content is not None
    rows = audit.structured_content["items"]
    assert [(r["operation"], r["status"]) for r in rows] == [
        ("confirm", "replayed"), ("confirm", "succeeded"), ("dry_run", "succeeded"), ("preview", "succeeded"),
        ("preview", "succeeded")]  # the second preview is the HTTP one it was compared with
    assert audit.structured_content["next"] is None
    assert token not in str(rows)


def test_audit_pages(api: LocalApi) -> None:
    profile_id, token = _seed_profile(api, "pages")
    mcp = Mcp(api.url + "/v1/mcp", token)
    for _ in range(3):
        preview = mcp.call("send_meta_conversions", {"mode": "preview", "profile_id": profile_id})
        assert preview.is_error is False
    first = mcp.call("get_writeback_audit", {"profile_id": profile_id, "limit": 2})
    assert first.structured_content is not None and len(first.structured_content["items"]) == 2
    cursor = first.structured_content["next"]
    assert cursor and cursor in text_of(first)
    second = mcp.call("get_writeback_audit", {"profile_id": profile_id, "limit": 2, "next": cursor})
    assert second.structured_content is not None
    assert len(second.structured_content["items"]) == 1 and second.structured_content["next"] is None
    rows = first.structured_content["items"] + second.structured_content["items"]
    assert {row["via"] for row in rows} == {"mcp"}  # SPEC §9: audit rows say the call came through MCP
    bad = mcp.call("get_writeback_audit", {"profile_id": profile_id, "next": "not-a-cursor"})
    assert refusal_of(bad)["type"] == "VALIDATION_ERROR"


def test_no_raw_pii_or_token_in_logs(api: LocalApi, caplog: pytest.LogCaptureFixture) -> None:
    """Inline rows carry raw PII into the tool call; neither it nor the token may reach a log line,
    whether the call succeeds, is malformed, or names an unknown argument holding PII."""
    profile_id, token = _seed_profile(api, "pii")
    mcp = Mcp(api.url + "/v1/mcp", token)
    secret_email, secret_phone = "pii.canary.4711@example.com", "+1 415 555 4711"
    rows = [{**conversion_rows("pii", 1)[0], "email": secret_email, "phone": secret_phone}]
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    assert mcp.call("send_meta_conversions", {"mode": "preview", "profile_id": profile_id,
                                              "rows": rows}).is_error is False
    refusal_of(mcp.call("send_meta_conversions", {"mode": "preview", "profile_id": profile_id,
                                                  "rows": rows, "last_days": secret_email}))
    refusal_of(mcp.call("send_meta_conversions", {"mode": "preview", "profile_id": profile_id,
                                                  secret_email: secret_phone}))
    # every record, with its extra fields, from every logger (the layer's, the SDK's, Mangum's...)
    logs = "\n".join(f"{r.getMessage()} {r.__dict__!r}" for r in caplog.records)
    assert "mcp tool answered" in logs and "tool call refused" in logs  # the logs were captured
    for secret in (secret_email, secret_phone, "pii.canary", token):
        assert secret not in logs
