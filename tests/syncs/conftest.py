"""Warehouse syncs under moto: tables, buckets, the schedule group and the sync state machine from
template.yaml (moto executes the shipped definition, its Lambda tasks run the functions in this
process), the Meta emulator on 127.0.0.1, and the HTTP functions called with API Gateway proxy events.

One world per module; each test seeds its own workspace and profile (unique ids) and writes its
exports under its own prefix, so tests never see each other's syncs, ledgers or runs. Only the
definition's Retry intervals and Wait are shortened to 1 s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import importlib.util
import itertools
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
PIXEL_ID = "1234567890"
META_TOKEN = "meta-token-for-syncs"
_ids = itertools.count(1)


def fast(definition: str) -> str:
    """The definition with every Retry interval and Wait at 1 s."""
    data = json.loads(definition)

    def shorten(states: dict[str, Any]) -> None:
        for state in states.values():
            for retrier in state.get("Retry", []):
                retrier["IntervalSeconds"] = 1
            if state["Type"] == "Wait":
                state["Seconds"] = 1
            if "ItemProcessor" in state:
                shorten(state["ItemProcessor"]["States"])

    shorten(data["States"])
    return json.dumps(data)


_LOADING = threading.Lock()


def load_handler(name: str) -> Callable[[Any, Any], Any]:
    """functions/<name>/app.py's lambda_handler, loaded once under a unique module name."""
    module_name = f"_cwb_sync_function_{name}"
    with _LOADING:
        return _load(name, module_name)


def _load(name: str, module_name: str) -> Callable[[Any, Any], Any]:
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    handler: Callable[[Any, Any], Any] = module.lambda_handler
    return handler


@dataclass
class Context:
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_name: str = "test"
    timeout_s: float | None = None

    def get_remaining_time_in_millis(self) -> int:
        return int((self.timeout_s or 900) * 1000)


@dataclass
class Answer:
    status: int
    body: Any

    @property
    def error_type(self) -> str | None:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return str(error["type"]) if isinstance(error, dict) else None


def rows(
    n: int, *, start: int = 0, prefix: str = "ord", age: int = 3600, **extra: Any
) -> list[dict[str, Any]]:
    """n model rows as a warehouse would export them (the model's own column names)."""
    now = int(time.time())
    return [
        {
            "order_id": f"{prefix}-{i}",
            "event": "Purchase",
            "ordered_at": now - age - i,
            "customer_email": f"buyer.{i}@example.com",
            "amount": f"{10 + i}.50",
            "currency": "USD",
            "ip": "203.0.113.9",
            **extra,
        }
        for i in range(start, start + n)
    ]


MAPPING = {
    "event_name": {"column": "event"},
    "event_time": {"column": "ordered_at"},
    "em": {"column": "customer_email"},
    "value": {"column": "amount"},
    "currency": {"column": "currency"},
    "client_ip_address": {"column": "ip"},
    "action_source": {"value": "system_generated"},
}


def as_csv(data: list[dict[str, Any]]) -> bytes:
    import csv
    import io

    out = io.StringIO()
    columns = list(dict.fromkeys(k for row in data for k in row))
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(data)
    return out.getvalue().encode()


def as_jsonl(data: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in data)


@dataclass
class Tenant:
    world: World
    workspace_id: str
    user_id: str
    profile_id: str
    prefix: str
    role: str = "owner"

    def authorizer(self, user_id: str | None = None, scopes: str = "mcp:read mcp:write") -> dict[str, str]:
        return {
            "workspace_id": self.workspace_id,
            "user_id": user_id or self.user_id,
            "scopes": scopes,
            "principalId": user_id or self.user_id,
        }

    def member(self, role: str) -> str:
        """Another user of the workspace with `role`; their user id."""
        from capi_writeback.store.directory.dynamodb import DynamoDirectoryStore

        user_id = f"{role}_{next(_ids)}"
        DynamoDirectoryStore().put_member(self.workspace_id, user_id, role)
        return user_id

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        user_id: str | None = None,
        scopes: str = "mcp:read mcp:write",
        query: dict[str, str] | None = None,
    ) -> Answer:
        return self.world.call(
            method,
            f"/v1/profiles/{self.profile_id}{path}",
            body,
            authorizer=self.authorizer(user_id, scopes),
            query=query,
        )

    def uri(self, name: str = "") -> str:
        return f"s3://{self.world.export_bucket}/{self.prefix}{name}"

    def put(self, name: str, data: bytes, *, compress: bool = False) -> str:
        body = gzip.compress(data) if compress else data
        self.world.s3.put_object(Bucket=self.world.export_bucket, Key=self.prefix + name, Body=body)
        return self.prefix + name

    def create(self, **changes: Any) -> dict[str, Any]:
        """A sync of this tenant's export prefix (CSV, the MAPPING above), created over the API."""
        body = {
            "name": "orders",
            "source": {"type": "s3", "uri": self.uri(), "format": "csv"},
            "mapping": MAPPING,
            "primary_key": "order_id",
            **changes,
        }
        answer = self.call("POST", "/syncs", body)
        assert answer.status == 201, answer.body
        created: dict[str, Any] = answer.body
        return created

    def go_live(self, sync_id: str) -> None:
        answer = self.call("PATCH", f"/syncs/{sync_id}", {"mode": "live"})
        assert answer.status == 200, answer.body

    def run(self, sync_id: str, timeout: float = 90.0) -> dict[str, Any]:
        """Start a run over the API and wait for its report."""
        answer = self.call("POST", f"/syncs/{sync_id}/runs")
        assert answer.status == 202, answer.body
        return self.wait(sync_id, answer.body["run_id"], timeout)

    def wait(self, sync_id: str, run_id: str, timeout: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            report = self.call("GET", f"/syncs/{sync_id}/runs/{run_id}")
            assert report.status == 200, report.body
            sync = self.call("GET", f"/syncs/{sync_id}")
            if report.body["status"] != "running" and not sync.body.get("running_run"):
                found: dict[str, Any] = report.body
                return found
            time.sleep(0.05)
        raise AssertionError(f"run {run_id} still running after {timeout} s")

    def audit(self) -> list[dict[str, Any]]:
        items = self.world.dynamodb.query(
            TableName=self.world.tables["AUDIT_TABLE"],
            KeyConditionExpression="profile_id = :p",
            ExpressionAttributeValues={":p": {"S": self.profile_id}},
        )["Items"]
        from capi_writeback.store._dynamo import deserialize

        return [deserialize(i) for i in items]


@dataclass
class World:
    dynamodb: Any
    s3: Any
    sfn: Any
    scheduler: Any
    secrets: Any
    tables: dict[str, str]
    sync_env: dict[str, str]
    meta: Any
    lambdas: Any

    @property
    def export_bucket(self) -> str:
        return self.sync_env["SYNC_EXPORT_BUCKET"]

    def tenant(self, *, test_event_code: str | None = "TEST12345", role: str = "owner") -> Tenant:
        from capi_writeback_local.stack import seed_demo

        n = next(_ids)
        seed = seed_demo(
            self.dynamodb,
            self.secrets,
            self.tables,
            pixel_id=PIXEL_ID,
            meta_token=META_TOKEN,
            workspace_id=f"ws_sync{n}",
            user_id=f"user_sync{n}",
            profile_id=f"prof_sync{n}",
            role=role,
            test_event_code=test_event_code,
        )
        return Tenant(self, seed.workspace_id, seed.user_id, seed.profile_id, f"t{n}/exports/", role)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        authorizer: dict[str, str] | None,
        query: dict[str, str] | None = None,
    ) -> Answer:
        function, resource, params = _route(method, path)
        request_id = f"req-{uuid.uuid4()}"
        event = {
            "resource": resource,
            "path": path,
            "httpMethod": method,
            "headers": {"Content-Type": "application/json"},
            "multiValueHeaders": {},
            "queryStringParameters": query,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
            "pathParameters": params,
            "stageVariables": None,
            "requestContext": {
                "requestId": request_id,
                "stage": "Prod",
                "path": f"/Prod{path}",
                "httpMethod": method,
                "resourcePath": resource,
                "accountId": "123456789012",
                "identity": {"sourceIp": "127.0.0.1"},
                **({"authorizer": authorizer} if authorizer is not None else {}),
            },
            "body": None if body is None else json.dumps(body),
            "isBase64Encoded": False,
        }
        result = load_handler(function)(event, Context())
        text = result["body"]
        return Answer(result["statusCode"], json.loads(text) if text else None)

    @contextlib.contextmanager
    def meta_client(
        self, *, base_url: str | None = None, batch_size: int = 1000, concurrency: int = 4
    ) -> Iterator[None]:
        """While active, the functions send with a client of this shape (to another emulator)."""
        from capi_writeback.flow import Services, default_services, set_default_services
        from capi_writeback.meta.client import MetaClient
        from capi_writeback.meta.config import MetaClientConfig
        from capi_writeback.meta.credentials import SecretsManagerCredentials

        before = default_services()
        credentials = SecretsManagerCredentials()

        def factory(api_version: str | None) -> MetaClient:
            config = MetaClientConfig.from_env(
                max_attempts=2, max_total_seconds=5.0, batch_size=batch_size, concurrency=concurrency
            )
            if base_url:
                config = dataclasses.replace(config, base_url=base_url)
            return MetaClient(config, credentials, sleep=lambda _s: None)

        set_default_services(Services(meta_factory=factory))
        try:
            yield
        finally:
            set_default_services(before)

    def live_events(self, test: bool = False) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.meta.received_events(PIXEL_ID, test=test)
        return events


_ROUTES = [
    ("POST", "/v1/profiles/{profile_id}/syncs", "syncs"),
    ("GET", "/v1/profiles/{profile_id}/syncs", "syncs"),
    ("GET", "/v1/profiles/{profile_id}/syncs/{sync_id}", "syncs"),
    ("PATCH", "/v1/profiles/{profile_id}/syncs/{sync_id}", "syncs"),
    ("DELETE", "/v1/profiles/{profile_id}/syncs/{sync_id}", "syncs"),
    ("POST", "/v1/profiles/{profile_id}/syncs/{sync_id}/runs", "sync_runs"),
    ("GET", "/v1/profiles/{profile_id}/syncs/{sync_id}/runs", "sync_runs"),
    ("GET", "/v1/profiles/{profile_id}/syncs/{sync_id}/runs/{run_id}", "sync_runs"),
    ("GET", "/v1/profiles/{profile_id}/syncs/{sync_id}/runs/{run_id}/rows", "sync_runs"),
]


def _route(method: str, path: str) -> tuple[str, str, dict[str, str]]:
    parts = path.strip("/").split("/")
    for verb, resource, function in _ROUTES:
        template = resource.strip("/").split("/")
        if verb == method and len(template) == len(parts):
            params = {t[1:-1]: p for t, p in zip(template, parts, strict=True) if t.startswith("{")}
            if all(t == p or t.startswith("{") for t, p in zip(template, parts, strict=True)):
                return function, resource, params
    raise AssertionError(f"no route {method} {path}")


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    from aws_lambda_powertools.utilities import parameters
    from capi_writeback import store
    from capi_writeback.flow import Services, set_default_services
    from capi_writeback.flow.syncs.services import set_default_sync_services
    from capi_writeback.meta.client import MetaClient
    from capi_writeback.meta.config import MetaClientConfig
    from capi_writeback.meta.credentials import SecretsManagerCredentials
    from capi_writeback.syncs import aws
    from capi_writeback_local.meta_emulator import MetaEmulator
    from capi_writeback_local.stack import create_tables
    from capi_writeback_local.sync_stack import EXECUTE, create_sync_resources
    from capi_writeback_local.workflow import InProcessLambdas

    saved = dict(os.environ)
    with (
        mock_aws(config=EXECUTE),
        MetaEmulator(tokens=(META_TOKEN,), pixel_ids=(PIXEL_ID,)) as meta,
        InProcessLambdas() as lambdas,
    ):
        os.environ.pop("AWS_ENDPOINT_URL", None)
        os.environ.update({"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"})
        store.reset_client()
        aws.reset()
        parameters.clear_caches()
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        tables = create_tables(dynamodb)
        s3 = boto3.client("s3", region_name="us-east-1")
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        scheduler = boto3.client("scheduler", region_name="us-east-1")
        sync_env = create_sync_resources(s3, scheduler, sfn, transform=fast)
        os.environ.update({**tables, **sync_env, "META_BASE_URL": meta.url, "META_READ_TIMEOUT": "5"})
        credentials = SecretsManagerCredentials()

        def meta_factory(api_version: str | None) -> MetaClient:
            # Two attempts and no sleeping: a fault that outlasts them is a failed batch.
            return MetaClient(
                MetaClientConfig.from_env(max_attempts=2, max_total_seconds=5.0),
                credentials,
                sleep=lambda _s: None,
            )

        set_default_services(Services(meta_factory=meta_factory))
        set_default_sync_services(None)
        try:
            yield World(
                dynamodb,
                s3,
                sfn,
                scheduler,
                boto3.client("secretsmanager", region_name="us-east-1"),
                tables,
                sync_env,
                meta,
                lambdas,
            )
        finally:
            set_default_services(None)
            set_default_sync_services(None)
            store.reset_client()
            aws.reset()
            os.environ.clear()
            os.environ.update(saved)
