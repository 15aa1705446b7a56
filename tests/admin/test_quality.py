"""Match quality after the send against the emulator: Meta's EMQ per event name (the emulator's
approximation), our pre-send counts of the confirms, the cache, and the agent_name filter."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.admin.conftest import LambdaContext, Team, load_handler
from tests.lambdas.conftest import Env, proxy_event


def _website_rows(n: int, prefix: str, *, with_phone: bool) -> list[dict[str, Any]]:
    now = int(time.time())
    rows = []
    for i in range(n):
        row: dict[str, Any] = {
            "conversion_id": f"{prefix}{i}", "outcome_type": "payment_received", "occurred_at": now - 60 - i,
            "action_source": "website", "event_source_url": "https://shop.example/thanks",
            "client_user_agent": "Mozilla/5.0", "client_ip_address": "203.0.113.7",
            "email": f"buyer{i}@example.com", "value": 10 + i, "currency": "USD"}
        if with_phone:
            row["phone"] = f"+1415555{i:04d}"
        rows.append(row)
    return rows


def _confirm(team: Team, rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    owner = team["owner"]
    event = proxy_event("confirm", team.profile_id, {"rows": rows, "idempotency_key": key},
                        authorizer=owner.authorizer)
    result = load_handler("confirm")(event, LambdaContext(aws_request_id=key))
    body: dict[str, Any] = json.loads(result["body"])
    assert result["statusCode"] == 200, body
    return body


def _preview_quality(team: Team, rows: list[dict[str, Any]]) -> dict[str, int]:
    event = proxy_event("preview", team.profile_id, {"rows": rows}, authorizer=team["owner"].authorizer)
    body = json.loads(load_handler("preview")(event, LambdaContext(aws_request_id="p"))["body"])
    quality: dict[str, int] = body["match_quality"]
    return quality


@pytest.fixture()
def pushed(team: Team) -> Team:
    from capi_writeback.flow.admin.quality import clear_cache

    clear_cache()
    team["owner"].call("settings", {"writeback_enabled": True})
    _confirm(team, _website_rows(4, "a", with_phone=True), "push-a")
    team.env.clock.advance(1)
    _confirm(team, _website_rows(2, "b", with_phone=False), "push-b")
    return team


def test_emq_per_event_name_beside_our_counts(pushed: Team) -> None:
    answer = pushed["viewer"].with_scopes("mcp:read").call("quality", profile_id=pushed.profile_id)
    assert answer.status == 200, answer.body
    report = answer.body
    assert report["pixel_id"] == "1234567890" and report["meta"]["cached"] is False
    (purchase,) = report["meta"]["events"]
    assert purchase["event_name"] == "Purchase"
    # emulator weights: em 4 + ph 3 + ip 1 + ua 0.5 = 8.5 (4 events), without phone 5.5 (2 events)
    assert purchase["emq"] == pytest.approx((4 * 8.5 + 2 * 5.5) / 6, abs=0.05)
    keys = {k["identifier"]: k["coverage"] for k in purchase["match_keys"]}
    assert keys["email"] == 100 and keys["phone"] == pytest.approx(66.7, abs=0.1)
    assert purchase["freshness"] == "real_time"
    ours = report["ours"]
    assert (ours["pushes"], ours["events"]) == (2, 6)
    expected = {k: a + b for (k, a), b in zip(
        _preview_quality(pushed, _website_rows(4, "a", with_phone=True)).items(),
        _preview_quality(pushed, _website_rows(2, "b", with_phone=False)).values(), strict=True)}
    assert ours["match_quality"] == expected
    assert [p["event_count"] for p in ours["recent"]] == [2, 4]  # newest first


def test_metas_answer_is_cached_for_a_few_minutes(pushed: Team) -> None:
    owner = pushed["owner"]
    reads = lambda: [e for e in pushed.env.emulator.ledger() if e["edge"] == "dataset_quality"]  # noqa: E731
    first = owner.call("quality", profile_id=pushed.profile_id).body
    second = owner.call("quality", profile_id=pushed.profile_id).body
    assert (first["meta"]["cached"], second["meta"]["cached"]) == (False, True)
    assert second["meta"]["fetched_at"] == first["meta"]["fetched_at"] and len(reads()) == 1
    assert all(e["token_in_url"] is False for e in reads())
    pushed.env.clock.advance(301)
    third = owner.call("quality", profile_id=pushed.profile_id).body
    assert third["meta"]["cached"] is False and len(reads()) == 2


def test_a_partner_agent_filters_metas_figures(team: Team, env: Env) -> None:
    from capi_writeback.flow import Services, set_default_services
    from capi_writeback.flow.admin.quality import clear_cache
    from capi_writeback.meta.client import MetaClient
    from capi_writeback.meta.config import MetaClientConfig
    from capi_writeback.meta.credentials import SecretsManagerCredentials

    def services(agent: str) -> Services:
        credentials = SecretsManagerCredentials()
        return Services(clock=env.clock, meta_factory=lambda v: MetaClient(
            MetaClientConfig.from_env(partner_agent=agent), credentials, sleep=lambda _s: None))

    clear_cache()
    set_default_services(services("acme_2_1"))
    team["owner"].call("settings", {"writeback_enabled": True})
    _confirm(team, _website_rows(3, "c", with_phone=False), "push-c")
    mine = team["owner"].call("quality", profile_id=team.profile_id).body
    assert mine["meta"]["agent_name"] == "acme" and mine["meta"]["events"][0]["event_name"] == "Purchase"
    clear_cache()
    set_default_services(services("someone_else"))
    theirs = team["owner"].call("quality", profile_id=team.profile_id).body
    assert theirs["meta"]["events"] == [] and "no web events" in " ".join(theirs["notes"])


def test_quality_needs_an_active_connection_and_a_valid_token(team: Team) -> None:
    import boto3
    from capi_writeback.flow.admin.quality import clear_cache

    clear_cache()
    owner = team["owner"]
    boto3.client("secretsmanager", region_name="us-east-1").put_secret_value(
        SecretId=f"capi-writeback/connections/{team.profile_id}",
        SecretString=json.dumps({"access_token": "EAAB-expired-token"}))
    expired = owner.call("quality", profile_id=team.profile_id)
    assert (expired.status, expired.error_type) == (422, "META_CONNECTION_REJECTED"), expired.body
    assert expired.body["error"]["details"]["code"] == 190 and "Reconnect" in expired.body["error"]["fix"]
    owner.call("connection_delete", profile_id=team.profile_id)
    inactive = owner.call("quality", profile_id=team.profile_id)
    assert (inactive.status, inactive.error_type) == (409, "META_CONNECTION_INACTIVE")
