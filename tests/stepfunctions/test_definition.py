"""statemachines/confirm.asl.json is a valid definition, wired as the template says."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from capi_writeback.errors import ERRORS
from capi_writeback_local.cfn_template import load_template
from capi_writeback_local.workflow import definition, workflow_functions

ROOT = Path(__file__).resolve().parents[2]
RAW = (ROOT / "statemachines" / "confirm.asl.json").read_text()
ASL: dict[str, Any] = json.loads(RAW)
STATES: dict[str, dict[str, Any]] = ASL["States"]
MACHINE = load_template(ROOT / "template.yaml")["Resources"]["ConfirmWorkflow"]["Properties"]


def _targets(state: dict[str, Any]) -> list[str]:
    found = [state[k] for k in ("Next", "Default") if k in state]
    found += [c["Next"] for c in state.get("Choices", [])]
    found += [c["Next"] for c in state.get("Catch", [])]
    return found


def test_cfn_lint_validates_the_definition() -> None:
    from cfnlint.api import ManualArgs, lint

    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Workflow": {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {"RoleArn": "arn:aws:iam::123456789012:role/workflow", "Definition": ASL,
                       "DefinitionSubstitutions": dict.fromkeys(MACHINE["DefinitionSubstitutions"], "x")},
    }}}
    matches = lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"]))
    assert [str(m) for m in matches] == []


def test_every_transition_lands_on_a_state_and_every_state_is_reachable() -> None:
    seen, pending = set(), [ASL["StartAt"]]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        assert name in STATES, f"transition to unknown state {name!r}"
        seen.add(name)
        pending.extend(_targets(STATES[name]))
    assert seen == set(STATES)
    for name, state in STATES.items():
        terminal = state["Type"] in ("Succeed", "Fail") or state.get("End") is True
        assert terminal or _targets(state), f"{name} leads nowhere"


def test_substitutions_are_exactly_the_templates() -> None:
    used = set(re.findall(r"\$\{(\w+)\}", RAW))
    assert used == set(MACHINE["DefinitionSubstitutions"])
    assert set(workflow_functions()) == {k for k in used if k.endswith("FunctionArn")}
    resolved = definition("https://sqs.example/queue")
    assert "${" not in resolved and json.loads(resolved)["StartAt"] == ASL["StartAt"]


def _retried(state: str) -> set[str]:
    return {e for r in STATES[state].get("Retry", []) for e in r["ErrorEquals"]}


def _caught(state: str) -> dict[str, str]:
    return {e: c["Next"] for c in STATES[state].get("Catch", []) for e in c["ErrorEquals"]}


def test_confirm_retries_transients_and_stops_on_refusals() -> None:
    assert {"CONFIRM_IN_PROGRESS", "META_UNAVAILABLE"} <= _retried("Confirm")
    caught = _caught("Confirm")
    circuit_open = STATES[caught["CIRCUIT_OPEN"]]
    assert circuit_open == {"Type": "Fail", "Error": "CIRCUIT_OPEN", "CausePath": "$.error.Cause"}
    assert STATES[caught["PAYLOAD_CHANGED"]]["Error"] == "PAYLOAD_CHANGED"
    # Never retry what cannot succeed by waiting.
    for state in ("Preview", "DryRun", "Confirm"):
        assert not _retried(state) & {"CIRCUIT_OPEN", "PAYLOAD_CHANGED", "IDEMPOTENCY_KEY_REUSED",
                                      "META_REJECTED", "VALIDATION_ERROR", "States.ALL"}


WORKFLOW_ERRORS = {"MATCH_QUALITY_TOO_LOW", "REJECTED_BY_APPROVER", "APPROVAL_TIMED_OUT",
                   "CONFIRM_PARTIALLY_FAILED"}


def test_every_error_name_is_a_spec_type_a_workflow_stop_or_a_platform_error() -> None:
    names = set()
    for state in STATES.values():
        names.update(e for r in state.get("Retry", []) + state.get("Catch", []) for e in r["ErrorEquals"])
        if state["Type"] == "Fail":
            names.add(state["Error"])
    unknown = {n for n in names if n not in ERRORS and n not in WORKFLOW_ERRORS
               and not n.startswith(("States.", "Lambda."))}
    assert unknown == set()
    assert names >= WORKFLOW_ERRORS


def test_steps_are_pinned_to_the_preview() -> None:
    for state in ("DryRun", "Confirm"):
        payload = STATES[state]["Parameters"]["Payload"]
        assert payload["preview_id.$"] == "$.preview.preview_id"
    assert STATES["Confirm"]["Parameters"]["Payload"]["idempotency_key.$"] == "$.idempotency_key"


def test_approval_waits_for_a_task_token_on_the_queue() -> None:
    wait = STATES["WaitForApproval"]
    assert wait["Resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
    assert wait["Parameters"]["QueueUrl"] == "${ApprovalQueueUrl}"
    body = wait["Parameters"]["MessageBody"]
    assert body["task_token.$"] == "$$.Task.Token"
    assert {"preview.$", "dry_run.$"} <= set(body)
    assert wait["TimeoutSeconds"] > 0
