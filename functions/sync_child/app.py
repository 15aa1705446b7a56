"""Sync state machine task: one Distributed Map child, streaming its work item to Meta."""

from capi_writeback.api.tasks import Task, make_task_handler
from capi_writeback.contracts.syncs import ChildTask
from capi_writeback.flow.syncs.child import process_item

lambda_handler = make_task_handler(Task(ChildTask, process_item))
