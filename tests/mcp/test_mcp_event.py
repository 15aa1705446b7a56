"""meta_send_conversion_event, whoami and the optional profile_id of send_meta_conversions, through the
official client over Streamable HTTP in both protocol generations, against the local API with the Meta
emulator's ledger as the witness of what was (not) sent."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import pytest
from capi_writeback.auth import token_hash
from capi_writeback.hashing import sha256_hex
from capi_writeback.rails.breaker.circuit import CircuitBreaker
from capi_writeback.rails.breaker.persistence.dynamodb import DynamoBreakerStore
from capi_writeback.store.directory.dynamodb import DynamoDirectoryStore
from capi_writeback_local.local_api import LocalApi
from mcp_support import MODES, PIXEL_ID, Mcp, conversion_rows, http_json, refusal_of, text_of

pytestmark = pytest.mark.timeout(240)
UA = "Mozilla/5.0 (X11; Linux x86_64)"
AT = int(time.time()) - 300


def _workspace(api: LocalApi, name: str) -> Any:
    return api.stack.seed_demo(pixel_id=PIXEL_ID, meta_token=api.meta_token, workspace_id=f"ws_{name}",
                               user_id=f"owner_{name}", profile_id=f"prof_{name}", reader_id=f"reader_{name}")


def event(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "pixel_id": PIXEL_ID, "event_name": "Lead", "event_time": AT, "action_source": "website",
        "event_source_url": "https://shop.example.com/contact",
        "user_data": {"email": "Lead.Person@Example.com", "client_ip_address": "203.0.113.9",
                      "client_user_agent": UA},
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def _ids(api: LocalApi, *, test: bool = False) -> list[str]:
    return [e["event_id"] for e in api.emulator.received_events(PIXEL_ID, test=test)]


@pytest.mark.parametrize("mode", MODES)
def test_live_then_replayed_in_markdown_and_json(api: LocalApi, mode: str) -> None:
    seed = _workspace(api, f"event_{mode}")
    mcp = Mcp(api.url + "/v1/mcp", seed.api_token, mode)
    event_id = f"mcp-lead-{mode}"
    first = mcp.call("meta_send_conversion_event", event(event_id=event_id))
    assert first.is_error is False, text_of(first)
    result = first.structured_content
    assert result is not None and result["replayed"] is False and result["events_received"] == 1
    assert result["profile_id"] == seed.profile_id  # resolved by the pixel, in the caller's workspace
    assert result["event"]["user_data"]["em"] == [sha256_hex("lead.person@example.com")]
    text = text_of(first)  # markdown by default: a short summary for people
    assert text.startswith("**Event sent**: Lead") and f"`{event_id}`" in text
    assert "Lead.Person" not in text
    assert _ids(api).count(event_id) == 1

    requests = len(api.emulator.ledger())
    again = mcp.call("meta_send_conversion_event", event(event_id=event_id, response_format="json"))
    assert again.is_error is False and again.structured_content is not None
    assert again.structured_content["replayed"] is True
    assert json.loads(text_of(again)) == again.structured_content  # json: the text block is the result
    assert len(api.emulator.ledger()) == requests and _ids(api).count(event_id) == 1

    audit = mcp.call("get_writeback_audit", {"profile_id": seed.profile_id, "limit": 5})
    rows = (audit.structured_content or {})["items"]
    assert [(r["operation"], r["status"], r["via"]) for r in rows] == [
        ("send_event", "replayed", "mcp"), ("send_event", "succeeded", "mcp")]


def test_a_test_send_and_a_retried_event_without_an_id(api: LocalApi) -> None:
    seed = _workspace(api, "event_test")
    mcp = Mcp(api.url + "/v1/mcp", seed.api_token)
    tested = mcp.call("meta_send_conversion_event", event(event_id="mcp-t-1", test_event_code="TEST4242"))
    assert tested.is_error is False and text_of(tested).startswith("**Test event sent**")
    assert "mcp-t-1" in _ids(api, test=True) and "mcp-t-1" not in _ids(api)
    assert "TEST4242" in api.emulator.test_event_codes()
    # no event_id: the id comes from the content, so an AI's retry is the same event
    body = event(user_data={"email": "retry@example.com", "client_user_agent": UA})
    first = mcp.call("meta_send_conversion_event", body).structured_content
    retry = mcp.call("meta_send_conversion_event", body).structured_content
    assert first is not None and retry is not None
    assert retry["event_id"] == first["event_id"] and retry["replayed"] is True
    assert _ids(api).count(first["event_id"]) == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_nine_day_old_website_event_is_refused_and_not_sent(api: LocalApi, mode: str) -> None:
    seed = _workspace(api, f"old_{mode}")
    requests = len(api.emulator.ledger())
    result = Mcp(api.url + "/v1/mcp", seed.api_token, mode).call(
        "meta_send_conversion_event", event(event_time=int(time.time()) - 9 * 86400))
    error = refusal_of(result)
    assert error["type"] == "VALIDATION_ERROR" and "EVENT_TOO_OLD" in error["message"]
    assert error["details"][0]["reason"] == "EVENT_TOO_OLD" and "EVENT_TOO_OLD" in text_of(result)
    assert len(api.emulator.ledger()) == requests


def test_refusals_of_the_event_tool(api: LocalApi) -> None:
    seed = _workspace(api, "event_refusals")
    url = api.url + "/v1/mcp"
    requests = len(api.emulator.ledger())
    reader = Mcp(url, seed.read_token).call("meta_send_conversion_event", event(event_id="r-1"))
    assert refusal_of(reader)["type"] == "MISSING_SCOPE"  # a read-only token cannot send live
    owner = Mcp(url, seed.api_token)
    unknown_pixel = refusal_of(owner.call("meta_send_conversion_event", event(pixel_id="999000999")))
    assert unknown_pixel["type"] == "PROFILE_NOT_FOUND" and "999000999" in unknown_pixel["message"]
    missing = refusal_of(owner.call("meta_send_conversion_event", {"event_name": "Lead"}))
    assert missing["type"] == "VALIDATION_ERROR"
    named = {d["field"] for d in missing["details"]}
    assert {"pixel_id", "event_time", "action_source", "user_data"} <= named
    typo = refusal_of(owner.call("meta_send_conversion_event", event(eventId="x")))
    assert typo["type"] == "VALIDATION_ERROR" and typo["details"][0]["field"] == "eventId"
    assert len(api.emulator.ledger()) == requests
    rows = (Mcp(url, seed.api_token).call("get_writeback_audit", {"profile_id": seed.profile_id})
            .structured_content or {})["items"]
    assert [(r["operation"], r["status"]) for r in rows] == [("send_event", "refused")]  # the typo


def test_whoami_shows_what_would_stop_a_send(api: LocalApi) -> None:
    seed = _workspace(api, "whoami")
    directory = DynamoDirectoryStore()
    directory.put_profile("prof_whoami_off", workspace_id="ws_whoami", name="Second shop",
                          connection={"pixel_id": "555", "secret_id": seed.secret_id, "status": "inactive"})
    for _ in range(3):
        CircuitBreaker(DynamoBreakerStore()).record_failure(seed.profile_id)
    owner = Mcp(api.url + "/v1/mcp", seed.api_token).call("whoami", {})
    assert owner.is_error is False, text_of(owner)
    me = owner.structured_content
    assert me is not None
    assert (me["workspace_id"], me["user_id"], me["role"], me["writeback_enabled"], me["unmet"]) == (
        "ws_whoami", "owner_whoami", "owner", True, [])
    assert me["scopes"] == ["admin", "mcp:read", "mcp:write"]  # the demo owner token (seed_demo)
    profiles = {p["profile_id"]: p for p in me["profiles"]}
    assert profiles[seed.profile_id]["pixel_id"] == PIXEL_ID
    mine = profiles[seed.profile_id]
    assert (mine["breaker"], mine["unmet"]) == ("open", ["CIRCUIT_OPEN"])
    assert 1 <= profiles[seed.profile_id]["retry_after"] <= 1801
    assert profiles["prof_whoami_off"]["unmet"] == ["META_CONNECTION_INACTIVE"]
    assert not any(p["can_send"] for p in profiles.values())
    assert "| `prof_whoami_off` | Second shop | 555 | inactive | closed | no | META_CONNECTION_INACTIVE |" \
        in text_of(owner)
    reader = Mcp(api.url + "/v1/mcp", seed.read_token).call("whoami", {}).structured_content
    assert reader is not None and reader["unmet"] == ["MISSING_SCOPE", "INSUFFICIENT_ROLE"]
    assert seed.api_token not in json.dumps(me)
    assert refusal_of(Mcp(api.url + "/v1/mcp", seed.api_token).call("whoami", {"profile": "x"}))["type"] == \
        "VALIDATION_ERROR"


@pytest.mark.parametrize("mode", MODES)
def test_send_meta_conversions_without_profile_id_uses_the_only_profile(api: LocalApi, mode: str) -> None:
    seed = _workspace(api, f"only_{mode}")
    status, _ = http_json("POST", f"{api.url}/v1/profiles/{seed.profile_id}/conversions", seed.api_token,
                          {"rows": conversion_rows(f"only-{mode}", 2)})
    assert status == 200
    mcp = Mcp(api.url + "/v1/mcp", seed.api_token, mode)
    preview = mcp.call("send_meta_conversions", {"mode": "preview", "last_days": 7})
    assert preview.is_error is False and (preview.structured_content or {})["event_count"] == 2
    DynamoDirectoryStore().put_profile(f"prof_only_{mode}_2", workspace_id=f"ws_only_{mode}", name="two")
    error = refusal_of(mcp.call("send_meta_conversions", {"mode": "preview", "last_days": 7}))
    assert error["type"] == "VALIDATION_ERROR" and error["details"][0]["field"] == "profile_id"
    assert seed.profile_id in error["fix"] and f"prof_only_{mode}_2" in error["fix"]


def test_a_workspace_without_profiles(api: LocalApi) -> None:
    raw = "cwb_" + secrets.token_urlsafe(18)
    directory = DynamoDirectoryStore()
    directory.put_workspace("ws_empty", name="empty", writeback_enabled=True)
    directory.put_member("ws_empty", "owner_empty", "owner")
    directory.put_token(token_hash(raw), workspace_id="ws_empty", user_id="owner_empty",
                        scopes=("mcp:read", "mcp:write"), expires_at=time.time() + 3600)
    mcp = Mcp(api.url + "/v1/mcp", raw)
    assert refusal_of(mcp.call("send_meta_conversions", {"mode": "preview"}))["type"] == "PROFILE_NOT_FOUND"
    me = mcp.call("whoami", {}).structured_content
    assert me is not None and me["profiles"] == [] and me["profile_count"] == 0


def test_no_raw_pii_or_token_in_the_logs_of_an_event_call(api: LocalApi,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    import logging

    seed = _workspace(api, "event_pii")
    mcp = Mcp(api.url + "/v1/mcp", seed.api_token)
    canary = "event.canary.4711@example.com"
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    pii = {"email": canary, "phone": "+1 415 555 4711", "client_user_agent": UA}
    assert mcp.call("meta_send_conversion_event", event(event_id="pii-e1", user_data=pii)).is_error is False
    refusal_of(mcp.call("meta_send_conversion_event", event(user_data={**pii, canary: 1})))
    refusal_of(mcp.call("meta_send_conversion_event", event(event_time=canary)))
    logs = "\n".join(f"{r.getMessage()} {r.__dict__!r}" for r in caplog.records)
    assert "mcp tool answered" in logs and "tool call refused" in logs
    for secret in (canary, "event.canary", "4154711", "555 4711", seed.api_token):
        assert secret not in logs, secret
