"""Least privilege is enough: every AWS call the sync functions and the sync state machine make in a
whole life of a sync (save with a schedule, dry run, live run, Athena run, change, delete) is granted
by their own policies in template.yaml."""

from __future__ import annotations

import fnmatch
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from capi_writeback_local.cfn_template import load_template, resources_of_type
from capi_writeback_local.stack import table_env_vars

from tests.infra.iam import ROOT, grants, statements

from .conftest import World, as_csv, rows

TEMPLATE = load_template(ROOT / "template.yaml")
FUNCTIONS = resources_of_type(TEMPLATE, "AWS::Serverless::Function")
LOGICAL = {
    "syncs": "SyncsFunction",
    "sync_runs": "SyncRunsFunction",
    "sync_plan": "SyncPlanFunction",
    "sync_child": "SyncChildFunction",
    "sync_finish": "SyncFinishFunction",
}
_current = threading.local()


class Calls:
    """AWS calls by who made them: a function (its folder) or the state machine (moto's own calls)."""

    def __init__(self, world: World) -> None:
        tables = table_env_vars(TEMPLATE)
        self.table = {world.tables[env]: lid for env, lid in tables.items()}
        self.bucket = {
            world.sync_env["SYNC_EXPORT_BUCKET"]: "SyncExportBucket",
            world.sync_env["SYNC_WORK_BUCKET"]: "SyncWorkBucket",
        }
        self.group = world.sync_env["SYNC_SCHEDULE_GROUP"]
        self.by: dict[str, set[tuple[str, str]]] = {}
        self.lock = threading.Lock()

    def record(self, client: Any, operation: str, params: dict[str, Any]) -> None:
        who = getattr(_current, "name", None) or "SyncWorkflow"  # moto's threads: the state machine
        if who == "test":
            return  # the test's own setup and polling
        service = client.meta.service_model.endpoint_prefix
        found: list[tuple[str, str]] = []
        if service == "dynamodb":
            for action, table in _dynamodb(operation, params):
                if table in self.table:
                    found.append((f"dynamodb:{action}", self.table[table]))
        elif service == "s3":
            bucket = self.bucket.get(params.get("Bucket", ""), params.get("Bucket", ""))
            if operation in ("ListObjectsV2", "ListObjects"):
                found.append(("s3:ListBucket", bucket))
            elif operation in ("CreateBucket", "HeadBucket"):
                return
            else:
                found.append((f"s3:{operation}", f"{bucket}/{params.get('Key', '')}"))
        elif service == "scheduler":
            name = params.get("Name", "")
            found.append((f"scheduler:{operation}", f"scheduler:schedule/${{AWS::StackName}}-syncs/{name}"))
            if operation in ("CreateSchedule", "UpdateSchedule"):
                assert params.get("GroupName") == self.group
                found.append(("iam:PassRole", "SyncSchedulerRole"))
        elif service in ("states", "sfn"):
            if operation == "StartExecution":
                found.append(
                    (
                        "states:StartExecution",
                        "SyncWorkflow"
                        if who != "SyncWorkflow"
                        else "states:stateMachine:${AWS::StackName}-sync",
                    )
                )
            else:
                return  # the test's own polling
        elif service == "secretsmanager":
            found.append(
                (
                    "secretsmanager:GetSecretValue",
                    "secret:" + str(params["SecretId"]).rsplit("/", 1)[0] + "/*",
                )
            )
        elif service == "lambda":
            name = str(params["FunctionName"]).rsplit(":", 1)[-1]
            logical = next(lid for lid in FUNCTIONS if name.endswith(_kebab(lid)))
            found.append(("lambda:InvokeFunction", logical))
        elif service == "athena":
            found.append((f"athena:{operation}", "athena:workgroup/${SyncAthenaWorkGroup}"))
            if operation == "ListQueryExecutions":
                return  # the test acting as Athena
        else:
            found.append((f"{service}:{operation}", "?"))
        with self.lock:
            self.by.setdefault(who, set()).update(found)


def _kebab(logical_id: str) -> str:
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "-", logical_id).lower()


def _dynamodb(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    if operation == "TransactWriteItems":  # IAM checks each item's own action
        return [
            (kind + "Item" if kind != "ConditionCheck" else "ConditionCheckItem", op["TableName"])
            for entry in params["TransactItems"]
            for kind, op in entry.items()
        ]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(operation, table) for table in params["RequestItems"]]
    return [(operation, params["TableName"])]


@pytest.fixture()
def calls(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    import botocore.client

    from . import conftest

    log = Calls(world)
    real = botocore.client.BaseClient._make_api_call

    def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
        log.record(client, operation, params)
        return real(client, operation, params)

    real_load = conftest.load_handler
    real_invoke = world.lambdas.handler

    def labelled(function: Any, name: str) -> Any:
        def call(event: Any, context: Any) -> Any:
            before = getattr(_current, "name", None)
            _current.name = name
            try:
                return function(event, context)
            finally:
                _current.name = before

        return call

    def load(name: str) -> Any:
        return labelled(real_load(name), name)

    def handler(function_name: str) -> Any:
        folder = world.lambdas.functions[function_name.rsplit(":function:", 1)[-1]].folder
        return labelled(real_invoke(function_name), str(folder))

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    monkeypatch.setattr(conftest, "load_handler", load)
    monkeypatch.setattr(world.lambdas, "handler", handler)
    _current.name = "test"
    try:
        yield log
    finally:
        _current.name = None


def _granted(allowed: dict[str, set[str]], action: str, resource: str) -> bool:
    return any(
        action in actions and fnmatch.fnmatchcase(resource, pattern) for pattern, actions in allowed.items()
    )


def test_every_call_of_a_sync_life_is_granted(world: World, calls: Calls) -> None:
    tenant = world.tenant()
    tenant.put("a.csv.gz", as_csv(rows(5)), compress=True)
    sync = tenant.create(schedule="rate(30 minutes)")
    sync_id = sync["sync_id"]
    assert tenant.run(sync_id)["status"] == "succeeded"
    tenant.go_live(sync_id)
    assert tenant.run(sync_id)["status"] == "succeeded"
    tenant.call("GET", f"/syncs/{sync_id}/runs")
    run_id = tenant.call("GET", f"/syncs/{sync_id}/runs").body["items"][0]["run_id"]
    tenant.call("GET", f"/syncs/{sync_id}/runs/{run_id}/rows")
    athena = tenant.call(
        "PATCH",
        f"/syncs/{sync_id}",
        {
            "source": {
                "type": "athena",
                "query": "SELECT 1",
                "workgroup": "primary",
                "output": tenant.uri("athena/"),
            }
        },
    )
    assert athena.status == 200, athena.body
    stop = threading.Event()

    def act_as_athena() -> None:
        import boto3

        _current.name = "test"
        client, done = boto3.client("athena", region_name="us-east-1"), set()
        while not stop.is_set():
            for query_id in set(client.list_query_executions().get("QueryExecutionIds", [])) - done:
                world.s3.put_object(
                    Bucket=world.export_bucket,
                    Key=f"{tenant.prefix}athena/{query_id}.csv",
                    Body=as_csv(rows(2)),
                )
                done.add(query_id)
            time.sleep(0.05)

    helper = threading.Thread(target=act_as_athena, daemon=True)
    helper.start()
    try:
        assert tenant.run(sync_id)["status"] == "succeeded"
    finally:
        stop.set()
        helper.join(5)
    assert tenant.call("DELETE", f"/syncs/{sync_id}").status == 200

    assert {"syncs", "sync_runs", "sync_plan", "sync_child", "sync_finish", "SyncWorkflow"} <= set(calls.by)
    for who, made in sorted(calls.by.items()):
        if who == "SyncWorkflow":
            policies = TEMPLATE["Resources"]["SyncWorkflow"]["Properties"]["Policies"]
        elif who in LOGICAL:
            policies = FUNCTIONS[LOGICAL[who]]["Properties"].get("Policies")
        else:
            continue
        allowed = grants([s for s in statements(policies) if s["Resource"] != "*"])
        for action, resource in sorted(made):
            assert _granted(allowed, action, resource), f"{who} calls {action} on {resource}"
