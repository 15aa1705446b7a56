"""The workspace routes (SPEC §11.1): read it, change its settings and members, read its trail."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from capi_writeback.api.routes.operation import COMMON, OperationRouter, responses
from capi_writeback.contracts.admin import (
    USER_ID_MAX_LENGTH,
    USER_ID_PATTERN,
    MemberChange,
    MemberPut,
    Workspace,
    WorkspaceSettings,
    WorkspaceSettingsPatch,
)
from capi_writeback.contracts.writeback import AuditPage
from capi_writeback.flow.admin import members, workspace
from capi_writeback.flow.audit import MAX_AUDIT_PAGE

GET = OperationRouter("get_workspace")
SETTINGS = OperationRouter("workspace_settings")
MEMBER_PUT = OperationRouter("member_put")
MEMBER_REMOVE = OperationRouter("member_remove")
AUDIT = OperationRouter("workspace_audit")
ROUTERS = (GET, SETTINGS, MEMBER_PUT, MEMBER_REMOVE, AUDIT)
WORKSPACE = ""  # workspace routes name no profile: the flow audits them in the workspace's trail

UserId = Annotated[str, Path(min_length=1, max_length=USER_ID_MAX_LENGTH, pattern=USER_ID_PATTERN,
                             description="An opaque user id (no e-mail addresses).")]


@GET.get("/v1/workspace", summary="The workspace: settings, you, and its members (owners and admins)",
         tags=["admin"], responses=responses(Workspace, 401, 403, 422, 500))
def get_workspace() -> Workspace:
    return Workspace.model_validate(workspace.get_workspace(GET.call(WORKSPACE)))


@SETTINGS.patch("/v1/workspace/settings", summary="Turn write-back on or off, rename (owners and admins)",
                tags=["admin"], responses=responses(WorkspaceSettings, 401, 403, 422, 500))
def patch_settings(request: Annotated[WorkspaceSettingsPatch, Body()]) -> WorkspaceSettings:
    return WorkspaceSettings.model_validate(workspace.update_settings(SETTINGS.call(WORKSPACE), request))


@MEMBER_PUT.put("/v1/workspace/members/<user_id>", summary="Add a member or change their role",
                tags=["admin"], responses=responses(MemberChange, *COMMON))
def put_member(user_id: UserId, request: Annotated[MemberPut, Body()]) -> MemberChange:
    return MemberChange.model_validate(members.put_member(MEMBER_PUT.call(WORKSPACE), user_id, request))


@MEMBER_REMOVE.delete("/v1/workspace/members/<user_id>", summary="Remove a member (and revoke their tokens)",
                      tags=["admin"], responses=responses(MemberChange, *COMMON))
def remove_member(user_id: UserId) -> MemberChange:
    return MemberChange.model_validate(members.remove_member(MEMBER_REMOVE.call(WORKSPACE), user_id))


Cursor = Annotated[str | None, Query(alias="next", max_length=2048,
                                    description="The `next` of the previous page.")]


@AUDIT.get("/v1/workspace/audit",
           summary="The workspace's own trail: settings, members, tokens, new profiles",
           tags=["admin"], responses=responses(AuditPage, 401, 403, 422, 500))
def workspace_audit(limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_PAGE)] = 25,
                    cursor: Cursor = None) -> AuditPage:
    return AuditPage.model_validate(workspace.workspace_audit(AUDIT.call(WORKSPACE), limit, cursor))
