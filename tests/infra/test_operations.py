"""Operations in template.yaml (SPEC §11.4): alarms that can fire, tracing, reserved concurrency,
deletion protection and access logs that keep query strings and bodies out."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from capi_writeback import observability
from capi_writeback_local.cfn_template import load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
PARAMETERS: dict[str, dict[str, Any]] = TEMPLATE["Parameters"]
GLOBALS: dict[str, Any] = TEMPLATE["Globals"]["Function"]
FUNCTIONS = resources_of_type(TEMPLATE, "AWS::Serverless::Function")
ALARMS = resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm")
API = RESOURCES["CapiWritebackApi"]["Properties"]
ALARM_ACTION = {"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}


def _alarms_on(namespace: str, metric: str) -> list[dict[str, Any]]:
    return [a["Properties"] for a in ALARMS.values()
            if a["Properties"].get("Namespace") == namespace and a["Properties"].get("MetricName") == metric]


def _dimensions(alarm: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in alarm["Dimensions"]}


def _route_of(logical_id: str) -> tuple[str, str]:
    (event,) = FUNCTIONS[logical_id]["Properties"]["Events"].values()
    return event["Properties"]["Method"].upper(), event["Properties"]["Path"]


# -- where alarms go ------------------------------------------------------------------------------


def test_alarms_notify_the_given_topic_or_one_the_stack_creates() -> None:
    parameter = PARAMETERS["AlarmTopicArn"]
    assert parameter["Default"] == ""
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.match("") and pattern.match("arn:aws:sns:eu-west-1:123456789012:ops-alerts")
    assert not pattern.match("ops-alerts") and not pattern.match("arn:aws:sqs:eu-west-1:123456789012:q")
    assert TEMPLATE["Conditions"]["CreateAlarmTopic"] == {"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}
    topic = RESOURCES["AlarmTopic"]
    assert topic["Type"] == "AWS::SNS::Topic" and topic["Condition"] == "CreateAlarmTopic"
    assert len(ALARMS) >= 2 * len(FUNCTIONS) + 7
    for logical_id, alarm in ALARMS.items():
        properties = alarm["Properties"]
        assert properties["AlarmActions"] == [ALARM_ACTION], logical_id
        assert properties["TreatMissingData"] == "notBreaching", logical_id  # no traffic is no incident
        assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", logical_id
        assert properties["EvaluationPeriods"] >= 1 and properties["AlarmDescription"], logical_id
    assert TEMPLATE["Outputs"]["AlarmTopicArn"]["Value"] == ALARM_ACTION


# -- the application's EMF metrics ----------------------------------------------------------------


def _emitted_emf(metric: str) -> dict[str, Any]:
    """The EMF record observability.count + flush print in a fresh interpreter that has the
    template's Globals environment (what a deployed function emits)."""
    variables = {k: v for k, v in GLOBALS["Environment"]["Variables"].items() if isinstance(v, str)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")} | variables
    code = ("from capi_writeback import observability as o\n"
            f"o.count(o.{metric})\n"
            "o.flush()\n")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    (record,) = [r for r in records if "_aws" in r]
    return record


@pytest.mark.parametrize("name", ["BREAKER_OPENED", "CONFIRMS_FAILED", "SYNC_RUNS_FAILED"])
def test_application_alarms_match_the_metrics_powertools_emits(name: str) -> None:
    """An alarm fires only if namespace, metric name and the exact dimension set agree with what
    Powertools writes; read them from a real EMF record instead of assuming them."""
    metric = getattr(observability, name)
    record = _emitted_emf(name)
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert metric in {m["Name"] for m in directive["Metrics"]}
    (dimension_set,) = directive["Dimensions"]
    emitted = {dimension: record[dimension] for dimension in dimension_set}
    (alarm,) = _alarms_on(directive["Namespace"], metric)
    assert _dimensions(alarm) == emitted
    assert alarm["Statistic"] == "Sum" and alarm["Threshold"] == 1


def test_sync_runs_failed_is_named_before_the_sync_feature_emits_it() -> None:
    assert observability.SYNC_RUNS_FAILED == "SyncRunsFailed"


# -- AWS metrics -------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_error_and_throttle_alarms(metric: str) -> None:
    watched = {_dimensions(a)["FunctionName"]["Ref"]: a for a in _alarms_on("AWS/Lambda", metric)}
    assert set(watched) == set(FUNCTIONS)
    for logical_id, alarm in watched.items():
        assert alarm["Statistic"] == "Sum" and alarm["Threshold"] >= 1, logical_id
        assert alarm["Period"] <= 300, logical_id
    # Refused tokens are Lambda errors of the authorizer: its alarm waits for a burst.
    if metric == "Errors":
        assert watched["AuthorizerFunction"]["Threshold"] > 1
        assert all(a["Threshold"] == 1 for lid, a in watched.items() if lid != "AuthorizerFunction")


def test_confirm_duration_alarm_fires_before_the_timeout() -> None:
    (alarm,) = _alarms_on("AWS/Lambda", "Duration")
    assert _dimensions(alarm) == {"FunctionName": {"Ref": "ConfirmFunction"}}
    assert alarm["Statistic"] == "Maximum"
    timeout_ms = FUNCTIONS["ConfirmFunction"]["Properties"]["Timeout"] * 1000
    assert alarm["Threshold"] == 0.8 * timeout_ms


def test_api_5xx_alarm_leaves_out_only_the_routes_that_outlive_api_gateway() -> None:
    (alarm,) = [a["Properties"] for a in ALARMS.values() if "Metrics" in a["Properties"]]
    queries = {m["Id"]: m for m in alarm["Metrics"]}
    stage = [{"Name": "ApiName", "Value": API["Name"]}, {"Name": "Stage", "Value": {"Ref": "StageName"}}]
    excluded = set()
    for query in queries.values():
        if "MetricStat" not in query:
            continue
        assert query["ReturnData"] is False
        metric = query["MetricStat"]["Metric"]
        assert (metric["Namespace"], metric["MetricName"]) == ("AWS/ApiGateway", "5XXError")
        assert metric["Dimensions"][:2] == stage
        route = {d["Name"]: d["Value"] for d in metric["Dimensions"][2:]}
        if route:
            excluded.add((query["Id"], route["Method"], route["Resource"]))
    # the routes whose API callers stop waiting at 29 s while the function carries on
    long_running = {lid for lid, f in FUNCTIONS.items() if f["Properties"].get("Timeout", 0) > 29
                    and f["Properties"].get("Events")}
    assert long_running == {"DryRunFunction", "ConfirmFunction", "McpFunction", "SendEventFunction"}
    assert {(m, r) for _id, m, r in excluded} == {_route_of(lid) for lid in long_running}
    (result,) = [q for q in queries.values() if q.get("ReturnData")]
    expected = "FILL(all, 0) - " + " - ".join(f"FILL({i}, 0)" for i, _m, _r in sorted(excluded, reverse=True))
    assert result["Expression"] == expected
    # per-route figures exist only with detailed metrics on
    assert API["MethodSettings"][0]["MetricsEnabled"] is True
    assert API["Name"] == {"Ref": "AWS::StackName"}  # two stacks in one account never share figures


def test_failed_workflow_executions_alarm() -> None:
    alarms = _alarms_on("AWS/States", "ExecutionsFailed")
    watched = {_dimensions(a)["StateMachineArn"]["Ref"] for a in alarms}
    assert watched == {"ConfirmWorkflow", "SyncWorkflow"}
    assert all(a["Statistic"] == "Sum" and a["Threshold"] == 1 for a in alarms)


def test_approval_queue_age_alarm_warns_before_the_approval_times_out() -> None:
    (alarm,) = _alarms_on("AWS/SQS", "ApproximateAgeOfOldestMessage")
    assert _dimensions(alarm) == {"QueueName": {"Fn::GetAtt": ["ApprovalQueue", "QueueName"]}}
    assert alarm["Statistic"] == "Maximum"
    assert alarm["Threshold"] == {"Ref": "ApprovalAgeAlarmSeconds"}
    machine = RESOURCES["ConfirmWorkflow"]["Properties"]
    timeout = json.loads((ROOT / machine["DefinitionUri"]).read_text())["States"]["WaitForApproval"][
        "TimeoutSeconds"]
    parameter = PARAMETERS["ApprovalAgeAlarmSeconds"]
    assert parameter["Default"] < parameter["MaxValue"] < timeout


# -- tracing, concurrency, deletion protection, access logs -------------------------------------------


def test_tracing_is_on_everywhere_without_an_sdk_in_the_layer() -> None:
    assert GLOBALS["Tracing"] == "Active"
    assert all("Tracing" not in f["Properties"] for f in FUNCTIONS.values())
    assert API["TracingEnabled"] is True
    assert RESOURCES["ConfirmWorkflow"]["Properties"]["Tracing"] == {"Enabled": True}
    # Lambda's own tracing needs no SDK; the X-Ray SDK would bundle botocore into the layer.
    requirements = (ROOT / "layers/capi_writeback/requirements.txt").read_text()
    assert "xray" not in re.sub(r"#.*", "", requirements).lower()
    code = [*(ROOT / "layers/capi_writeback/capi_writeback").rglob("*.py"),
            *(ROOT / "functions").rglob("*.py")]
    assert code
    for path in code:
        text = path.read_text()
        assert "aws_xray_sdk" not in text and not re.search(r"\bTracer\b", text), path


def test_meta_senders_have_reserved_concurrency_that_can_be_switched_off() -> None:
    parameter = PARAMETERS["MetaSendConcurrency"]
    assert parameter["Default"] >= 1 and parameter["MinValue"] == 0
    assert TEMPLATE["Conditions"]["ReserveSendConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "MetaSendConcurrency"}, "0"]}]}
    reserved = {lid: f["Properties"]["ReservedConcurrentExecutions"] for lid, f in FUNCTIONS.items()
                if "ReservedConcurrentExecutions" in f["Properties"]}
    # 0 would mean "never run": no reservation is expressed by leaving the property out
    assert reserved == {lid: {"Fn::If": ["ReserveSendConcurrency", {"Ref": "MetaSendConcurrency"},
                                         {"Ref": "AWS::NoValue"}]}
                        for lid in ("DryRunFunction", "ConfirmFunction", "SendEventFunction")}


def test_audit_table_has_deletion_protection() -> None:
    tables = resources_of_type(TEMPLATE, "AWS::DynamoDB::Table")
    protected = {lid for lid, t in tables.items() if t["Properties"].get("DeletionProtectionEnabled")}
    assert protected == {"AuditTable"}
    assert tables["AuditTable"]["Properties"]["DeletionProtectionEnabled"] is True


# $context variables an access log line may hold: none carries a query string, header, body, token
# or the concrete path (whose segments are caller data); the route template replaces the path.
ACCESS_LOG_VARIABLES = {
    "requestId", "extendedRequestId", "requestTime", "httpMethod", "resourcePath", "status",
    "responseLength", "responseLatency", "integration.status", "integration.latency", "error.responseType",
    "authorizer.principalId", "authorizer.workspace_id", "identity.sourceIp", "xrayTraceId",
}


def test_access_logs_name_the_route_never_the_path_query_or_body() -> None:
    setting = API["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]}
    log_group = RESOURCES["ApiAccessLogs"]["Properties"]
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    line = json.loads(setting["Format"])  # one JSON object per request
    variables = set()
    for value in line.values():
        found = re.fullmatch(r"\$context\.([A-Za-z_.]+)", value)
        assert found, f"each field is exactly one $context variable: {value!r}"
        variables.add(found.group(1))
    assert variables <= ACCESS_LOG_VARIABLES, variables - ACCESS_LOG_VARIABLES
    assert {"requestId", "resourcePath", "status"} <= variables
    assert "$context.path" not in setting["Format"] and "$input" not in setting["Format"]


def test_api_gateway_logging_role_is_set_before_the_stage_or_left_alone() -> None:
    assert PARAMETERS["ApiGatewayLogsRole"]["AllowedValues"] == ["create", "existing"]
    assert TEMPLATE["Conditions"]["CreateApiGatewayLogsRole"] == {
        "Fn::Equals": [{"Ref": "ApiGatewayLogsRole"}, "create"]}
    account = RESOURCES["ApiGatewayAccountSettings"]
    assert account["Type"] == "AWS::ApiGateway::Account"
    assert account["Condition"] == "CreateApiGatewayLogsRole" and account["DeletionPolicy"] == "Retain"
    assert account["Properties"]["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}
    # A DependsOn may not name a conditional resource: the API waits on a handle that refers to it.
    assert RESOURCES["CapiWritebackApi"]["DependsOn"] == "ApiGatewayLogsReady"
    handle = RESOURCES["ApiGatewayLogsReady"]
    assert handle["Type"] == "AWS::CloudFormation::WaitConditionHandle"
    assert handle["Metadata"]["AccountSettings"]["Fn::If"][:2] == [
        "CreateApiGatewayLogsRole", {"Ref": "ApiGatewayAccountSettings"}]
