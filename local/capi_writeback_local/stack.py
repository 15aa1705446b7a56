"""The embedded AWS stack: DynamoDB tables and secrets emulated by moto, built from template.yaml.

`create_tables` creates tables from the template's own `AWS::DynamoDB::Table` properties, so the
tables the tests and the demo use are exactly the ones `sam deploy` creates (keys, GSI, TTL). The
environment variable that carries each table name is read from the template's Globals too.
`EmbeddedStack` runs moto as a threaded HTTP server on 127.0.0.1 and points boto3 at it through
AWS_ENDPOINT_URL, so the handlers run unchanged, in-process or in a dev server. It also holds the
warehouse syncs' buckets, schedule group and state machine (`sync_stack`), whose executions moto
runs with the functions in this process.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from capi_writeback_local import moto_index
from capi_writeback_local.cfn_template import DEFAULT_TEMPLATE, load_template, resources_of_type
from capi_writeback_local.moto_atomic import serialize_moto_dynamodb

TABLE_TYPE = "AWS::DynamoDB::Table"
DEFAULT_PREFIX = "capi-writeback-"
SECRET_PREFIX = "capi-writeback/connections/"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
}


def table_env_vars(template: Mapping[str, Any]) -> dict[str, str]:
    """Environment variable -> table logical id, from Globals.Function.Environment (`!Ref <Table>`)."""
    tables = resources_of_type(dict(template), TABLE_TYPE)
    variables = (
        ((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}
    ).get("Variables") or {}
    found: dict[str, str] = {}
    for env_var, value in variables.items():
        if isinstance(value, dict) and value.get("Ref") in tables:
            found[env_var] = value["Ref"]
    return found


def default_table_name(logical_id: str, prefix: str = DEFAULT_PREFIX) -> str:
    """'AuditTable' -> 'capi-writeback-audit' (local names; CloudFormation names deployed ones)."""
    base = logical_id.removesuffix("Table")
    return prefix + re.sub(r"(?<!^)(?=[A-Z])", "-", base).lower()


def table_env(template_path: str | Path = DEFAULT_TEMPLATE, prefix: str = DEFAULT_PREFIX) -> dict[str, str]:
    """Environment variable -> local table name, e.g. {"AUDIT_TABLE": "capi-writeback-audit", ...}."""
    env = table_env_vars(load_template(template_path))
    return {env_var: default_table_name(logical_id, prefix) for env_var, logical_id in env.items()}


def _sse(spec: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation SSESpecification -> the CreateTable API's spelling."""
    out: dict[str, Any] = {"Enabled": bool(spec.get("SSEEnabled", False))}
    if "SSEType" in spec:
        out["SSEType"] = spec["SSEType"]
    if "KMSMasterKeyId" in spec:
        out["KMSMasterKeyId"] = spec["KMSMasterKeyId"]
    return out


def create_table_request(name: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    """The CreateTable request for one template table (TTL and PITR are separate calls)."""
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PROVISIONED"),
    }
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = properties["ProvisionedThroughput"]
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification",
                "DeletionProtectionEnabled"):
        if key in properties:
            request[key] = properties[key]
    if "SSESpecification" in properties:
        request["SSESpecification"] = _sse(properties["SSESpecification"])
    return request


def create_tables(
    dynamodb_client: Any,
    template_path: str | Path = DEFAULT_TEMPLATE,
    names: Mapping[str, str] | None = None,
    *,
    missing_only: bool = False,
) -> dict[str, str]:
    """Create every table of the template; return {env var: table name} for the code to use.

    `names` maps logical id -> table name (default `default_table_name`). TTL and point-in-time
    recovery are applied as the template declares them; deletion protection is part of CreateTable.
    `missing_only`: leave the tables that exist as they are (a stack restored from its state).
    """
    template = load_template(template_path)
    tables = resources_of_type(template, TABLE_TYPE)
    chosen = {lid: (names or {}).get(lid) or default_table_name(lid) for lid in tables}
    existing: set[str] = set()
    if missing_only:
        for page in dynamodb_client.get_paginator("list_tables").paginate():
            existing.update(page.get("TableNames", []))
    for logical_id, resource in tables.items():
        properties = resource.get("Properties") or {}
        name = chosen[logical_id]
        if name in existing:
            continue
        dynamodb_client.create_table(**create_table_request(name, properties))
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb_client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        pitr = properties.get("PointInTimeRecoverySpecification")
        if pitr and pitr.get("PointInTimeRecoveryEnabled"):
            dynamodb_client.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
    return {env_var: chosen[lid] for env_var, lid in table_env_vars(template).items()}


@dataclass(frozen=True)
class DemoSeed:
    """What `seed_demo` created. `api_token` (the owner's, mcp:read + mcp:write + admin) and `read_token` (a
    member's, mcp:read only) are the only copies of the raw tokens (stored hashed)."""

    api_token: str
    workspace_id: str
    user_id: str
    profile_id: str
    pixel_id: str
    secret_id: str
    read_token: str = ""

    def __repr__(self) -> str:
        return (f"DemoSeed(api_token='***', read_token='***', workspace_id={self.workspace_id!r}, "
                f"user_id={self.user_id!r}, profile_id={self.profile_id!r}, pixel_id={self.pixel_id!r}, "
                f"secret_id={self.secret_id!r})")


class EnvPatch:
    """Environment variables set for a while, then put back exactly as they were (unset or old value)."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def set(self, values: Mapping[str, str]) -> None:
        for key, value in values.items():
            self._saved.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def restore(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved = {}


def forget_layer_state() -> None:
    """The layer keeps one AWS client, the default services and cached Meta secrets per process
    (as a warm Lambda does); when the AWS they point at changes, they must be built again."""
    from aws_lambda_powertools.utilities import parameters
    from capi_writeback import store
    from capi_writeback.flow import set_default_services

    from capi_writeback_local.sync_stack import forget_sync_state

    store.reset_client()
    set_default_services(None)
    forget_sync_state()
    parameters.clear_caches()


class MotoServer:
    """moto's WSGI app (wrapped by `wrap`, e.g. the --state journal) served on 127.0.0.1 by a
    threaded werkzeug server, as moto's own ThreadedMotoServer does."""

    def __init__(self, port: int = 0, wrap: Callable[[Any], Any] | None = None) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # it logs every AWS request
        moto_app = DomainDispatcherApplication(create_backend_app)
        self.app = wrap(moto_app) if wrap is not None else moto_app
        self._server = make_server("127.0.0.1", port, self.app, threaded=True,
                                   request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="embedded-aws", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()


class EmbeddedStack:
    """moto on 127.0.0.1 with the template's tables, as a context manager.

    While active, AWS_ENDPOINT_URL, fake credentials, the region and every table env var point at
    it; leaving restores the previous environment and stops the server. moto keeps its state per
    process, so run one stack (and no `mock_aws` block) at a time in a process; starting one empties
    the emulated AWS.

    Without `state_dir` the emulated AWS lives in memory and is gone when the stack stops. With it,
    every change is journaled write-through to that directory and replayed when a stack starts on it
    again (state.py), a crash included; the confirms that were running when the last process died
    have their leases ended at start, so their keys can be retried at once, and the sync runs that
    were running are ended as failed (their executions died with the process).
    """

    def __init__(
        self,
        template_path: str | Path = DEFAULT_TEMPLATE,
        region: str = "us-east-1",
        port: int = 0,
        state_dir: str | Path | None = None,
    ) -> None:
        self.template_path = Path(template_path)
        self.region = region
        self.port = port
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.endpoint_url = ""
        self.env: dict[str, str] = {}
        self.tables: dict[str, str] = {}
        self.restored = 0  # journaled requests replayed at start
        self.sync_env: dict[str, str] = {}
        self._server: MotoServer | None = None
        self._journal: Any = None
        self._env = EnvPatch()
        self._moto_config: Any = None
        self._lambdas: Any = None

    def start(self) -> EmbeddedStack:
        """Start moto, set the environment, create the tables (replaying the state, if any)."""
        from capi_writeback_local.state import Journal, JournalingApp

        serialize_moto_dynamodb()  # DynamoDB's per-request atomicity, which the rails rely on
        moto_index.install()  # Query pages in O(log n), not a sort of the whole table per page
        if self.state_dir is not None:
            self._journal = Journal(self.state_dir).open()
        journal = self._journal
        try:
            self._server = MotoServer(self.port, wrap=(lambda app: JournalingApp(app, journal))
                                      if journal is not None else None)
            self._server.start()
            self.endpoint_url = self._server.url
            # moto's backends are process-wide: start from empty even if an earlier stack (or a
            # mock_aws block) left state behind. So: one embedded stack per process at a time.
            self._post("/moto-api/reset", b"")
            self._set_env({**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint_url,
                           "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region})
            if journal is not None:
                self.restored, refused = self._server.app.replay()
                if refused:
                    logging.getLogger(__name__).warning(
                        "%d journaled AWS requests were refused on replay: the state may be incomplete",
                        refused)
            self.tables = create_tables(self.client("dynamodb"), self.template_path,
                                        missing_only=self.restored > 0)
            self._set_env(self.tables)
            self._start_syncs(self._server.port)
            self.env = {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint_url,
                        "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region, **self.tables,
                        **self.sync_env}
            if self.restored:
                from capi_writeback_local.state import end_interrupted_runs, expire_dead_leases

                now = time.time()
                expire_dead_leases(self.client("dynamodb"), self.tables["IDEMPOTENCY_TABLE"], now)
                end_interrupted_runs(self.client("dynamodb"), self.tables, now)
            forget_layer_state()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_syncs(self, port: int) -> None:
        """Sync resources, and moto executing the sync state machine with in-process functions
        (its S3 ItemReader calls this server: MOTO_PORT)."""
        from unittest.mock import patch

        from moto.core.config import default_user_config

        from capi_writeback_local.sync_stack import EXECUTE, create_sync_resources
        from capi_writeback_local.workflow import InProcessLambdas

        if self._moto_config is None:
            self._moto_config = patch.dict(default_user_config, EXECUTE)
            self._moto_config.start()
            self._lambdas = InProcessLambdas(self.template_path).__enter__()
        self._set_env({"MOTO_PORT": str(port)})
        self.sync_env = create_sync_resources(self.client("s3"), self.client("scheduler"),
                                              self.client("stepfunctions"), region=self.region,
                                              template_path=self.template_path)
        self._set_env(self.sync_env)

    def stop(self) -> None:
        """Restore the environment and stop the server (safe to call twice)."""
        self._env.restore()
        forget_layer_state()
        if self._lambdas is not None:
            self._lambdas.__exit__(None, None, None)
            self._lambdas = None
        if self._moto_config is not None:
            self._moto_config.stop()
            self._moto_config = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def client(self, service: str) -> Any:
        """A boto3 client bound to this stack (explicit endpoint, so it never reaches real AWS)."""
        import boto3

        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint_url,
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            aws_session_token="testing")

    def reset(self) -> None:
        """Empty every moto backend (and the state, if any), then recreate the tables."""
        if self._journal is not None:
            self._journal.clear()
        self._post("/moto-api/reset", b"")
        self.tables = create_tables(self.client("dynamodb"), self.template_path)
        if self._server is not None:
            self._start_syncs(self._server.port)

    def _post(self, path: str, body: bytes) -> None:
        request = urllib.request.Request(self.endpoint_url + path, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def _set_env(self, values: Mapping[str, str]) -> None:
        self._env.set(values)

    def seed_demo(self, pixel_id: str = "1234567890", meta_token: str = "test-token",
                  **options: Any) -> DemoSeed:
        """Seed one ready-to-use workspace: write-back on, an owner, an mcp:write token, a profile
        with an active Meta connection, and the connection's secret (options: see `seed_demo`)."""
        return seed_demo(self.client("dynamodb"), self.client("secretsmanager"), self.tables,
                         pixel_id=pixel_id, meta_token=meta_token, **options)


def seed_demo(
    dynamodb_client: Any,
    secrets_client: Any,
    tables: Mapping[str, str],
    *,
    pixel_id: str,
    meta_token: str,
    workspace_id: str = "ws_demo",
    user_id: str = "user_demo",
    profile_id: str = "prof_demo",
    api_token: str | None = None,
    read_token: str | None = None,
    reader_id: str = "member_demo",
    role: str = "owner",
    test_event_code: str | None = "TEST12345",
    country: str | None = "US",
    currency: str | None = "USD",
    token_ttl_seconds: int = 30 * 86400,
    now: float | None = None,
) -> DemoSeed:
    """Write the demo workspace with plain boto3 clients (works under `mock_aws` too).

    The writes go through the layer's own directory store, so the item formats cannot drift from
    what the handlers read; the tokens are stored only as their sha256. Besides the owner's token, a
    member (`reader_id`) gets a token with only mcp:read (SPEC §7 `read_token`).
    """
    from capi_writeback.auth import token_hash
    from capi_writeback.store.directory.dynamodb import DynamoDirectoryStore

    now = time.time() if now is None else now
    api_token = api_token or "cwb_" + secrets.token_urlsafe(24)
    read_token = read_token or "cwb_" + secrets.token_urlsafe(24)
    secret_id = SECRET_PREFIX + profile_id
    directory = DynamoDirectoryStore(workspaces_table=tables["WORKSPACES_TABLE"],
                                     tokens_table=tables["TOKENS_TABLE"],
                                     profiles_table=tables["PROFILES_TABLE"], client=dynamodb_client)
    directory.put_workspace(workspace_id, name="Demo workspace", writeback_enabled=True)
    directory.put_member(workspace_id, user_id, role)
    directory.put_token(token_hash(api_token), workspace_id=workspace_id, user_id=user_id,
                        scopes=("admin", "mcp:read", "mcp:write"), expires_at=int(now) + token_ttl_seconds)
    directory.put_member(workspace_id, reader_id, "member")
    directory.put_token(token_hash(read_token), workspace_id=workspace_id, user_id=reader_id,
                        scopes=("mcp:read",), expires_at=int(now) + token_ttl_seconds)
    connection: dict[str, Any] = {"pixel_id": pixel_id, "secret_id": secret_id, "status": "active",
                                  "api_version": os.environ.get("META_API_VERSION", "v25.0")}
    if test_event_code:
        connection["test_event_code"] = test_event_code
    settings: dict[str, Any] = {"action_source": "system_generated", "event_mapping": {},
                                "column_mapping": {}}
    if country:
        settings["country"] = country
    if currency:
        settings["currency"] = currency
    directory.put_profile(profile_id, workspace_id=workspace_id, name="Demo profile",
                          settings=settings, connection=connection)
    secret_string = json.dumps({"access_token": meta_token})
    try:
        secrets_client.create_secret(Name=secret_id, SecretString=secret_string)
    except secrets_client.exceptions.ResourceExistsException:
        secrets_client.put_secret_value(SecretId=secret_id, SecretString=secret_string)
    return DemoSeed(api_token=api_token, workspace_id=workspace_id, user_id=user_id,
                    profile_id=profile_id, pixel_id=pixel_id, secret_id=secret_id, read_token=read_token)
