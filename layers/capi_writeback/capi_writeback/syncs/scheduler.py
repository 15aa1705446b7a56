"""A sync's schedule on EventBridge Scheduler: one schedule per sync, in the stack's schedule group,
starting the sync state machine with the sync's ids (never a home-made timer).

`put(sync)` makes the schedule match the definition whatever exists now (created, updated, or
deleted when the sync has no schedule), so a save that failed halfway is repaired by saving again.
The schedule is DISABLED while the sync is disabled. Names come from the environment the template
sets: SYNC_SCHEDULE_GROUP, SYNC_STATE_MACHINE_ARN (the target), SYNC_SCHEDULER_ROLE_ARN (the role
Scheduler assumes to start executions; the function passes it, hence iam:PassRole on it alone).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from capi_writeback.syncs import aws

NAME_PREFIX = "cwb-sync-"


def schedule_name(sync_id: str) -> str:
    return NAME_PREFIX + sync_id


class Schedules:
    """Create, update and delete the schedules of syncs."""

    def __init__(self, client: Any = None, *, group: str | None = None, target_arn: str | None = None,
                 role_arn: str | None = None) -> None:
        self._client = client
        self._group = group
        self._target = target_arn
        self._role = role_arn

    @property
    def scheduler(self) -> Any:
        return self._client if self._client is not None else aws.client("scheduler")

    @property
    def group(self) -> str:
        return self._group or _env("SYNC_SCHEDULE_GROUP")

    def put(self, sync: Mapping[str, Any]) -> str | None:
        """Make the sync's schedule match `sync` (its `schedule`, `enabled`); its ARN, or None when
        the sync has no schedule."""
        name = schedule_name(str(sync["sync_id"]))
        expression = sync.get("schedule")
        if not expression:
            self.delete(str(sync["sync_id"]))
            return None
        request = {
            "Name": name, "GroupName": self.group, "ScheduleExpression": str(expression),
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED" if sync.get("enabled", True) else "DISABLED",
            "Description": f"capi-writeback sync {sync['sync_id']} of profile {sync['profile_id']}",
            "Target": {
                "Arn": self._target or _env("SYNC_STATE_MACHINE_ARN"),
                "RoleArn": self._role or _env("SYNC_SCHEDULER_ROLE_ARN"),
                "Input": json.dumps({"sync_id": sync["sync_id"], "profile_id": sync["profile_id"],
                                     "trigger": "schedule"}),
                # A start that fails is retried for 15 minutes; the next occurrence comes anyway.
                "RetryPolicy": {"MaximumEventAgeInSeconds": 900, "MaximumRetryAttempts": 3},
            },
        }
        try:
            return str(self.scheduler.update_schedule(**request)["ScheduleArn"])
        except Exception as exc:
            if aws.error_code(exc) != "ResourceNotFoundException":
                raise
        return str(self.scheduler.create_schedule(**request)["ScheduleArn"])

    def delete(self, sync_id: str) -> None:
        """Delete the sync's schedule if there is one."""
        try:
            self.scheduler.delete_schedule(Name=schedule_name(sync_id), GroupName=self.group)
        except Exception as exc:
            if aws.error_code(exc) != "ResourceNotFoundException":
                raise


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is not set")
    return value
