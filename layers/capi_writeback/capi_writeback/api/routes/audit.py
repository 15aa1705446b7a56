"""The audit route: the trail of a profile, newest first, paginated (owners and admins)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from capi_writeback import flow
from capi_writeback.api.routes.operation import COMMON, OperationRouter, ProfileId, responses
from capi_writeback.contracts.writeback import AuditPage
from capi_writeback.flow.audit import MAX_AUDIT_PAGE

LIST = OperationRouter("list_audit")


@LIST.get("/v1/profiles/<profile_id>/writeback/audit",
          summary="Audit rows, newest first, paginated (owners and admins)",
          tags=["audit"], responses=responses(AuditPage, *COMMON))
def audit(profile_id: ProfileId,
          limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_PAGE)] = 25,
          cursor: Annotated[str | None, Query(alias="next", max_length=2048,
                                              description="The `next` of the previous page.")] = None,
          ) -> AuditPage:
    return AuditPage.model_validate(flow.list_audit(LIST.call(profile_id), limit, cursor))
