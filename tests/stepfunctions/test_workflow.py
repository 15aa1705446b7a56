"""The confirm workflow end to end under moto (see conftest.py)."""

from __future__ import annotations

import json
from typing import Any

from .conftest import PIXEL_ID, World, rows


def _input(seed: Any, key: str, **extra: Any) -> dict[str, Any]:
    return {"profile_id": seed.profile_id, "actor": seed.user_id, "idempotency_key": key, **extra}


def _error(described: dict[str, Any]) -> tuple[str, str]:
    return described.get("error", ""), described.get("cause", "")


def _entered(world: World, execution_arn: str) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in world.history(execution_arn)
            if "stateEnteredEventDetails" in e]


def _store(seed: Any, count: int) -> None:
    """Store conversions the way the API does (hashed at ingest), for a stored selection."""
    from capi_writeback.auth import Principal
    from capi_writeback.contracts.writeback import StoreConversionsRequest
    from capi_writeback.flow import Call, store_conversions

    principal = Principal(workspace_id=seed.workspace_id, user_id=seed.user_id,
                          scopes=frozenset({"mcp:write"}))
    result = store_conversions(Call(principal=principal, profile_id=seed.profile_id, request_id="seed"),
                               StoreConversionsRequest(rows=rows(count, prefix=f"{seed.profile_id}-")))
    assert result["stored"] == count


def test_auto_path_sends_each_event_exactly_once(world: World) -> None:
    seed = world.tenant()
    _store(seed, 5)
    before = len(world.live_events())
    described = world.run(_input(seed, "auto-1", approval="auto",
                                 selection={"outcome_types": ["payment_received"], "last_days": 1}))
    assert described["status"] == "SUCCEEDED", _error(described)
    output = json.loads(described["output"])
    assert output["status"] == "sent"
    assert output["confirm"]["status"] == "succeeded" and output["confirm"]["replayed"] is False
    assert output["confirm"]["events_received"] == output["preview"]["event_count"] == 5
    assert output["dry_run"]["events_received"] == 5
    sent = world.live_events()[before:]
    assert len(sent) == 5
    assert len({e["event_id"] for e in sent}) == 5
    entered = _entered(world, described["executionArn"])
    assert entered[:2] == ["Defaults", "ApplyDefaults"]
    for state in ("Preview", "AnythingToSend", "MeasureWeakShare", "MatchQualityGate", "DryRun",
                  "ApprovalMode", "Confirm", "ConfirmOutcome", "Sent", "Done"):
        assert state in entered
    assert "WaitForApproval" not in entered
    # Same audit trail as over HTTP: one row per step, for the actor named in the input.
    items = world.dynamodb.query(TableName=world.tables["AUDIT_TABLE"],
                                 KeyConditionExpression="profile_id = :p",
                                 ExpressionAttributeValues={":p": {"S": seed.profile_id}})["Items"]
    assert sorted(item["operation"]["S"] for item in items) == ["confirm", "dry_run", "preview"]
    assert {item["actor"]["S"] for item in items} == {seed.user_id}


def test_rerunning_the_same_input_replays_instead_of_resending(world: World) -> None:
    seed = world.tenant()
    payload = _input(seed, "rerun-1", selection={"rows": rows(3, prefix=f"{seed.profile_id}-")})
    first = world.run(payload)
    assert first["status"] == "SUCCEEDED", _error(first)
    sent = len(world.live_events())
    second = world.run(payload)
    assert second["status"] == "SUCCEEDED", _error(second)
    confirm = json.loads(second["output"])["confirm"]
    assert confirm["replayed"] is True and confirm["status"] == "succeeded"
    assert len(world.live_events()) == sent


def test_manual_approval_then_confirm(world: World) -> None:
    seed = world.tenant()
    before = len(world.live_events())
    arn = world.start(_input(seed, "manual-ok", approval="manual",
                             selection={"rows": rows(4, prefix=f"{seed.profile_id}-")}))
    message, _ = world.approval_message()
    assert message["execution_arn"] == arn
    assert message["profile_id"] == seed.profile_id and message["idempotency_key"] == "manual-ok"
    assert message["preview"]["event_count"] == 4 and "match_quality" in message["preview"]
    assert message["dry_run"]["events_received"] == 4
    assert len(world.live_events()) == before  # nothing real is sent before the answer
    world.sfn.send_task_success(taskToken=message["task_token"],
                                output=json.dumps({"approved": True, "approver": "alice"}))
    described = world.wait(arn)
    assert described["status"] == "SUCCEEDED", _error(described)
    assert len(world.live_events()) == before + 4


def test_manual_rejection_sends_nothing(world: World) -> None:
    seed = world.tenant()
    before = len(world.live_events())
    arn = world.start(_input(seed, "manual-no", approval="manual",
                             selection={"rows": rows(2, prefix=f"{seed.profile_id}-")}))
    message, _ = world.approval_message()
    world.sfn.send_task_failure(taskToken=message["task_token"], error="REJECTED_BY_APPROVER",
                                cause="bob: wrong week")
    described = world.wait(arn)
    assert described["status"] == "FAILED"
    # On AWS the cause ("bob: wrong week") is carried too; moto 5.2 drops send_task_failure's cause.
    assert _error(described)[0] == "REJECTED_BY_APPROVER"
    assert "Confirm" not in _entered(world, arn)
    assert len(world.live_events()) == before


def test_an_answer_without_approved_true_is_a_rejection(world: World) -> None:
    seed = world.tenant()
    arn = world.start(_input(seed, "manual-false", approval="manual",
                             selection={"rows": rows(1, prefix=f"{seed.profile_id}-")}))
    message, _ = world.approval_message()
    world.sfn.send_task_success(taskToken=message["task_token"], output=json.dumps({"approved": "yes"}))
    described = world.wait(arn)
    error, cause = _error(described)
    assert (described["status"], error) == ("FAILED", "REJECTED_BY_APPROVER")
    assert json.loads(cause) == {"approved": "yes"}


def test_weak_match_quality_stops_before_anything_is_sent(world: World) -> None:
    seed = world.tenant()
    before_test = len(world.meta.received_events(PIXEL_ID, test=True))
    described = world.run(_input(seed, "weak-1", max_weak_share=0.5,
                                 selection={"rows": rows(4, weak=True, prefix=f"{seed.profile_id}-")}))
    error, cause = _error(described)
    assert (described["status"], error) == ("FAILED", "MATCH_QUALITY_TOO_LOW")
    breakdown = json.loads(cause)
    assert breakdown["weak_share"] == 1.0 and breakdown["max_weak_share"] == 0.5
    assert breakdown["match_quality"]["weak"] == 4
    assert len(world.meta.received_events(PIXEL_ID, test=True)) == before_test  # not even a dry-run


def test_weak_share_within_the_limit_passes(world: World) -> None:
    seed = world.tenant()
    selection = {"rows": rows(1, weak=True, prefix=f"{seed.profile_id}-w")
                 + rows(3, prefix=f"{seed.profile_id}-g")}
    described = world.run(_input(seed, "weak-ok", max_weak_share=0.25, selection=selection))
    assert described["status"] == "SUCCEEDED", _error(described)


def test_nothing_to_send_succeeds_without_dry_run(world: World) -> None:
    seed = world.tenant()
    described = world.run(_input(seed, "empty-1", selection={"outcome_types": ["payment_received"],
                                                             "last_days": 1}))
    assert described["status"] == "SUCCEEDED", _error(described)
    output = json.loads(described["output"])
    assert output["status"] == "nothing_to_send" and output["preview"]["event_count"] == 0
    assert "DryRun" not in _entered(world, described["executionArn"])


def test_min_events_holds_back_a_small_push(world: World) -> None:
    seed = world.tenant()
    described = world.run(_input(seed, "min-1", min_events=10,
                                 selection={"rows": rows(3, prefix=f"{seed.profile_id}-")}))
    assert described["status"] == "SUCCEEDED", _error(described)
    assert json.loads(described["output"])["status"] == "nothing_to_send"


def test_open_breaker_fails_with_circuit_open_and_retry_after(world: World) -> None:
    from capi_writeback.rails.breaker.circuit import CircuitBreaker
    from capi_writeback.rails.breaker.persistence.dynamodb import DynamoBreakerStore

    seed = world.tenant()
    breaker = CircuitBreaker(DynamoBreakerStore())
    for _ in range(3):
        breaker.record_failure(seed.profile_id)
    before = len(world.live_events())
    selection = {"rows": rows(2, prefix=f"{seed.profile_id}-")}
    described = world.run(_input(seed, "breaker-1", selection=selection))
    error, cause = _error(described)
    assert (described["status"], error) == ("FAILED", "CIRCUIT_OPEN")
    body = json.loads(json.loads(cause)["errorMessage"])
    assert body["error"]["type"] == "CIRCUIT_OPEN" and body["error"]["retry_after"] > 0
    assert len(world.live_events()) == before


def test_transient_meta_failure_is_retried_by_the_state_machine(world: World) -> None:
    seed = world.tenant()
    before = len(world.live_events())
    # The dry-run's one request passes; the confirm's two client attempts both get a 503, so the
    # Lambda fails with META_UNAVAILABLE and the state machine's Retry sends again.
    world.meta.inject("http_503", count=2, after=1)
    try:
        described = world.run(_input(seed, "transient-1",
                                     selection={"rows": rows(3, prefix=f"{seed.profile_id}-")}))
    finally:
        world.meta.clear_faults()
    assert described["status"] == "SUCCEEDED", _error(described)
    failed = [e for e in world.history(described["executionArn"])
              if e["type"] in ("TaskFailed", "LambdaFunctionFailed")]
    assert [e.get("taskFailedEventDetails", e.get("lambdaFunctionFailedEventDetails", {})).get("error")
            for e in failed] == ["META_UNAVAILABLE"]
    assert len(world.live_events()) == before + 3


def test_invalid_workflow_input_fails_fast(world: World) -> None:
    seed = world.tenant()
    described = world.run(_input(seed, "bad-1", approval="sometimes", selection={"last_days": 1}))
    assert (described["status"], _error(described)[0]) == ("FAILED", "VALIDATION_ERROR")
    assert "Preview" not in _entered(world, described["executionArn"])


def test_lambda_validation_errors_surface_as_spec_error_names(world: World) -> None:
    seed = world.tenant()
    described = world.run({"profile_id": seed.profile_id, "actor": seed.user_id, "idempotency_key": "x",
                           "selection": {"last_days": 999}})
    error, cause = _error(described)
    assert (described["status"], error) == ("FAILED", "VALIDATION_ERROR")
    assert json.loads(json.loads(cause)["errorMessage"])["error"]["details"]
