"""The boundary of the Lambda tasks of a state machine that are not HTTP routes (the sync run's
Plan, child and Finish).

A task function is `make_task_handler(Task(<payload model>, <flow function>))`: the payload is
validated by its model (VALIDATION_ERROR naming each field, no input echoed), the flow function gets
it with the invocation's deadline, and any exception is raised again as the SPEC error type, which
Lambda reports as the errorType (INTERNAL for the unexpected, whose details are only logged): the
state machine retries or catches by that name.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from capi_writeback import observability as obs
from capi_writeback.api.direct import direct_error
from capi_writeback.api.errors import validation_error
from capi_writeback.api.request import deadline_of
from capi_writeback.errors import to_api_error

LambdaHandler = Callable[[Any, Any], dict[str, Any]]


@dataclass(frozen=True)
class Task:
    """A task: its payload model and the flow function (payload, deadline) -> result."""

    payload: type[BaseModel]
    run: Callable[[Any, float | None], dict[str, Any]]


def make_task_handler(task: Task) -> LambdaHandler:
    def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
        from capi_writeback.flow.services import default_services

        request_id = str(getattr(context, "aws_request_id", None) or uuid.uuid4())
        obs.logger.set_correlation_id(request_id)
        try:
            try:
                payload = task.payload.model_validate(event)
            except ValidationError as exc:
                raise validation_error(exc.errors()) from None
            return task.run(payload, deadline_of(context, default_services().clock))
        except Exception as exc:
            error = to_api_error(exc)
            if error.type == "INTERNAL":
                obs.logger.exception("task failed", extra={"error_class": type(exc).__name__})
            else:
                obs.logger.info("task refused", extra={"error_type": error.type})
            raise direct_error(error, request_id) from None
        finally:
            obs.flush()

    return lambda_handler
