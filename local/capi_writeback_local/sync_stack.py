"""The warehouse syncs' AWS resources in the embedded stack (moto): the export and work buckets,
the schedule group, and the sync state machine from statemachines/sync.asl.json.

moto executes the shipped definition (`execute_state_machine`): the Distributed Map's JSON
ItemReader over the run's manifest in S3, its ItemSelector, child retries and ResultWriter, Athena's
`aws-sdk` tasks and the Wait loop; its Lambda tasks run the functions in this process
(`workflow.InProcessLambdas`), so a child gets exactly the payload Distributed Map sends. moto does
not fire EventBridge Scheduler schedules: locally, runs start on demand (POST .../runs).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from capi_writeback_local.cfn_template import DEFAULT_TEMPLATE, load_template, resources_of_type
from capi_writeback_local.workflow import ACCOUNT, SYNC_STATE_MACHINE, machine_definition

PREFIX = "capi-writeback-"
SCHEDULE_GROUP = PREFIX + "syncs"
STATE_MACHINE_NAME = PREFIX + "sync"
EXECUTE = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


def bucket_name(logical_id: str, prefix: str = PREFIX) -> str:
    """'SyncExportBucket' -> 'capi-writeback-sync-export' (local names)."""
    base = logical_id.removesuffix("Bucket")
    return prefix + re.sub(r"(?<!^)(?=[A-Z])", "-", base).lower()


def create_sync_resources(s3: Any, scheduler: Any, stepfunctions: Any, *, region: str = "us-east-1",
                          template_path: str | Path = DEFAULT_TEMPLATE,
                          transform: Any = None) -> dict[str, str]:
    """Create the buckets, the schedule group and the sync state machine (those a restored state
    has already are kept; the machine gets this template's definition); the environment the
    sync functions read (what template.yaml gives them). `transform(definition) -> definition` may
    shorten waits for tests."""
    # moto says on every execution that it ignores ToleratedFailurePercentage: known (docs/syncs.md).
    logging.getLogger("moto.stepfunctions.parser.asl.parse.preprocessor").setLevel(logging.ERROR)
    template = load_template(template_path)
    buckets = {lid: bucket_name(lid) for lid in resources_of_type(template, "AWS::S3::Bucket")}
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for name in buckets.values():
        if name in existing:  # restored by `serve --state`
            continue
        kwargs: dict[str, Any] = {"Bucket": name}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**kwargs)
    groups = {g["Name"] for g in scheduler.list_schedule_groups().get("ScheduleGroups", [])}
    if SCHEDULE_GROUP not in groups:
        scheduler.create_schedule_group(Name=SCHEDULE_GROUP)
    text = machine_definition(SYNC_STATE_MACHINE, {"SyncWorkBucket": buckets["SyncWorkBucket"]}, region,
                              ACCOUNT, template_path)
    definition = transform(text) if transform else text
    machines = {m["name"]: m["stateMachineArn"]
                for m in stepfunctions.list_state_machines().get("stateMachines", [])}
    if STATE_MACHINE_NAME in machines:  # restored: run this template's definition
        arn = machines[STATE_MACHINE_NAME]
        stepfunctions.update_state_machine(stateMachineArn=arn, definition=definition)
    else:
        arn = stepfunctions.create_state_machine(
            name=STATE_MACHINE_NAME, definition=definition,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}sync-workflow")["stateMachineArn"]
    return {"SYNC_EXPORT_BUCKET": buckets["SyncExportBucket"], "SYNC_WORK_BUCKET": buckets["SyncWorkBucket"],
            "SYNC_STATE_MACHINE_ARN": str(arn), "SYNC_SCHEDULE_GROUP": SCHEDULE_GROUP,
            "SYNC_SCHEDULER_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}sync-scheduler",
            "SYNC_ATHENA_WORKGROUP": "primary"}


def forget_sync_state() -> None:
    """The syncs' cached AWS clients and services (the endpoint they point at changed)."""
    from capi_writeback.flow.syncs.services import set_default_sync_services
    from capi_writeback.syncs import aws

    aws.reset()
    set_default_sync_services(None)
