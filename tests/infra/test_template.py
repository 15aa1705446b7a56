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
from capi_writeback.rails.idempotency.ledger import ConfirmLedger
from capi_writeback_local.cfn_template import load_template, resources_of_type

from .iam import MANAGED_POLICIES, as_list, grants, managed_policy_of, resource_name, statements

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
GLOBALS: dict[str, Any] = TEMPLATE["Globals"]["Function"]
FUNCTIONS = resources_of_type(TEMPLATE, "AWS::Serverless::Function")

FOLDERS = {
    "AuthorizerFunction": "authorizer", "PreviewFunction": "preview", "DryRunFunction": "dry_run",
    "ConfirmFunction": "confirm", "ConversionsFunction": "conversions", "AuditFunction": "audit",
    "BreakerResetFunction": "breaker_reset", "DocsFunction": "docs", "McpFunction": "mcp",
    "WorkspaceFunction": "workspace", "ProfilesFunction": "profiles", "ConnectionFunction": "connection",
    "QualityFunction": "quality", "DashboardFunction": "dashboard",
    "SendEventFunction": "send_event",
    "SyncsFunction": "syncs", "SyncRunsFunction": "sync_runs", "SyncPlanFunction": "sync_plan",
    "SyncChildFunction": "sync_child", "SyncFinishFunction": "sync_finish",
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
    "McpFunction": {("POST", "/v1/mcp")},
    "WorkspaceFunction": {("GET", "/v1/workspace"), ("PATCH", "/v1/workspace/settings"),
                          ("PUT", "/v1/workspace/members/{user_id}"),
                          ("DELETE", "/v1/workspace/members/{user_id}"),
                          ("GET", "/v1/workspace/audit"), ("POST", "/v1/tokens"), ("GET", "/v1/tokens"),
                          ("DELETE", "/v1/tokens/{token_id}")},
    "ProfilesFunction": {("POST", "/v1/profiles"), ("GET", "/v1/profiles"),
                         ("GET", "/v1/profiles/{profile_id}"),
                         ("PATCH", "/v1/profiles/{profile_id}")},
    "ConnectionFunction": {("PUT", "/v1/profiles/{profile_id}/connection"),
                           ("DELETE", "/v1/profiles/{profile_id}/connection")},
    "QualityFunction": {("GET", "/v1/profiles/{profile_id}/quality")},
    "DashboardFunction": {("GET", "/v1/dashboard")},
    "SendEventFunction": {("POST", "/v1/profiles/{profile_id}/events")},
    "AuthorizerFunction": set(),
    "WeakShareFunction": set(),
    "SyncsFunction": {("POST", "/v1/profiles/{profile_id}/syncs"), ("GET", "/v1/profiles/{profile_id}/syncs"),
                      ("GET", "/v1/profiles/{profile_id}/syncs/{sync_id}"),
                      ("PATCH", "/v1/profiles/{profile_id}/syncs/{sync_id}"),
                      ("DELETE", "/v1/profiles/{profile_id}/syncs/{sync_id}")},
    "SyncRunsFunction": {("POST", "/v1/profiles/{profile_id}/syncs/{sync_id}/runs"),
                         ("GET", "/v1/profiles/{profile_id}/syncs/{sync_id}/runs"),
                         ("GET", "/v1/profiles/{profile_id}/syncs/{sync_id}/runs/{run_id}"),
                         ("GET", "/v1/profiles/{profile_id}/syncs/{sync_id}/runs/{run_id}/rows")},
    "SyncPlanFunction": set(),
    "SyncChildFunction": set(),
    "SyncFinishFunction": set(),
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
    # The MCP tools run the same steps as preview, dry-run, confirm and the audit read.
    "McpFunction": {
        **SEND_READS, SECRETS: {"secretsmanager:GetSecretValue"},
        "IdempotencyTable": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                             "dynamodb:BatchGetItem"},
        "BreakerTable": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
        "AuditTable": {"dynamodb:PutItem", "dynamodb:Query"},
        "ProfilesTable/index/by_workspace": {"dynamodb:Query"},  # whoami; a profile by its pixel
    },
    # One event: the directory, its ledger items (event#..., see the LeadingKeys test), the breaker,
    # the audit trail and the Meta token; no conversions table.
    "SendEventFunction": {
        **DIRECTORY, SECRETS: {"secretsmanager:GetSecretValue"}, "AuditTable": {"dynamodb:PutItem"},
        "IdempotencyTable": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
        "BreakerTable": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
    },
    # Administration (SPEC §11): each function what its routes call, nothing more.
    "WorkspaceFunction": {
        "WorkspacesTable": {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem",
                            "dynamodb:DeleteItem"},
        "TokensTable": {"dynamodb:PutItem", "dynamodb:DeleteItem"},
        "TokensTable/index/by_workspace": {"dynamodb:Query"},
        "AuditTable": {"dynamodb:PutItem", "dynamodb:Query"},
    },
    "ProfilesFunction": {
        **DIRECTORY, "ProfilesTable": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
        "ProfilesTable/index/by_workspace": {"dynamodb:Query"},
        "BreakerTable": {"dynamodb:GetItem"}, "AuditTable": {"dynamodb:PutItem"},
    },
    "ConnectionFunction": {
        **DIRECTORY, "ProfilesTable": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
        "AuditTable": {"dynamodb:PutItem"},
        SECRETS: {"secretsmanager:CreateSecret", "secretsmanager:PutSecretValue",
                  "secretsmanager:DeleteSecret", "secretsmanager:RestoreSecret"},
    },
    "QualityFunction": {**DIRECTORY, "AuditTable": {"dynamodb:Query"},
                        SECRETS: {"secretsmanager:GetSecretValue"}},
    "DashboardFunction": {},
    # Warehouse syncs (docs/syncs.md).
    "SyncsFunction": {
        **DIRECTORY, "AuditTable": {"dynamodb:PutItem"}, "SyncExportBucket": {"s3:ListBucket"},
        "SyncsTable": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                       "dynamodb:Query"},
        "scheduler:schedule/${AWS::StackName}-syncs/cwb-sync-*": {
            "scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule"},
        "SyncSchedulerRole": {"iam:PassRole"},
    },
    "SyncRunsFunction": {
        **DIRECTORY, "AuditTable": {"dynamodb:PutItem"},
        "SyncsTable": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
        "SyncRunsTable": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"},
        "SyncWorkflow": {"states:StartExecution"},
    },
    "SyncPlanFunction": {
        **DIRECTORY, "BreakerTable": {"dynamodb:GetItem"},
        "SyncsTable": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
        "SyncRunsTable": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
        "SyncExportBucket": {"s3:ListBucket"}, "SyncExportBucket/*": {"s3:GetObject"},
        "SyncWorkBucket/manifests/*": {"s3:PutObject"},
    },
    "SyncChildFunction": {
        **DIRECTORY, "BreakerTable": {"dynamodb:GetItem"}, SECRETS: {"secretsmanager:GetSecretValue"},
        "SyncExportBucket/*": {"s3:GetObject"}, "SyncRunsTable": {"dynamodb:GetItem", "dynamodb:PutItem"},
        "SyncLedgerTable": {"dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"},
    },
    "SyncFinishFunction": {
        **DIRECTORY, "BreakerTable": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
        "AuditTable": {"dynamodb:PutItem"},
        "SyncRunsTable": {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"},
        "SyncsTable": {"dynamodb:UpdateItem"},
    },
}
# The one function that writes Meta tokens, and what it may do to them (never read one back).
SECRET_WRITER = "ConnectionFunction"
SECRET_WRITES = {"secretsmanager:CreateSecret", "secretsmanager:PutSecretValue",
                 "secretsmanager:DeleteSecret", "secretsmanager:RestoreSecret"}
ROLE_OWNERS = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
AUDIT_WRITES_FORBIDDEN = {
    "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:TransactWriteItems",
    "dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete", "dynamodb:DeleteTable",
    "dynamodb:UpdateTable", "dynamodb:RestoreTableToPointInTime", "dynamodb:ImportTable",
}


def _all_iam_statements() -> list[tuple[str, dict[str, Any]]]:
    """Every IAM statement a role of the template is granted, by role: function and state machine
    Policies (the template's managed policies resolved into each role that references them), and
    explicit AWS::IAM::Role / Policy resources. A managed policy may not attach itself elsewhere."""
    found: list[tuple[str, dict[str, Any]]] = []
    for logical_id, resource in RESOURCES.items():
        properties = resource.get("Properties") or {}
        if resource["Type"] in ROLE_OWNERS:
            found.extend((logical_id, s) for s in statements(properties.get("Policies")))
        elif resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies") or []:
                found.extend((logical_id, s) for s in policy["PolicyDocument"]["Statement"])
        elif resource["Type"] == "AWS::IAM::Policy":
            found.extend((logical_id, s) for s in properties["PolicyDocument"]["Statement"])
        elif resource["Type"] == "AWS::IAM::ManagedPolicy":
            assert not {"Roles", "Users", "Groups"} & set(properties), f"{logical_id} attaches itself"
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
    assert set(layers) == {"CapiWritebackLayer", "McpLayer"}
    for logical_id, folder, package in (("CapiWritebackLayer", "capi_writeback", "capi_writeback"),
                                        ("McpLayer", "mcp", "capi_writeback_mcp")):
        layer = layers[logical_id]
        assert layer["Properties"]["ContentUri"] == f"layers/{folder}/"
        assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
        assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
        recipe = (ROOT / f"layers/{folder}/Makefile").read_text()
        assert f"build-{logical_id}:" in recipe and "LAYER_PLATFORM ?= manylinux2014_aarch64" in recipe
        assert "compileall" in recipe and "--invalidation-mode unchecked-hash" in recipe
        assert (ROOT / f"layers/{folder}/{package}/__init__.py").is_file()
    assert GLOBALS["Layers"] == [{"Ref": "CapiWritebackLayer"}]
    for logical_id, function in FUNCTIONS.items():
        if logical_id == "McpFunction":
            continue
        assert "Layers" not in function["Properties"], f"{logical_id} must use the shared layer only"


def test_only_the_mcp_function_carries_the_mcp_sdk() -> None:
    """SAM appends a function's Layers to the Globals ones: the MCP function gets both, and the SDK
    is in its layer only, so the other functions' cold starts do not pay for it."""
    assert FUNCTIONS["McpFunction"]["Properties"]["Layers"] == [{"Ref": "McpLayer"}]
    names = [re.split(r"[<>=~!\[ ;#]", line.strip(), maxsplit=1)[0].lower()
             for line in (ROOT / "layers/mcp/requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert {"mcp", "mangum"} <= set(names)
    shared = (ROOT / "layers/capi_writeback/requirements.txt").read_text().lower()
    assert "mcp" not in re.findall(r"^[a-z0-9_.-]+", shared, re.M) and "mangum" not in shared
    mcp_import = re.compile(r"^\s*(import|from) (mcp|mangum|capi_writeback_mcp)\b", re.M)
    for path in (ROOT / "layers/capi_writeback/capi_writeback").rglob("*.py"):
        assert not mcp_import.search(path.read_text()), path


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


def test_only_the_functions_that_call_meta_read_meta_tokens() -> None:
    """The senders and the quality read hold GetSecretValue; the connection function writes tokens
    and can never read one back."""
    readers = {owner for owner, s in _all_iam_statements()
               if "secretsmanager:GetSecretValue" in json.dumps(s["Action"])}
    assert readers == {"DryRunFunction", "ConfirmFunction", "McpFunction", "QualityFunction",
                       "SendEventFunction", "SyncChildFunction"}
    for owner, statement in _all_iam_statements():
        if "secretsmanager" in json.dumps(statement["Action"]):
            allowed = SECRET_WRITES if owner == SECRET_WRITER else {"secretsmanager:GetSecretValue"}
            assert set(as_list(statement["Action"])) == allowed, owner
            assert resource_name(statement["Resource"]) == "secret:capi-writeback/connections/*"


def test_the_single_event_function_may_touch_its_own_ledger_items_only() -> None:
    """Its ledger shares the idempotency table with the confirm's: DynamoDB's LeadingKeys condition
    keeps it to the items whose id starts with `event#` (rails/event_ledger)."""
    from capi_writeback.rails.event_ledger.ledger import record_id

    (ledger,) = [s for s in statements(FUNCTIONS["SendEventFunction"]["Properties"]["Policies"])
                 if resource_name(s["Resource"]) == "IdempotencyTable"]
    assert ledger["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["event#*"]}}
    assert record_id("1234", "Purchase", "ev-1").startswith("event#")


def _statement_key(statement: dict[str, Any]) -> tuple[frozenset[str], frozenset[str]]:
    return (frozenset(as_list(statement["Action"])),
            frozenset(resource_name(r) for r in as_list(statement["Resource"])))


def test_shared_statements_live_in_managed_policies() -> None:
    """A statement two roles need is written once, as a managed policy both reference; each managed
    policy is shared (else it belongs inline) and only this template's policies are referenced."""
    users: dict[str, set[str]] = {name: set() for name in MANAGED_POLICIES}
    inline: dict[tuple[frozenset[str], frozenset[str]], set[str]] = {}
    for logical_id, resource in RESOURCES.items():
        if resource["Type"] not in ROLE_OWNERS:
            continue
        for policy in resource["Properties"].get("Policies") or []:
            managed = managed_policy_of(policy)
            if managed is not None:
                users[managed].add(logical_id)
            else:
                for statement in policy["Statement"]:
                    if statement["Resource"] != "*":
                        inline.setdefault(_statement_key(statement), set()).add(logical_id)
    assert users and all(len(owners) >= 2 for owners in users.values()), users
    assert {k: v for k, v in inline.items() if len(v) > 1} == {}
    shared = {_statement_key(s) for m in MANAGED_POLICIES.values()
              for s in m["Properties"]["PolicyDocument"]["Statement"]}
    assert not shared & set(inline), "an inline statement repeats a managed policy"


def test_the_only_explicit_role_lets_api_gateway_write_logs() -> None:
    roles = resources_of_type(TEMPLATE, "AWS::IAM::Role")
    assert set(roles) == {"ApiGatewayCloudWatchRole", "SyncSchedulerRole"}  # the latter: tests/syncs
    role = roles["ApiGatewayCloudWatchRole"]
    assert role["Condition"] == "CreateApiGatewayLogsRole"
    assert role["DeletionPolicy"] == "Retain"  # the account-wide setting keeps pointing at it
    properties = role["Properties"]
    assert "Policies" not in properties
    trust = properties["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                      "Action": "sts:AssumeRole"}]
    push_logs = "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    assert properties["ManagedPolicyArns"] == [{"Fn::Sub": push_logs}]


def test_table_settings() -> None:
    tables = resources_of_type(TEMPLATE, "AWS::DynamoDB::Table")
    assert set(tables) == {"WorkspacesTable", "TokensTable", "ProfilesTable", "ConversionsTable",
                           "IdempotencyTable", "BreakerTable", "AuditTable", "SyncsTable", "SyncRunsTable",
                           "SyncLedgerTable"}
    for logical_id, table in tables.items():
        properties = table["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST", logical_id
        assert properties["SSESpecification"]["SSEEnabled"] is True, logical_id
        pitr = properties.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
        assert bool(pitr) == (logical_id in ("AuditTable", "ConversionsTable", "SyncsTable",
                                             "SyncLedgerTable")), logical_id
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
            assert public == (logical_id in ("DocsFunction", "DashboardFunction")), (logical_id, properties)
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
                                                           ("THROTTLED", "THROTTLED"),
                                                           ("INTEGRATION_TIMEOUT", "GATEWAY_TIMEOUT")])
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
