"""Starting a run: one execution of the sync state machine (SYNC_STATE_MACHINE_ARN), named after
the run, so a start retried with the same run id cannot start a second execution."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Protocol

from capi_writeback.syncs import aws


class RunStarter(Protocol):
    def start(self, run_id: str, run_input: Mapping[str, Any]) -> str:
        """Start the run; the execution's ARN (or another handle)."""


class StepFunctionsStarter:
    """RunStarter on Step Functions."""

    def __init__(self, client: Any = None, state_machine_arn: str | None = None) -> None:
        self._client = client
        self._arn = state_machine_arn

    def start(self, run_id: str, run_input: Mapping[str, Any]) -> str:
        arn = self._arn or os.environ.get("SYNC_STATE_MACHINE_ARN")
        if not arn:
            raise RuntimeError("environment variable SYNC_STATE_MACHINE_ARN is not set")
        client = self._client if self._client is not None else aws.client("stepfunctions")
        response = client.start_execution(stateMachineArn=arn, name=run_id, input=json.dumps(dict(run_input)))
        return str(response["executionArn"])
