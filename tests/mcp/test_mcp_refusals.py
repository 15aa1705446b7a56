"""Every refusal reaches the assistant as an isError result carrying the SPEC §3.3 error (type, message,
fix, request_id, retry_after where it applies) and a text block saying what to do; transport-level auth
failures are HTTP 401 with WWW-Authenticate. Nothing refused is ever sent to Meta."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from capi_writeback.auth import token_hash
from capi_writeback.rails.breaker.circuit import CircuitBreaker
from capi_writeback.rails.breaker.persistence.dynamodb import DynamoBreakerStore
from capi_writeback.store.directory.dynamodb import DynamoDirectoryStore
from capi_writeback_local.local_api import LocalApi
from mcp_support import MODES, PIXEL_ID, Mcp, conversion_rows, http_json, refusal_of, text_of

pytestmark = pytest.mark.timeout(240)
WS = "ws_refusals"


class World:
    """One workspace with profiles and members set up for each refusal."""

    def __init__(self, api: LocalApi) -> None:
        self.api = api
        self.url = api.url + "/v1/mcp"
        seed = api.stack.seed_demo(pixel_id=PIXEL_ID, meta_token=api.meta_token, workspace_id=WS,
                                   user_id="owner_r", profile_id="prof_ok", reader_id="reader_r")
        self.owner, self.reader, self.profile = seed.api_token, seed.read_token, seed.profile_id
        self.directory = DynamoDirectoryStore()
        self.member = self.token("member_r", "member", ("mcp:read", "mcp:write"))
        for profile_id, connection in (
                ("prof_inactive", {"pixel_id": PIXEL_ID, "secret_id": seed.secret_id, "status": "inactive"}),
                ("prof_nocode", {"pixel_id": PIXEL_ID, "secret_id": seed.secret_id, "status": "active"}),
                ("prof_breaker", {"pixel_id": PIXEL_ID, "secret_id": seed.secret_id, "status": "active"})):
            self.directory.put_profile(profile_id, workspace_id=WS, name=profile_id,
                                       settings={"currency": "USD"}, connection=connection)
        # a second workspace, write-back off
        off = api.stack.seed_demo(pixel_id=PIXEL_ID, meta_token=api.meta_token, workspace_id="ws_off",
                                  user_id="owner_off", profile_id="prof_off", reader_id="reader_off")
        self.directory.put_workspace("ws_off", name="off", writeback_enabled=False)
        self.off_owner = off.api_token
        status, _ = http_json("POST", f"{api.url}/v1/profiles/prof_ok/conversions", self.owner,
                              {"rows": conversion_rows("refusals", 3)})
        assert status == 200

    def token(self, user_id: str, role: str, scopes: tuple[str, ...]) -> str:
        raw = "cwb_" + secrets.token_urlsafe(18)
        self.directory.put_member(WS, user_id, role)
        self.directory.put_token(token_hash(raw), workspace_id=WS, user_id=user_id, scopes=scopes,
                                 expires_at=time.time() + 3600)
        return raw

    def send(self, token: str, protocol: str = "auto", **arguments: Any) -> Any:
        return Mcp(self.url, token, protocol).call("send_meta_conversions", arguments)


@pytest.fixture(scope="module")
def world(api: LocalApi) -> Iterator[World]:
    yield World(api)


@pytest.fixture()
def nothing_sent(api: LocalApi) -> Iterator[None]:
    before = len(api.emulator.ledger())
    yield
    assert len(api.emulator.ledger()) == before, "a refused call reached Meta"


CONFIRM = {"mode": "confirm", "last_days": 7, "idempotency_key": "refused-1"}


@pytest.mark.parametrize("protocol", MODES)
@pytest.mark.parametrize(("who", "profile", "arguments", "expected"), [
    ("reader", "prof_ok", CONFIRM, "MISSING_SCOPE"),
    ("reader", "prof_ok", {"mode": "dry_run"}, "MISSING_SCOPE"),
    ("owner", "prof_missing", CONFIRM, "PROFILE_NOT_FOUND"),
    ("off_owner", "prof_ok", CONFIRM, "PROFILE_NOT_FOUND"),  # another workspace's profile
    ("off_owner", "prof_off", CONFIRM, "WRITEBACK_DISABLED"),
    ("member", "prof_ok", CONFIRM, "INSUFFICIENT_ROLE"),
    ("owner", "prof_inactive", CONFIRM, "META_CONNECTION_INACTIVE"),
    ("owner", "prof_ok", {"mode": "confirm"}, "IDEMPOTENCY_KEY_REQUIRED"),
    ("owner", "prof_nocode", {"mode": "dry_run"}, "TEST_EVENT_CODE_REQUIRED"),
    ("owner", "prof_ok", {"mode": "confirm", "idempotency_key": "k", "preview_id": "pv_" + "0" * 32},
     "PAYLOAD_CHANGED"),
])
def test_prerequisite_refusals(world: World, nothing_sent: None, protocol: str, who: str, profile: str,
                               arguments: dict[str, Any], expected: str) -> None:
    result = world.send(getattr(world, who), protocol, profile_id=profile, **arguments)
    error = refusal_of(result)
    assert error["type"] == expected, error


def test_a_read_only_token_cannot_confirm_but_may_not_read_the_audit_as_a_member(
        world: World, nothing_sent: None) -> None:
    error = refusal_of(world.send(world.reader, profile_id="prof_ok", **CONFIRM))
    assert error["type"] == "MISSING_SCOPE" and "mcp:write" in error["fix"]
    audit = Mcp(world.url, world.reader).call("get_writeback_audit", {"profile_id": "prof_ok"})
    assert refusal_of(audit)["type"] == "INSUFFICIENT_ROLE"  # the scope is enough, the role is not


def test_an_open_breaker_answers_circuit_open_with_retry_after(world: World, nothing_sent: None) -> None:
    breaker = CircuitBreaker(DynamoBreakerStore())
    for _ in range(3):
        breaker.record_failure("prof_breaker")
    result = world.send(world.owner, profile_id="prof_breaker",
                        rows=conversion_rows("breaker", 1)[:1], mode="confirm", idempotency_key="b-1")
    error = refusal_of(result)
    assert error["type"] == "CIRCUIT_OPEN" and 1 <= error["retry_after"] <= 1800
    assert f"Retry after: {error['retry_after']} s" in text_of(result)


@pytest.mark.parametrize(("arguments", "fields"), [
    ({"mode": "send_now", "profile_id": "prof_ok"}, ["mode"]),
    ({"profile_id": "prof_ok"}, ["mode"]),
    ({"mode": "preview"}, ["profile_id"]),
    ({"mode": "preview", "profile_id": "../etc"}, ["profile_id"]),
    ({"mode": "confirm", "profile_id": "prof_ok", "idempotencyKey": "k"}, ["idempotencyKey"]),
    ({"mode": "confirm", "profile_id": "prof_ok", "idempotency_key": "k", "test_event_code": "T1"},
     ["test_event_code"]),
    ({"mode": "preview", "profile_id": "prof_ok", "last_days": 0}, ["last_days"]),
    ({"mode": "preview", "profile_id": "prof_ok", "last_days": 3, "window": {
        "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}}, [""]),
    ({"mode": "preview", "profile_id": "prof_ok", "pixel_id": "not-digits"}, ["pixel_id"]),
    ({"mode": "preview", "profile_id": "prof_ok", "jane@example.com": 1}, ["(unknown field)"]),
])
def test_malformed_arguments_are_a_validation_error_naming_each_field(
        world: World, nothing_sent: None, arguments: dict[str, Any], fields: list[str]) -> None:
    error = refusal_of(Mcp(world.url, world.owner).call("send_meta_conversions", arguments))
    assert error["type"] == "VALIDATION_ERROR"
    named = [d["field"] for d in error["details"]]
    assert all(any(f in n for n in named) for f in fields), named
    assert "jane@example.com" not in json.dumps(error)


def test_a_malformed_step_on_a_known_profile_is_audited_as_refused(world: World) -> None:
    world.send(world.owner, profile_id="prof_nocode", mode="preview", last_days=99)
    page = Mcp(world.url, world.owner).call("get_writeback_audit", {"profile_id": "prof_nocode", "limit": 1})
    assert page.structured_content is not None
    row = page.structured_content["items"][0]
    assert (row["operation"], row["status"]) == ("preview", "refused")
    assert row["error"]["type"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("authorization", [None, "Bearer cwb_not_a_real_token", "Basic dXNlcjpwYXNz"])
def test_no_valid_token_is_http_401_with_www_authenticate(world: World, authorization: str | None) -> None:
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if authorization:
        headers["Authorization"] = authorization
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    response = httpx2.post(world.url, json=request, headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["type"] == "UNAUTHENTICATED"


def test_the_official_client_without_a_token_is_refused(world: World) -> None:
    from mcp.shared.exceptions import MCPError

    with pytest.raises(BaseException) as refused:
        Mcp(world.url, None).list_tools()
    leaves, pending = [], [refused.value]
    while pending:
        error = pending.pop()
        children = getattr(error, "exceptions", None)
        pending.extend(children) if children else leaves.append(error)
    assert leaves and all(isinstance(e, MCPError) for e in leaves), leaves


def test_a_foreign_host_header_is_refused_by_the_transport(world: World) -> None:
    """DNS-rebinding protection: the only host allowed is the one the gateway received the request on."""
    headers = {"Authorization": f"Bearer {world.owner}", "Content-Type": "application/json",
               "Accept": "application/json, text/event-stream", "Host": "attacker.example:8080"}
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    response = httpx2.post(world.url, json=request, headers=headers, timeout=30)
    assert response.status_code == 421
    assert response.headers["Content-Type"].startswith("text/plain")
    origin = {**headers, "Host": world.url.split("/")[2], "Origin": "http://attacker.example"}
    assert httpx2.post(world.url, json=request, headers=origin, timeout=30).status_code == 403
