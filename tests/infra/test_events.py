"""events/*.json are real API Gateway proxy events for their routes, and the handlers answer them.

Each sample event is checked against the template's route for its function, then handed to that
function in-process (moto tables from the template, the Meta emulator on 127.0.0.1), in the order a
user would run them: store conversions, preview, dry-run, confirm, read the audit, reset the breaker.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from capi_writeback_local.cfn_template import load_template, resources_of_type
from capi_writeback_local.lambda_runtime import FunctionPool, LambdaContext
from capi_writeback_local.meta_emulator import MetaEmulator
from capi_writeback_local.stack import create_tables, seed_demo, table_env
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
TEMPLATE = load_template(ROOT / "template.yaml")
FOLDER_OF = {lid: f["Properties"]["CodeUri"].strip("/").split("/")[-1]
             for lid, f in resources_of_type(TEMPLATE, "AWS::Serverless::Function").items()
             if "CodeUri" in f["Properties"]}
PIXEL_ID = "1234567890"
META_TOKEN = "meta-token-for-events"


def _routes() -> dict[str, set[tuple[str, str]]]:
    routes: dict[str, set[tuple[str, str]]] = {}
    for logical_id, function in resources_of_type(TEMPLATE, "AWS::Serverless::Function").items():
        if logical_id not in FOLDER_OF:
            continue
        for event in (function["Properties"].get("Events") or {}).values():
            routes.setdefault(FOLDER_OF[logical_id], set()).add(
                (event["Properties"]["Method"].upper(), event["Properties"]["Path"]))
    return routes


ROUTES = _routes()


def _event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return data


def test_one_event_per_function() -> None:
    assert {p.stem for p in EVENTS.glob("*.json")} == set(FOLDER_OF.values())


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_event_is_a_proxy_event_for_its_route(name: str) -> None:
    event = _event(name)
    assert (event["httpMethod"], event["resource"]) in ROUTES[name]
    path = event["resource"]
    for key, value in (event["pathParameters"] or {}).items():
        path = path.replace("{" + key + "}", value)
    assert "{" not in path and event["path"] == path
    context = event["requestContext"]
    assert context["resourcePath"] == event["resource"] and context["httpMethod"] == event["httpMethod"]
    assert context["path"] == f"/{context['stage']}{path}"
    assert context["requestId"]
    assert event["isBase64Encoded"] is False
    for key, values in event["multiValueHeaders"].items():
        assert values == [event["headers"][key]]
    if event["body"] is not None:
        assert isinstance(json.loads(event["body"]), dict)
        assert event["headers"]["Content-Type"] == "application/json"
    protected = name not in ("docs", "dashboard")  # the public routes
    assert ("authorizer" in context) == protected
    if protected:
        assert event["headers"]["Authorization"].startswith("Bearer ")
        assert {"workspace_id", "user_id", "scopes"} <= set(context["authorizer"])


def test_authorizer_event_is_a_token_event() -> None:
    event = _event("authorizer")
    assert event["type"] == "TOKEN"
    assert event["authorizationToken"].startswith("Bearer ")
    assert event["methodArn"].startswith("arn:aws:execute-api:")


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[MetaEmulator, Any, FunctionPool]]:
    from aws_lambda_powertools.utilities import parameters
    from capi_writeback import store
    from capi_writeback.flow import set_default_services

    saved = dict(os.environ)
    with mock_aws(), MetaEmulator(tokens=(META_TOKEN,), pixel_ids=(PIXEL_ID,)) as meta:
        os.environ.pop("AWS_ENDPOINT_URL", None)
        store.reset_client()
        set_default_services(None)
        parameters.clear_caches()
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        tables = create_tables(dynamodb)
        os.environ.update(tables)
        os.environ.update({"META_BASE_URL": meta.url, "META_READ_TIMEOUT": "5"})
        sample = _event("preview")
        auth = sample["requestContext"]["authorizer"]
        seed = seed_demo(dynamodb, boto3.client("secretsmanager", region_name="us-east-1"), tables,
                         pixel_id=PIXEL_ID, meta_token=META_TOKEN, workspace_id=auth["workspace_id"],
                         user_id=auth["user_id"], profile_id=sample["pathParameters"]["profile_id"])
        try:
            yield meta, seed, FunctionPool()
        finally:
            set_default_services(None)
            store.reset_client()
            os.environ.clear()
            os.environ.update(saved)


class CallLog:
    """Every AWS API call made while a function runs: function -> {(action, resource)}."""

    def __init__(self, tables: dict[str, str]) -> None:
        from capi_writeback_local.stack import table_env_vars

        env_to_logical = table_env_vars(TEMPLATE)
        self.logical_of = {name: env_to_logical[env] for env, name in tables.items()}
        self.current: str | None = None
        self.calls: dict[str, set[tuple[str, str]]] = {}

    def record(self, client: Any, operation: str, params: dict[str, Any]) -> None:
        if self.current is None:
            return
        service = client.meta.service_model.endpoint_prefix
        tables = [params["TableName"]] if "TableName" in params else list(params.get("RequestItems") or {})
        for item in params.get("TransactItems") or []:
            tables.extend(v["TableName"] for v in item.values())
        resources = [self.logical_of[t] + (f"/index/{params['IndexName']}" if "IndexName" in params else "")
                     for t in tables]
        if service == "secretsmanager":
            resources = ["secret:" + str(params["SecretId"]).rsplit("/", 1)[0] + "/*"]
        for resource in resources or ["*"]:
            self.calls.setdefault(self.current, set()).add((f"{service}:{operation}", resource))


def _cold_start() -> None:
    """Each function runs in its own process on Lambda: forget cached clients, secrets and services
    (a Meta client that retries twice without sleeping keeps the fault step fast)."""
    from aws_lambda_powertools.utilities import parameters
    from capi_writeback import store
    from capi_writeback.flow import Services, set_default_services
    from capi_writeback.meta.client import MetaClient
    from capi_writeback.meta.config import MetaClientConfig
    from capi_writeback.meta.credentials import SecretsManagerCredentials

    parameters.clear_caches()
    store.reset_client()
    credentials = SecretsManagerCredentials()

    def meta_factory(api_version: str | None) -> MetaClient:
        return MetaClient(MetaClientConfig.from_env(max_attempts=2, max_total_seconds=5.0), credentials,
                          sleep=lambda _s: None)

    set_default_services(Services(meta_factory=meta_factory))


class Runner:
    """Invokes functions the way Lambda would (fresh process state each time), logging AWS calls."""

    def __init__(self, pool: FunctionPool, log: CallLog) -> None:
        self.pool, self.log = pool, log

    def raw(self, name: str, event: dict[str, Any]) -> Any:
        _cold_start()
        self.log.current = name
        try:
            return self.pool.invoke(name, event, LambdaContext(name, "us-east-1", "123456789012"))
        finally:
            self.log.current = None

    def __call__(self, name: str, event: dict[str, Any]) -> tuple[int, Any]:
        result = self.raw(name, event)
        body = result["body"]
        parsed = json.loads(body) if body and body.lstrip().startswith(("{", "[")) else body
        return result["statusCode"], parsed


@pytest.fixture(scope="module")
def flow(world: tuple[MetaEmulator, Any, FunctionPool]) -> Iterator[tuple[dict[str, Any], CallLog]]:
    """Every sample event, in the order a user runs them, with every AWS call recorded."""
    import botocore.client

    meta, seed, pool = world
    log = CallLog({k: os.environ[k] for k in table_env()})
    real = botocore.client.BaseClient._make_api_call

    def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
        log.record(client, operation, params)
        return real(client, operation, params)

    botocore.client.BaseClient._make_api_call = recording  # type: ignore[method-assign]
    try:
        run = Runner(pool, log)
        out: dict[str, Any] = {}
        out["authorizer"] = run.raw("authorizer", {**_event("authorizer"),
                                                   "authorizationToken": f"Bearer {seed.api_token}"})
        # The sample rows carry fixed dates; move them into the last day so they are sendable now.
        conversions = _event("conversions")
        body = json.loads(conversions["body"])
        for i, row in enumerate(body["rows"]):
            row["occurred_at"] = int(time.time()) - 3600 - i
        conversions["body"] = json.dumps(body)
        out["rows"] = len(body["rows"])
        out["conversions"] = run("conversions", conversions)
        out["preview"] = run("preview", _event("preview"))
        out["dry_run"] = run("dry_run", _event("dry_run"))
        # Meta down for the first confirm: it fails (and is released for retry); the retry with
        # the same key resumes and succeeds.
        meta.inject("http_503", count=50)
        out["confirm_failed"] = run("confirm", _event("confirm"))
        meta.clear_faults()
        out["confirm"] = run("confirm", _event("confirm"))
        out["live_events"] = len(meta.received_events(PIXEL_ID))
        # One event, live (its sample's time moved to now too), then the same again: a replay.
        send = _event("send_event")
        body = json.loads(send["body"])
        body["event_time"] = int(time.time()) - 60
        send["body"] = json.dumps(body)
        out["send_event"] = run("send_event", send)
        out["send_event_again"] = run("send_event", send)
        out["live_events_after_send"] = len(meta.received_events(PIXEL_ID))
        out["audit"] = run("audit", _event("audit"))
        out["breaker_reset"] = run("breaker_reset", _event("breaker_reset"))
        out["docs"] = run("docs", _event("docs"))
        # The MCP function runs the same steps through its tools: the sample (a preview), then the
        # other modes and the audit read, so every AWS call it makes is checked against its policy.
        out["mcp"] = run("mcp", _event("mcp"))
        sample_event = {**json.loads(send["body"]), "event_id": "mcp-sample-event", "pixel_id": PIXEL_ID}
        for name, arguments in (("dry_run", {"mode": "dry_run"}),
                                ("confirm", {"mode": "confirm", "idempotency_key": "mcp-sample-1"}),
                                ("whoami", {"tool": "whoami", "arguments": {}}),
                                ("event", {"tool": "meta_send_conversion_event", "arguments": sample_event}),
                                ("only_profile", {"mode": "preview", "profile_id": None}),
                                ("audit", {"tool": "get_writeback_audit", "limit": 5})):
            out[f"mcp_{name}"] = run("mcp", _mcp_call(arguments))
        yield out, log
    finally:
        botocore.client.BaseClient._make_api_call = real  # type: ignore[method-assign]


def _mcp_call(changes: dict[str, Any]) -> dict[str, Any]:
    """The MCP sample event calling another tool or mode (selection and profile as in the sample)."""
    event = _event("mcp")
    body = json.loads(event["body"])
    changes = dict(changes)
    tool = changes.pop("tool", None)
    if tool is not None:
        body["params"]["name"] = tool
        body["params"]["arguments"] = changes.pop(
            "arguments", {"profile_id": body["params"]["arguments"]["profile_id"]})
        event["headers"]["Mcp-Name"] = tool
        event["multiValueHeaders"]["Mcp-Name"] = [tool]
    body["params"]["arguments"].update(changes)
    body["params"]["arguments"] = {k: v for k, v in body["params"]["arguments"].items() if v is not None}
    event["body"] = json.dumps(body)
    return event


def _tool_result(answer: tuple[int, Any]) -> dict[str, Any]:
    status, body = answer
    assert status == 200, body
    result: dict[str, Any] = body["result"]
    assert result["isError"] is False, result
    return result


def test_the_sample_events_run_the_whole_flow(flow: tuple[dict[str, Any], CallLog]) -> None:
    out, _log = flow
    status, stored = out["conversions"]
    assert status == 200, stored
    assert stored["stored"] + len(stored["rejected"]) == out["rows"]
    status, preview = out["preview"]
    assert status == 200, preview
    assert preview["event_count"] >= 1
    status, dry_run = out["dry_run"]
    assert status == 200, dry_run
    assert dry_run["events_received"] == preview["event_count"]
    status, failed = out["confirm_failed"]
    assert status == 504 and failed["error"]["type"] == "META_UNAVAILABLE", failed
    status, confirm = out["confirm"]
    assert status == 200, confirm
    assert confirm["status"] == "succeeded"
    assert out["live_events"] == preview["event_count"]
    status, sent = out["send_event"]
    assert status == 200 and sent["events_received"] == 1 and sent["replayed"] is False, sent
    status, again = out["send_event_again"]
    assert status == 200 and again["replayed"] is True and again["event_id"] == "order-20261124-0042"
    assert out["live_events_after_send"] == out["live_events"] + 1
    status, audit = out["audit"]
    assert status == 200, audit
    assert [row["operation"] for row in audit["items"]][:6] == [
        "send_event", "send_event", "confirm", "confirm", "dry_run", "preview"]
    status, reset = out["breaker_reset"]
    assert status == 200, reset
    status, docs = out["docs"]
    assert status == 200 and docs["openapi"].startswith("3.")
    mcp_preview = _tool_result(out["mcp"])["structuredContent"]
    assert mcp_preview["operation"] == "preview" and mcp_preview["event_count"] == preview["event_count"]
    assert _tool_result(out["mcp_dry_run"])["structuredContent"]["events_received"] == preview["event_count"]
    assert _tool_result(out["mcp_confirm"])["structuredContent"]["status"] == "succeeded"
    whoami = _tool_result(out["mcp_whoami"])["structuredContent"]
    assert [p["pixel_id"] for p in whoami["profiles"]] == [PIXEL_ID] and whoami["unmet"] == []
    assert _tool_result(out["mcp_event"])["structuredContent"]["events_received"] == 1
    assert _tool_result(out["mcp_only_profile"])["structuredContent"]["operation"] == "preview"
    rows = _tool_result(out["mcp_audit"])["structuredContent"]["items"]
    assert [row["operation"] for row in rows][:4] == ["preview", "send_event", "confirm", "dry_run"]


def test_authorizer_event_with_a_real_token(world: tuple[MetaEmulator, Any, FunctionPool],
                                            flow: tuple[dict[str, Any], CallLog]) -> None:
    _meta, seed, pool = world
    result = flow[0]["authorizer"]
    assert result["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert result["context"]["workspace_id"] == seed.workspace_id
    with pytest.raises(Exception, match="Unauthorized"):  # the sample's placeholder token
        pool.invoke("authorizer", _event("authorizer"), LambdaContext("authorizer", "us-east-1", "1"))


def test_every_aws_call_made_by_a_function_is_granted_by_its_template_policy(
        flow: tuple[dict[str, Any], CallLog]) -> None:
    """Least privilege must still be enough: each call made in the sample flow is allowed."""
    from .iam import grants, statements

    calls_by_function = flow[1].calls
    functions = resources_of_type(TEMPLATE, "AWS::Serverless::Function")
    logical_of = {folder: lid for lid, folder in FOLDER_OF.items()}
    for name, calls in calls_by_function.items():
        allowed = grants(statements(functions[logical_of[name]]["Properties"].get("Policies")))
        for action, resource in sorted(calls):
            assert action in allowed.get(resource, set()), f"{name} calls {action} on {resource}"
    assert set(calls_by_function) == {"authorizer", "preview", "dry_run", "confirm", "conversions", "audit",
                                      "breaker_reset", "mcp", "send_event"}  # docs makes no AWS call
