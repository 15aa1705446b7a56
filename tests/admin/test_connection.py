"""Connecting Meta: checked against the emulator (good token, bad token 190, unknown pixel 100/33)
before anything is stored; the token goes to Secrets Manager only, and no response, log line, audit
row, table item or Meta URL ever holds it."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.admin.conftest import META_TOKEN, PIXEL_ID, LambdaContext, Team, load_handler
from tests.lambdas.conftest import proxy_event

APP_SECRET = "app-secret-value-5a1d"


def _secret(profile_id: str) -> dict[str, Any] | None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    try:
        value: dict[str, Any] = json.loads(client.get_secret_value(
            SecretId=f"capi-writeback/connections/{profile_id}")["SecretString"])
    except client.exceptions.ResourceNotFoundException:
        return None
    except client.exceptions.InvalidRequestException:  # scheduled for deletion
        return None
    return value


def _new_profile(team: Team) -> str:
    answer = team["owner"].call("profile_create", {"name": "Shop", "settings": {"action_source": "website",
                                                                              "country": "us"}})
    assert answer.status == 200, answer.body
    assert answer.body["connection"] is None and answer.body["settings"]["country"] == "US"
    return str(answer.body["profile_id"])


def test_a_good_token_makes_the_connection_active(team: Team, capsys: pytest.CaptureFixture[str]) -> None:
    profile_id = _new_profile(team)
    team.env.emulator.add_pixel(PIXEL_ID, "Shop pixel")
    answer = team["admin"].call("connection_put", {"pixel_id": PIXEL_ID, "access_token": META_TOKEN,
                                                   "test_event_code": "TEST777"}, profile_id=profile_id)
    assert answer.status == 200, answer.body
    connection = answer.body["connection"]
    assert connection["status"] == "active" and connection["pixel_id"] == PIXEL_ID
    assert connection["pixel_name"] == "Shop pixel" and connection["test_event_code"] == "TEST777"
    assert connection["connected_by"] == team["admin"].user_id and connection["app_secret"] is False
    assert _secret(profile_id) == {"access_token": META_TOKEN}
    stored = team.env.get("PROFILES_TABLE", {"profile_id": profile_id})["connection"]
    assert stored["secret_id"] == f"capi-writeback/connections/{profile_id}"
    # checked with a GET whose URL never carried the token
    (check,) = [e for e in team.env.emulator.ledger() if e["edge"] == "node"]
    assert check["method"] == "GET" and check["token_in_url"] is False and check["status"] == 200
    (row,) = [r for r in team.rows(profile_id) if r["operation"] == "connection_put"]
    assert row["status"] == "succeeded" and row["pixel_id"] == PIXEL_ID
    assert row["change"] == {"pixel_id": PIXEL_ID, "api_version": "v25.0", "test_event_code": "TEST777",
                             "app_secret": False}
    out = capsys.readouterr().out
    for text in (json.dumps(answer.body), json.dumps(team.rows(profile_id)), json.dumps(stored), out):
        assert META_TOKEN not in text


@pytest.mark.parametrize(("body", "code", "subcode"), [
    ({"pixel_id": PIXEL_ID, "access_token": "EAAB-not-a-valid-token"}, 190, 467),
    ({"pixel_id": "999999", "access_token": META_TOKEN}, 100, 33),
])
def test_meta_refusals_come_back_typed_with_metas_code_and_a_fix(team: Team, body: dict[str, Any], code: int,
                                                                 subcode: int) -> None:
    profile_id = _new_profile(team)
    answer = team["owner"].call("connection_put", body, profile_id=profile_id)
    assert (answer.status, answer.error_type) == (422, "META_CONNECTION_REJECTED"), answer.body
    error = answer.body["error"]
    assert error["details"]["code"] == code and error["details"].get("subcode") == subcode
    assert error["fix"] and ("token" in error["fix"].lower() or "pixel" in error["fix"].lower())
    assert body["access_token"] not in json.dumps(answer.body)
    # nothing was stored: no secret, the connection untouched
    assert _secret(profile_id) is None
    assert team["owner"].call("profile_get", profile_id=profile_id).body["connection"] is None
    (row,) = [r for r in team.rows(profile_id) if r["operation"] == "connection_put"]
    assert row["status"] == "refused" and row["error"]["type"] == "META_CONNECTION_REJECTED"
    assert row["error"]["code"] == code
    assert body["access_token"] not in json.dumps(row)


def test_a_failed_check_leaves_a_working_connection_alone(team: Team) -> None:
    """The seeded profile is connected; a mistyped new token changes nothing."""
    before = team.env.get("PROFILES_TABLE", {"profile_id": team.profile_id})["connection"]
    answer = team["owner"].call("connection_put", {"pixel_id": PIXEL_ID, "access_token": "EAAB-typo-typo"},
                                profile_id=team.profile_id)
    assert answer.error_type == "META_CONNECTION_REJECTED"
    assert team.env.get("PROFILES_TABLE", {"profile_id": team.profile_id})["connection"] == before
    assert _secret(team.profile_id) == {"access_token": META_TOKEN}


def test_meta_down_is_meta_unavailable_and_changes_nothing(team: Team) -> None:
    profile_id = _new_profile(team)
    team.env.emulator.inject("http_503", count=20)
    answer = team["owner"].call("connection_put", {"pixel_id": PIXEL_ID, "access_token": META_TOKEN},
                                profile_id=profile_id)
    team.env.emulator.clear_faults()
    assert (answer.status, answer.error_type) == (504, "META_UNAVAILABLE"), answer.body
    assert "nothing was changed" in answer.body["error"]["fix"]
    assert _secret(profile_id) is None


def test_app_secret_is_stored_with_the_token_and_never_shown(team: Team,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    profile_id = _new_profile(team)
    answer = team["owner"].call("connection_put", {"pixel_id": PIXEL_ID, "access_token": META_TOKEN,
                                                   "app_secret": APP_SECRET}, profile_id=profile_id)
    assert answer.status == 200, answer.body
    assert answer.body["connection"]["app_secret"] is True
    assert _secret(profile_id) == {"access_token": META_TOKEN, "app_secret": APP_SECRET}
    listed = team["owner"].call("profile_list")
    for text in (json.dumps(answer.body), json.dumps(listed.body), json.dumps(team.rows(profile_id)),
                 capsys.readouterr().out):
        assert APP_SECRET not in text and META_TOKEN not in text


def test_disconnect_then_connect_again(team: Team) -> None:
    owner = team["owner"]
    answer = owner.call("connection_delete", profile_id=team.profile_id)
    assert answer.status == 200, answer.body
    assert answer.body["connection"]["status"] == "inactive"
    assert _secret(team.profile_id) is None  # scheduled for deletion: unreadable
    owner.call("settings", {"writeback_enabled": True})
    # a send is now refused for want of a connection
    event = proxy_event("preview", team.profile_id, {"last_days": 1}, authorizer=owner.authorizer)
    refused = load_handler("preview")(event, LambdaContext(aws_request_id="p"))
    assert json.loads(refused["body"])["error"]["type"] == "META_CONNECTION_INACTIVE"
    again = owner.call("connection_put", {"pixel_id": PIXEL_ID, "access_token": META_TOKEN},
                       profile_id=team.profile_id)
    assert again.status == 200, again.body
    assert again.body["connection"]["status"] == "active"
    assert _secret(team.profile_id) == {"access_token": META_TOKEN}
    ops = [r["operation"] for r in sorted(team.rows(team.profile_id), key=lambda r: r["sk"])]
    assert {"connection_delete", "connection_put"} <= set(ops)


def test_malformed_connection_bodies_are_refused_and_audited(team: Team) -> None:
    for body in ({"pixel_id": "abc", "access_token": META_TOKEN}, {"pixel_id": PIXEL_ID},
                 {"pixel_id": PIXEL_ID, "access_token": "has space inside"},
                 {"pixel_id": PIXEL_ID, "access_token": META_TOKEN, "api_version": "25"}):
        answer = team["owner"].call("connection_put", body, profile_id=team.profile_id)
        assert (answer.status, answer.error_type) == (422, "VALIDATION_ERROR"), (body, answer.body)
        assert "has space inside" not in json.dumps(answer.body)
    refused = [r for r in team.rows(team.profile_id) if r["operation"] == "connection_put"]
    assert len(refused) == 4 and all(r["error"]["type"] == "VALIDATION_ERROR" for r in refused)
