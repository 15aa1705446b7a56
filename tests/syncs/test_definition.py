"""statemachines/sync.asl.json, checked statically (cfn-lint's Step Functions schema, the graph, the
wiring to template.yaml). What moto executes of it is exercised in test_runs.py; what it cannot
(ToleratedFailurePercentage has no effect there, the hour-long Athena poll) is checked here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from capi_writeback.contracts.syncs import ChildTask, FinishTask, PlanTask
from capi_writeback.errors import ERRORS
from capi_writeback_local.cfn_template import load_template
from capi_writeback_local.workflow import SYNC_STATE_MACHINE, machine_definition, workflow_functions

ROOT = Path(__file__).resolve().parents[2]
RAW = (ROOT / "statemachines" / "sync.asl.json").read_text()
ASL: dict[str, Any] = json.loads(RAW)
STATES: dict[str, dict[str, Any]] = ASL["States"]
TEMPLATE = load_template(ROOT / "template.yaml")
MACHINE = TEMPLATE["Resources"][SYNC_STATE_MACHINE]["Properties"]
ITEMS = STATES["Items"]
CHILD = ITEMS["ItemProcessor"]["States"]["Child"]


def _targets(state: dict[str, Any]) -> list[str]:
    found = [state[k] for k in ("Next", "Default") if k in state]
    found += [c["Next"] for c in state.get("Choices", [])]
    found += [c["Next"] for c in state.get("Catch", [])]
    return found


def test_cfn_lint_validates_the_definition() -> None:
    from cfnlint.api import ManualArgs, lint

    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Workflow": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": "arn:aws:iam::123456789012:role/workflow",
                    "Definition": ASL,
                    "DefinitionSubstitutions": dict.fromkeys(MACHINE["DefinitionSubstitutions"], "x"),
                },
            }
        },
    }
    matches = lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"]))
    assert [str(m) for m in matches] == []


def test_every_transition_lands_and_every_state_is_reachable() -> None:
    seen, pending = set(), [ASL["StartAt"]]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        assert name in STATES, name
        seen.add(name)
        pending.extend(_targets(STATES[name]))
    assert seen == set(STATES)


def test_a_run_that_got_past_plan_always_reaches_finish() -> None:
    """Every state that can fail after the run exists catches into Finish: a run always gets its
    report and audit row (only Finish's own failure fails the execution: SyncWorkflowFailedAlarm)."""
    for name in ("Plan", "StartQuery", "PollQuery", "ListResults", "Items"):
        catches = STATES[name]["Catch"]
        assert catches == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Finish"}], name
    assert STATES["QueryTooSlow"]["Next"] == "Finish" and STATES["Finish"]["Next"] == "Done"
    assert ASL["TimeoutSeconds"] == 12 * 3600  # the run lock's lifetime (flow/syncs/runs.py)


def test_the_map_is_distributed_bounded_tolerant_and_reads_the_manifest() -> None:
    assert ITEMS["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert 1 <= ITEMS["MaxConcurrency"] <= 10
    assert ITEMS["ToleratedFailurePercentage"] == 100  # a failed item never stops the others
    assert ITEMS["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert ITEMS["ItemReader"]["ReaderConfig"] == {"InputType": "JSON"}
    assert ITEMS["ItemSelector"] == {"item.$": "$$.Map.Item.Value", "run.$": "$.plan.run"}
    assert "ItemBatcher" not in ITEMS  # one item per child: its payload is exactly ChildTask
    assert ITEMS["ResultWriter"]["Parameters"]["Bucket"] == "${SyncWorkBucket}"


def test_task_payloads_are_the_contracts() -> None:
    plan = STATES["Plan"]["Parameters"]["Payload"]
    assert {k.removesuffix(".$") for k in plan} <= set(PlanTask.model_fields)
    listing = STATES["ListResults"]["Parameters"]["Payload"]
    assert {k.removesuffix(".$") for k in listing} <= set(PlanTask.model_fields)
    assert CHILD["Parameters"] == {"FunctionName": "${SyncChildFunctionArn}", "Payload.$": "$"}
    assert set(ChildTask.model_fields) == {"item", "run"}
    assert STATES["Finish"]["Parameters"]["Payload.$"] == "$"
    assert {"sync_id", "profile_id", "run_id", "execution", "started"} <= set(FinishTask.model_fields)
    defaults = STATES["Defaults"]["Parameters"]
    assert (
        defaults["execution.$"] == "$$.Execution.Name" and defaults["started.$"] == "$$.Execution.StartTime"
    )


def test_retries_are_for_what_waiting_can_fix() -> None:
    platform = {
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    }
    for name, state in [*STATES.items(), ("Child", CHILD)]:
        retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
        assert not retried & {"VALIDATION_ERROR", "States.ALL", "META_REJECTED", "SYNC_NOT_FOUND"}, name
        if state.get("Resource") == "arn:aws:states:::lambda:invoke":
            assert platform <= retried and "INTERNAL" in retried, name
    assert "Lambda.Unknown" in {e for r in CHILD["Retry"] for e in r["ErrorEquals"]}  # a crashed child


def test_error_names_are_spec_types_or_platform_errors() -> None:
    names = set()
    for state in [*STATES.values(), CHILD]:
        names.update(e for r in state.get("Retry", []) + state.get("Catch", []) for e in r["ErrorEquals"])
        if state["Type"] == "Fail":
            names.add(state["Error"])
    unknown = {n for n in names if n not in ERRORS and not n.startswith(("States.", "Lambda.", "Athena."))}
    assert unknown == set()


def test_substitutions_are_exactly_the_templates() -> None:
    used = set(re.findall(r"\$\{(\w+)\}", RAW))
    assert used == set(MACHINE["DefinitionSubstitutions"])
    functions = workflow_functions(machine=SYNC_STATE_MACHINE)
    assert {f.folder for f in functions.values()} == {"sync_plan", "sync_child", "sync_finish"}
    resolved = machine_definition(SYNC_STATE_MACHINE, {"SyncWorkBucket": "work-bucket"})
    assert "${" not in resolved and '"Bucket": "work-bucket"' in resolved
    assert MACHINE["Name"] == {"Fn::Sub": "${AWS::StackName}-sync"}  # its role names it (children)
    assert MACHINE["Logging"]["IncludeExecutionData"] is False and MACHINE["Tracing"] == {"Enabled": True}
