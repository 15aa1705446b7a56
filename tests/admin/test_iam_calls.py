"""Least privilege must still be enough: every AWS call an admin function makes while serving each
of its routes (and its sample event in events/) is granted by its role in template.yaml."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from capi_writeback_local.cfn_template import load_template, resources_of_type
from capi_writeback_local.stack import table_env_vars

from tests.admin.conftest import ROUTES, LambdaContext, Team, load_handler
from tests.admin.test_roles import CALLS, PREPARE
from tests.infra.iam import grants, statements

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
FUNCTIONS = resources_of_type(TEMPLATE, "AWS::Serverless::Function")
LOGICAL = {"workspace": "WorkspaceFunction", "profiles": "ProfilesFunction",
           "connection": "ConnectionFunction", "quality": "QualityFunction", "dashboard": "DashboardFunction"}
# TransactWriteItems is authorized per item, as the action of each item
TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem"}


class Recorder:
    def __init__(self, tables: dict[str, str]) -> None:
        env_to_logical = table_env_vars(TEMPLATE)
        self.logical = {name: env_to_logical[env] for env, name in tables.items()}
        self.calls: set[tuple[str, str]] = set()

    def record(self, client: Any, operation: str, params: dict[str, Any]) -> None:
        service = client.meta.service_model.endpoint_prefix
        if service == "secretsmanager":
            secret = str(params["SecretId"] if "SecretId" in params else params["Name"])
            self.calls.add((f"secretsmanager:{operation}", "secret:" + secret.rsplit("/", 1)[0] + "/*"))
            return
        if operation == "TransactWriteItems":
            for item in params["TransactItems"]:
                ((kind, request),) = item.items()
                self.calls.add((f"dynamodb:{TRANSACT[kind]}", self.logical[request["TableName"]]))
            return
        index = f"/index/{params['IndexName']}" if "IndexName" in params else ""
        self.calls.add((f"{service}:{operation}", self.logical[params["TableName"]] + index))


@pytest.fixture()
def recorder(team: Team) -> Iterator[Recorder]:
    import botocore.client

    log = Recorder(team.env.tables)
    real = botocore.client.BaseClient._make_api_call

    def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
        log.record(client, operation, params)
        return real(client, operation, params)

    botocore.client.BaseClient._make_api_call = recording  # type: ignore[method-assign]
    try:
        yield log
    finally:
        botocore.client.BaseClient._make_api_call = real  # type: ignore[method-assign]


def _sample(name: str, team: Team) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / f"{name}.json").read_text())
    authorizer = event["requestContext"].get("authorizer")
    if authorizer:
        authorizer.update(workspace_id=team.workspace_id, user_id=team["owner"].user_id,
                          principalId=team["owner"].user_id)
    if event.get("pathParameters") and "profile_id" in event["pathParameters"]:
        sample_id = event["pathParameters"]["profile_id"]
        event["pathParameters"]["profile_id"] = team.profile_id
        event["path"] = event["path"].replace(sample_id, team.profile_id)
        event["requestContext"]["path"] = event["requestContext"]["path"].replace(sample_id, team.profile_id)
    if name == "connection":
        body = json.loads(event["body"])
        body["access_token"] = team.env.emulator_token
        event["body"] = json.dumps(body)
    return event


@pytest.mark.parametrize("function", sorted(LOGICAL))
def test_every_call_of_an_admin_function_is_granted(team: Team, recorder: Recorder, function: str) -> None:
    from tests.lambdas.conftest import META_TOKEN

    team.env.emulator_token = META_TOKEN  # type: ignore[attr-defined]
    routes = [route for route, (folder, _m, _r) in ROUTES.items() if folder == function]
    prepared = {route: PREPARE.get(route, lambda _t: None)(team) for route in routes}
    recorder.calls.clear()
    for route in routes:
        assert CALLS[route](team, team["owner"], prepared[route]).status == 200, route
    result = load_handler(function)(_sample(function, team), LambdaContext(aws_request_id="sample"))
    assert result["statusCode"] == 200, result["body"]
    if function == "connection":  # and reconnecting after a disconnect (restore, new version)
        assert CALLS["connection_delete"](team, team["owner"], None).status == 200
        assert CALLS["connection_put"](team, team["owner"], None).status == 200
    allowed = grants(statements(FUNCTIONS[LOGICAL[function]]["Properties"].get("Policies")))
    for action, resource in sorted(recorder.calls):
        assert action in allowed.get(resource, set()), f"{function} calls {action} on {resource}"
    if function == "dashboard":
        assert recorder.calls == set()
