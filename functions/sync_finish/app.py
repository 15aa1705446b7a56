"""Sync state machine task: the run's report, audit row, breaker feed and metric (Finish)."""

from capi_writeback.api.tasks import Task, make_task_handler
from capi_writeback.contracts.syncs import FinishTask
from capi_writeback.flow.syncs.finish import finish

lambda_handler = make_task_handler(Task(FinishTask, lambda payload, _deadline: finish(payload)))
