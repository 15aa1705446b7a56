"""template.yaml deploys what the code and the SPEC expect: layer, functions, least privilege, API."""

from __future__ import annotations

import inspect
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from capi_writeback.errors import ERRORS
from capi_writeback.meta.config import MetaClientConfig
from capi_writeback.rails.idempotency import ConfirmLedger
from capi_writeback_local.cfn_template import load_template, resources_of_type

from .iam import as_list, grants, resource_name, statements

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
GLOBALS: dict[str, Any] = TEMPLATE["Globals"]["Function"]
FUNCTIONS = resources_of_type(TEMPLATE, "AWS::Serverless::Function")

FOLDERS = {
    "AuthorizerFunction": "authorizer", "PreviewFunction": "preview", "DryRunFunction": "dry_run",
    "ConfirmFunction": "confirm", "ConversionsFunction": "conversions", "AuditFunction": "audit",
    "BreakerResetFunction": "breaker_reset", "DocsFunction": "docs",
}
# Step Functions helpers small enough to live in the template (no layer code, no permissions).
INLINE = {"WeakShareFunction"}
ROUTES = {
    "PreviewFunction": {("POST", "/v1/profiles/{profile_id}/writeback/preview")},
    "DryRunFunction": {("POST", "/v1/profiles/{profile_id}/writeback/dry-run")},
    "ConfirmFunction": {("POST", "/v1/profiles/{profile_id}/writeback/confirm")},
    "ConversionsFunction": {("POST", "/v1/profiles/{profile_id}/conversions")},
    "AuditFunction": {("GET", "/v1/profiles/{profile_id}/writeback/audit")},
    "BreakerResetFunction": {("POST", "/v1/profiles/{profile_id}/writeback/breaker/reset")},
    "DocsFunction": {("GET", "/v1/openapi.json"), ("GET", "/v1/docs")},
    "AuthorizerFunction": set(),
    "WeakShareFunction": set(),
}
SECRETS = "secret:capi-writeback/connections/*"
DIRECTORY = {"WorkspacesTable": {"dynamodb:GetItem"}, "ProfilesTable": {"dynamodb:GetItem"}}
SEND_READS = {**DIRECTORY, "ConversionsTable/index/by_occurred_at": {"dynamodb:Query"},
              "AuditTable": {"dynamodb:PutItem"}}
# Function -> {resource -> actions}: exactly what each role may do (least privilege).
EXPECTED_GRANTS: dict[str, dict[str, set[str]]] = {
    "AuthorizerFunction": {"TokensTable": {"dynamodb:GetItem"}},
    "PreviewFunction": SEND_READS,
    "DryRunFunction": {**SEND_READS, SECRETS: {"secretsmanager:GetSecretValue"}},
    "ConfirmFunction": {
        **SEND_READS, SECRETS: {"secretsmanager:GetSecretValue"},
        "IdempotencyTable": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                             "dynamodb:BatchGetItem"},
        "BreakerTable": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
    },
    "ConversionsFunction": {**DIRECTORY, "ConversionsTable": {"dynamodb:BatchWriteItem"}},
    "AuditFunction": {**DIRECTORY, "AuditTable": {"dynamodb:Query"}},
    "BreakerResetFunction": {**DIRECTORY, "BreakerTable": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
                             "AuditTable": {"dynamodb:PutItem"}},
    "DocsFunction": {},
    "WeakShareFunction": {},
}
AUDIT_WRITES_FORBIDDEN = {
    "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:TransactWriteItems",
    "dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete", "dynamodb:DeleteTable",
    "dynamodb:UpdateTable", "dynamodb:RestoreTableToPointInTime", "dynamodb:ImportTable",
}


def _all_iam_statements() -> list[tuple[str, dict[str, Any]]]:
    """Every IAM statement anywhere in the template: function Policies, state machine Policies,
    and explicit AWS::IAM::Role / Policy resources."""
    found: list[tuple[str, dict[str, Any]]] = []
    for logical_id, resource in RESOURCES.items():
        properties = resource.get("Properties") or {}
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            found.extend((logical_id, s) for s in statements(properties.get("Policies")))
        elif resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies") or []:
                found.extend((logical_id, s) for s in policy["PolicyDocument"]["Statement"])
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            found.extend((logical_id, s) for s in properties["PolicyDocument"]["Statement"])
    return found


def test_every_function_folder_exists_with_a_handler() -> None:
    assert set(FUNCTIONS) == set(FOLDERS) | set(INLINE)
    assert GLOBALS["Handler"] == "app.lambda_handler"
    for logical_id, folder in FOLDERS.items():
        properties = FUNCTIONS[logical_id]["Properties"]
        assert properties["CodeUri"] == f"functions/{folder}/"
        app = ROOT / "functions" / folder / "app.py"
        assert app.is_file(), app
        assert re.search(r"^(lambda_handler\s*=|def lambda_handler\()", app.read_text(), re.M), app
        assert "Handler" not in properties


def test_functions_share_the_one_layer() -> None:
    layers = resources_of_type(TEMPLATE, "AWS::Serverless::LayerVersion")
    assert list(layers) == ["CapiWritebackLayer"]
    layer = layers["CapiWritebackLayer"]
    assert layer["Properties"]["ContentUri"] == "layers/capi_writeback/"
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    recipe = (ROOT / "layers/capi_writeback/Makefile").read_text()
    assert "build-CapiWritebackLayer:" in recipe and "LAYER_PLATFORM ?= manylinux2014_aarch64" in recipe
    assert "compileall" in recipe and "--invalidation-mode unchecked-hash" in recipe
    assert (ROOT / "layers/capi_writeback/capi_writeback/__init__.py").is_file()
    assert GLOBALS["Layers"] == [{"Ref": "CapiWritebackLayer"}]
    for logical_id, function in FUNCTIONS.items():
        assert "Layers" not in function["Properties"], f"{logical_id} must use the shared layer only"


def test_inline_helpers_are_self_contained_python() -> None:
    for logical_id in INLINE:
        properties = FUNCTIONS[logical_id]["Properties"]
        assert properties["Handler"] == "index.lambda_handler"
        assert "import" not in properties["InlineCode"], "inline helpers import nothing"
        compile(properties["InlineCode"], logical_id, "exec")


def test_runtime_architecture_and_limits() -> None:
    assert GLOBALS["Runtime"] == "python3.11"
    assert GLOBALS["Architectures"] == ["arm64"]
    for logical_id, function in FUNCTIONS.items():
        properties = function["Properties"]
        assert "Runtime" not in properties and "Architectures" not in properties, logical_id
        assert 128 <= properties.get("MemorySize", GLOBALS["MemorySize"]) <= 10240
        assert 1 <= properties.get("Timeout", GLOBALS["Timeout"]) <= 900


def test_confirm_timeout_fits_100k_events_and_the_lease_outlives_it() -> None:
    """100 batches at the client's concurrency, every request running to its read timeout, still
    finish inside the confirm timeout; and a running confirm's claim cannot lapse before it ends."""
    config = MetaClientConfig()
    rounds = math.ceil(100 / config.concurrency)
    timeout = FUNCTIONS["ConfirmFunction"]["Properties"]["Timeout"]
    assert rounds * config.read_timeout < timeout
    lease = inspect.signature(ConfirmLedger.__init__).parameters["lease_seconds"].default
    assert lease >= timeout


def test_tables_reach_code_through_environment_variables() -> None:
    variables = GLOBALS["Environment"]["Variables"]
    tables = resources_of_type(TEMPLATE, "AWS::DynamoDB::Table")
    refs = {env: v["Ref"] for env, v in variables.items() if isinstance(v, dict) and v.get("Ref") in tables}
    assert set(refs.values()) == set(tables)
    assert refs["AUDIT_TABLE"] == "AuditTable"


@pytest.mark.parametrize("logical_id", sorted(EXPECTED_GRANTS))
def test_each_function_is_granted_exactly_what_it_uses(logical_id: str) -> None:
    policies = FUNCTIONS[logical_id]["Properties"].get("Policies")
    assert grants(statements(policies)) == EXPECTED_GRANTS[logical_id]


def test_no_role_can_write_the_audit_table_except_by_put() -> None:
    audited = 0
    for owner, statement in _all_iam_statements():
        actions, resources = as_list(statement["Action"]), as_list(statement["Resource"])
        text = json.dumps(resources)
        if "AuditTable" in text or '"*"' in text:
            assert not set(actions) & AUDIT_WRITES_FORBIDDEN, (owner, statement)
            assert not any(a in ("dynamodb:*", "*") for a in actions), (owner, statement)
            audited += "dynamodb:PutItem" in actions
    assert audited >= 3  # preview, dry-run, confirm, breaker reset append rows


def test_only_dry_run_and_confirm_read_meta_tokens() -> None:
    readers = {owner for owner, s in _all_iam_statements()
               if "secretsmanager:GetSecretValue" in json.dumps(s["Action"])}
    assert readers == {"DryRunFunction", "ConfirmFunction"}
    for _owner, statement in _all_iam_statements():
        if "secretsmanager" in json.dumps(statement["Action"]):
            assert statement["Action"] == ["secretsmanager:GetSecretValue"]
            assert resource_name(statement["Resource"]) == "secret:capi-writeback/connections/*"


def test_table_settings() -> None:
    tables = resources_of_type(TEMPLATE, "AWS::DynamoDB::Table")
    assert set(tables) == {"WorkspacesTable", "TokensTable", "ProfilesTable", "ConversionsTable",
                           "IdempotencyTable", "BreakerTable", "AuditTable"}
    for logical_id, table in tables.items():
        properties = table["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST", logical_id
        assert properties["SSESpecification"]["SSEEnabled"] is True, logical_id
        pitr = properties.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
        assert bool(pitr) == (logical_id in ("AuditTable", "ConversionsTable")), logical_id
    assert tables["AuditTable"]["DeletionPolicy"] == "Retain"


def test_api_routes_and_authorizer() -> None:
    api = RESOURCES["CapiWritebackApi"]["Properties"]
    auth = api["Auth"]
    assert auth["DefaultAuthorizer"] == "BearerToken"
    authorizer = auth["Authorizers"]["BearerToken"]
    assert authorizer["FunctionArn"] == {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]}
    assert authorizer["FunctionPayloadType"] == "TOKEN"
    assert authorizer["Identity"]["Header"] == "Authorization"
    pattern = re.compile(authorizer["Identity"]["ValidationExpression"])
    assert pattern.match("Bearer cwb_abc-DEF.123")
    assert not pattern.match("Basic dXNlcjpwYXNz") and not pattern.match("Bearer ")
    for logical_id, routes in ROUTES.items():
        events = FUNCTIONS[logical_id]["Properties"].get("Events") or {}
        found = set()
        for event in events.values():
            assert event["Type"] == "Api"
            properties = event["Properties"]
            assert properties["RestApiId"] == {"Ref": "CapiWritebackApi"}
            found.add((properties["Method"].upper(), properties["Path"]))
            public = properties.get("Auth", {}).get("Authorizer") == "NONE"
            assert public == (logical_id == "DocsFunction"), (logical_id, properties)
        assert found == routes


def test_api_throttling_defaults() -> None:
    settings = RESOURCES["CapiWritebackApi"]["Properties"]["MethodSettings"]
    assert settings[0]["ResourcePath"] == "/*" and settings[0]["HttpMethod"] == "*"
    assert "ThrottlingRateLimit" in settings[0] and "ThrottlingBurstLimit" in settings[0]


def _gateway_body(response_type: str) -> tuple[int, dict[str, Any]]:
    response = RESOURCES["CapiWritebackApi"]["Properties"]["GatewayResponses"][response_type]
    text = response["ResponseTemplates"]["application/json"].replace("$context.requestId", "req-1")
    return int(response.get("StatusCode", 500)), json.loads(text)


@pytest.mark.parametrize("response_type", ["UNAUTHORIZED", "ACCESS_DENIED"])
def test_refused_tokens_answer_the_spec_unauthenticated_error(response_type: str) -> None:
    status, body = _gateway_body(response_type)
    spec = ERRORS["UNAUTHENTICATED"]
    assert status == spec.status == 401
    assert body == {"error": {"type": "UNAUTHENTICATED", "message": spec.message, "fix": spec.fix,
                              "request_id": "req-1"}}


@pytest.mark.parametrize(("response_type", "error_type"), [("MISSING_AUTHENTICATION_TOKEN", "NOT_FOUND"),
                                                           ("DEFAULT_5XX", "INTERNAL"),
                                                           ("THROTTLED", "THROTTLED")])
def test_gateway_errors_reuse_the_error_table(response_type: str, error_type: str) -> None:
    status, body = _gateway_body(response_type)
    spec = ERRORS[error_type]
    assert body["error"]["type"] == error_type
    assert (body["error"]["message"], body["error"]["fix"]) == (spec.message, spec.fix)
    if response_type != "DEFAULT_5XX":
        assert status == spec.status


def test_outputs_name_the_api_url_and_every_table() -> None:
    outputs = TEMPLATE["Outputs"]
    assert "ApiUrl" in outputs
    referenced = {o["Value"].get("Ref") for o in outputs.values() if isinstance(o["Value"], dict)}
    assert set(resources_of_type(TEMPLATE, "AWS::DynamoDB::Table")) <= referenced


def test_cfn_lint_passes() -> None:
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(ROOT / "template.yaml", ManualArgs())
    assert [str(m) for m in matches] == []


def test_state_machine_role_only_invokes_its_steps_and_asks_for_approval() -> None:
    machine = RESOURCES["ConfirmWorkflow"]["Properties"]
    assert "Role" not in machine  # SAM makes it a role of its own from these statements
    scoped = [s for s in statements(machine["Policies"]) if s["Resource"] != "*"]
    everywhere = [s for s in statements(machine["Policies"]) if s["Resource"] == "*"]
    assert grants(scoped) == {
        "PreviewFunction": {"lambda:InvokeFunction"}, "DryRunFunction": {"lambda:InvokeFunction"},
        "ConfirmFunction": {"lambda:InvokeFunction"}, "WeakShareFunction": {"lambda:InvokeFunction"},
        "ApprovalQueue": {"sqs:SendMessage"},
    }
    # Log delivery is the one thing AWS only grants on "*"; nothing else may be.
    assert all(a.startswith("logs:") for s in everywhere for a in as_list(s["Action"]))
    assert machine["Logging"]["IncludeExecutionData"] is False
    assert machine["Type"] == "STANDARD"
    queue = RESOURCES["ApprovalQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    wait = json.loads((ROOT / machine["DefinitionUri"]).read_text())["States"]["WaitForApproval"]
    assert queue["MessageRetentionPeriod"] > wait["TimeoutSeconds"]
