"""The confirm workflow executing under moto: the shipped ASL, the handlers in-process, the Meta
emulator on 127.0.0.1. One world per module; each test seeds its own tenant (unique profile), so
breaker windows and idempotency records never leak between tests.

Only the Retry intervals are shortened (to 1 s) so retried states do not make the suite slow; every
state, transition, error name and catcher is the shipped definition's.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

PIXEL_ID = "1234567890"
META_TOKEN = "meta-token-for-workflows"
_ids = itertools.count(1)
_runs = itertools.count(1)


def fast_retries(definition: str) -> str:
    """The same definition with every Retry interval at 1 s."""
    data = json.loads(definition)
    for state in data["States"].values():
        for retrier in state.get("Retry", []):
            retrier["IntervalSeconds"] = 1
    return json.dumps(data)


def rows(n: int, *, weak: bool = False, prefix: str = "c") -> list[dict[str, Any]]:
    """n sendable conversion rows from the last hour (weak: email only, no IP/user agent)."""
    now = int(time.time())
    out = []
    for i in range(n):
        row: dict[str, Any] = {"conversion_id": f"{prefix}{i}", "outcome_type": "payment_received",
                               "occurred_at": now - 3600 - i, "email": f"buyer.{i}@example.com",
                               "value": 10 + i, "currency": "USD"}
        if not weak:
            row.update({"phone": f"+1 415 555 {i % 10000:04d}", "client_ip_address": "203.0.113.9",
                        "client_user_agent": "Mozilla/5.0"})
        out.append(row)
    return out


@dataclass
class World:
    sfn: Any
    sqs: Any
    queue_url: str
    machine_arn: str
    meta: Any
    lambdas: Any
    dynamodb: Any
    secrets: Any
    tables: dict[str, str]

    def tenant(self) -> Any:
        from capi_writeback_local.stack import seed_demo

        n = next(_ids)
        return seed_demo(self.dynamodb, self.secrets, self.tables, pixel_id=PIXEL_ID, meta_token=META_TOKEN,
                         workspace_id=f"ws_sf{n}", user_id=f"user_sf{n}", profile_id=f"prof_sf{n}")

    def start(self, payload: dict[str, Any]) -> str:
        """Start an execution (always named: unnamed moto runs collide)."""
        response = self.sfn.start_execution(stateMachineArn=self.machine_arn, name=f"run-{next(_runs)}",
                                            input=json.dumps(payload))
        return str(response["executionArn"])

    def wait(self, execution_arn: str, timeout: float = 45.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described: dict[str, Any] = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.05)
        raise AssertionError(f"execution still running after {timeout} s")

    def run(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self.wait(self.start(payload))

    def approval_message(self, timeout: float = 30.0) -> tuple[dict[str, Any], str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=0)
            for message in got.get("Messages", []):
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                return json.loads(message["Body"]), message["ReceiptHandle"]
            time.sleep(0.05)
        raise AssertionError("no approval request arrived")

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.sfn.get_execution_history(
            executionArn=execution_arn, maxResults=1000)["events"]
        return events

    def live_events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.meta.received_events(PIXEL_ID)
        return events


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    from aws_lambda_powertools.utilities import parameters
    from capi_writeback import store
    from capi_writeback.flow import Services, set_default_services
    from capi_writeback.meta.client import MetaClient
    from capi_writeback.meta.config import MetaClientConfig
    from capi_writeback.meta.credentials import SecretsManagerCredentials
    from capi_writeback_local.meta_emulator import MetaEmulator
    from capi_writeback_local.stack import create_tables
    from capi_writeback_local.workflow import InProcessLambdas, definition

    saved = dict(os.environ)
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    with mock_aws(config=config), MetaEmulator(tokens=(META_TOKEN,), pixel_ids=(PIXEL_ID,)) as meta, \
            InProcessLambdas() as lambdas:
        os.environ.pop("AWS_ENDPOINT_URL", None)
        store.reset_client()
        parameters.clear_caches()
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        tables = create_tables(dynamodb)
        os.environ.update(tables)
        os.environ.update({"META_BASE_URL": meta.url, "META_READ_TIMEOUT": "5"})
        credentials = SecretsManagerCredentials()

        def meta_factory(api_version: str | None) -> MetaClient:
            # Two attempts and no sleeping: a fault that outlasts them reaches the state machine.
            return MetaClient(MetaClientConfig.from_env(max_attempts=2, max_total_seconds=5.0),
                              credentials, sleep=lambda _s: None)

        set_default_services(Services(meta_factory=meta_factory))
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName="capi-writeback-approvals")["QueueUrl"]
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine_arn = sfn.create_state_machine(
            name="capi-writeback-confirm", definition=fast_retries(definition(queue_url)),
            roleArn="arn:aws:iam::123456789012:role/capi-writeback-confirm-workflow",
        )["stateMachineArn"]
        try:
            yield World(sfn, sqs, queue_url, machine_arn, meta, lambdas, dynamodb,
                        boto3.client("secretsmanager", region_name="us-east-1"), tables)
        finally:
            set_default_services(None)
            store.reset_client()
            os.environ.clear()
            os.environ.update(saved)
