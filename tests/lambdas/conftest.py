"""Handlers in-process: moto (tables from template.yaml) + the Meta emulator on 127.0.0.1.

moto and the emulator start once per test module; each test seeds its own workspace, user, token
and profile (unique ids), so tests do not see each other's rows and no reset is needed between them.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
PIXEL_ID = "1234567890"
META_TOKEN = "meta-secret-token-abc123"
_ids = itertools.count(1)


class FakeClock:
    """Starts at the real time (the emulator checks event times) and moves only when told."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class LambdaContext:
    aws_request_id: str
    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"


def load_handler(name: str) -> Callable[[Any, Any], Any]:
    """functions/<name>/app.py's lambda_handler (each app.py loaded under a unique module name)."""
    module_name = f"_cwb_function_{name}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    handler: Callable[[Any, Any], Any] = module.lambda_handler
    return handler


ROUTES = {
    "preview": ("POST", "/v1/profiles/{profile_id}/writeback/preview"),
    "dry_run": ("POST", "/v1/profiles/{profile_id}/writeback/dry-run"),
    "confirm": ("POST", "/v1/profiles/{profile_id}/writeback/confirm"),
    "conversions": ("POST", "/v1/profiles/{profile_id}/conversions"),
    "audit": ("GET", "/v1/profiles/{profile_id}/writeback/audit"),
    "breaker_reset": ("POST", "/v1/profiles/{profile_id}/writeback/breaker/reset"),
    "send_event": ("POST", "/v1/profiles/{profile_id}/events"),
}


def proxy_event(function: str, profile_id: str, body: Any = None, *, authorizer: dict[str, Any] | None,
                query: dict[str, str] | None = None, raw_body: str | None = None,
                headers: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway REST proxy event as API Gateway sends it after the TOKEN authorizer."""
    method, resource = ROUTES[function]
    path = resource.replace("{profile_id}", profile_id)
    request_id = f"req-{uuid.uuid4()}"
    if raw_body is None:
        raw_body = None if body is None else json.dumps(body)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"profile_id": profile_id},
        "stageVariables": None,
        "requestContext": {
            "requestId": request_id,
            "stage": "Prod",
            "path": f"/Prod{path}",
            "httpMethod": method,
            "resourcePath": resource,
            "accountId": "123456789012",
            "apiId": "abc123",
            "identity": {"sourceIp": "127.0.0.1"},
            **({"authorizer": authorizer} if authorizer is not None else {}),
        },
        "body": raw_body,
        "isBase64Encoded": False,
    }


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def error_type(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"]["type"])
        return None


@dataclass
class Tenant:
    """One seeded workspace + user + token + profile, and helpers to call the API as that user."""

    env: Any
    workspace_id: str
    user_id: str
    profile_id: str
    token: str
    scopes: str = "mcp:read mcp:write"

    @property
    def authorizer(self) -> dict[str, Any]:
        return {"workspace_id": self.workspace_id, "user_id": self.user_id, "scopes": self.scopes,
                "principalId": self.user_id}

    def call(self, function: str, body: Any = None, *, profile_id: str | None = None,
             authorizer: dict[str, Any] | bool | None = True, **kwargs: Any) -> Response:
        auth = self.authorizer if authorizer is True else (None if authorizer is False else authorizer)
        event = proxy_event(function, profile_id or self.profile_id, body, authorizer=auth, **kwargs)
        result = load_handler(function)(event, LambdaContext(aws_request_id=str(uuid.uuid4())))
        assert result["statusCode"] != 500 or json.loads(result["body"])["error"]["type"] == "INTERNAL"
        text = result["body"]
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        headers = dict(result.get("headers") or {})
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name] = ",".join(values)
        return Response(result["statusCode"], headers, parsed)

    def set_role(self, role: str) -> None:
        self.env.put("WORKSPACES_TABLE", {"workspace_id": self.workspace_id, "sk": f"MEMBER#{self.user_id}",
                                          "role": role})

    def set_writeback(self, enabled: bool) -> None:
        self.env.put("WORKSPACES_TABLE", {"workspace_id": self.workspace_id, "sk": "SETTINGS",
                                          "writeback_enabled": enabled, "name": "t"})

    def profile_item(self) -> dict[str, Any]:
        return self.env.get("PROFILES_TABLE", {"profile_id": self.profile_id})

    def set_connection(self, **changes: Any) -> None:
        item = self.profile_item()
        item["connection"] = {**item["connection"], **changes}
        for key in [k for k, v in item["connection"].items() if v is None]:
            del item["connection"][key]
        self.env.put("PROFILES_TABLE", item)


class Env:
    """The module's moto + emulator world."""

    def __init__(self, tables: dict[str, str], emulator: Any) -> None:
        import boto3

        self.tables = tables
        self.emulator = emulator
        self.dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        self.secrets = boto3.client("secretsmanager", region_name="us-east-1")
        self.clock = FakeClock()

    def put(self, env_var: str, item: dict[str, Any]) -> None:
        from boto3.dynamodb.types import TypeSerializer

        ser = TypeSerializer()
        self.dynamodb.put_item(TableName=self.tables[env_var],
                               Item={k: ser.serialize(v) for k, v in item.items()})

    def get(self, env_var: str, key: dict[str, Any]) -> dict[str, Any]:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        ser, de = TypeSerializer(), TypeDeserializer()
        item = self.dynamodb.get_item(TableName=self.tables[env_var],
                                      Key={k: ser.serialize(v) for k, v in key.items()})["Item"]
        return {k: _plain(de.deserialize(v)) for k, v in item.items()}

    def audit_rows(self, profile_id: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        de = TypeDeserializer()
        items = self.dynamodb.query(TableName=self.tables["AUDIT_TABLE"],
                                    KeyConditionExpression="profile_id = :p",
                                    ExpressionAttributeValues={":p": {"S": profile_id}})["Items"]
        return [{k: _plain(de.deserialize(v)) for k, v in item.items()} for item in items]

    def tenant(self, *, role: str = "owner", scopes: str = "mcp:read mcp:write",
               test_event_code: str | None = "TEST12345") -> Tenant:
        from capi_writeback_local.stack import seed_demo

        n = next(_ids)
        seed = seed_demo(self.dynamodb, self.secrets, self.tables, pixel_id=PIXEL_ID, meta_token=META_TOKEN,
                         workspace_id=f"ws_{n}", user_id=f"user_{n}", profile_id=f"prof_{n}", role=role,
                         test_event_code=test_event_code)
        return Tenant(self, seed.workspace_id, seed.user_id, seed.profile_id, seed.api_token, scopes)


def _plain(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == int(value) else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@pytest.fixture(scope="module")
def world() -> Iterator[Env]:
    import boto3
    from capi_writeback.flow import set_default_services
    from capi_writeback_local.meta_emulator import MetaEmulator
    from capi_writeback_local.stack import create_tables

    saved = {k: v for k, v in __import__("os").environ.items()}
    with mock_aws(), MetaEmulator(tokens=(META_TOKEN,), pixel_ids=(PIXEL_ID,)) as emulator:
        import os

        tables = create_tables(boto3.client("dynamodb", region_name="us-east-1"))
        os.environ.update(tables)
        os.environ["META_BASE_URL"] = emulator.url
        os.environ["META_READ_TIMEOUT"] = "10"
        os.environ["META_CONNECT_TIMEOUT"] = "3"
        env = Env(tables, emulator)
        try:
            yield env
        finally:
            set_default_services(None)
            os.environ.clear()
            os.environ.update(saved)


@pytest.fixture()
def env(world: Env) -> Iterator[Env]:
    """Fresh services per test (fake clock; a Meta client that never really sleeps between retries)."""
    from aws_lambda_powertools.utilities import parameters
    from capi_writeback.flow import Services, set_default_services
    from capi_writeback.meta.client import MetaClient
    from capi_writeback.meta.config import MetaClientConfig
    from capi_writeback.meta.credentials import SecretsManagerCredentials

    parameters.clear_caches()
    world.clock = FakeClock()
    world.emulator.reset()
    credentials = SecretsManagerCredentials()

    def meta_factory(api_version: str | None) -> MetaClient:
        config = MetaClientConfig.from_env(max_total_seconds=5.0)
        return MetaClient(config, credentials, sleep=lambda _s: None)

    set_default_services(Services(clock=world.clock, meta_factory=meta_factory))
    yield world
    set_default_services(None)


def conversion_rows(n: int, *, start: int = 0, now: float | None = None,
                    prefix: str = "c") -> list[dict[str, Any]]:
    """n valid conversion rows with raw PII (emails/phones distinct per row)."""
    now = time.time() if now is None else now
    rows = []
    for i in range(start, start + n):
        rows.append({
            "conversion_id": f"{prefix}{i}",
            "outcome_type": "payment_received" if i % 3 else "lead_created",
            "occurred_at": int(now) - 3600 - i,
            "email": f"Buyer.{i}@Example.com ",
            "phone": f"+1 (415) 555-{i % 10000:04d}",
            "first_name": "Ada",
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0",
            "value": 19.5 + i,
            "currency": "USD",
        })
    return rows
