"""Sync state machine task: register a run, check it may go, list its work items (Plan / List)."""

from capi_writeback.api.tasks import Task, make_task_handler
from capi_writeback.contracts.syncs import PlanTask
from capi_writeback.flow.syncs.plan import plan

lambda_handler = make_task_handler(Task(PlanTask, lambda payload, _deadline: plan(payload)))
