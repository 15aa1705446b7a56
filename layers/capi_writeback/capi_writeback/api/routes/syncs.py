"""The warehouse sync routes (SPEC §10): definitions (the `syncs` function) and runs (`sync_runs`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel

from capi_writeback.api.routes.operation import COMMON, OperationRouter, ProfileId, responses
from capi_writeback.contracts.syncs import (
    RUN_ID_PATTERN,
    SYNC_ID_PATTERN,
    RowPage,
    RunPage,
    RunReport,
    RunStarted,
    SyncCreate,
    SyncDeleted,
    SyncList,
    SyncOut,
    SyncUpdate,
)
from capi_writeback.flow.syncs import definitions, runs

CREATE = OperationRouter("sync_create", audited=True)
LIST = OperationRouter("list_syncs")
GET = OperationRouter("get_sync")
UPDATE = OperationRouter("sync_update", audited=True)
DELETE = OperationRouter("sync_delete", audited=True)
START_RUN = OperationRouter("sync_run", audited=True)
LIST_RUNS = OperationRouter("list_sync_runs")
GET_RUN = OperationRouter("get_sync_run")
RUN_ROWS = OperationRouter("list_sync_run_rows")

DEFINITIONS = (CREATE, LIST, GET, UPDATE, DELETE)
RUNS = (START_RUN, LIST_RUNS, GET_RUN, RUN_ROWS)

SyncId = Annotated[str, Path(pattern=SYNC_ID_PATTERN, max_length=25, description="The sync.")]
RunId = Annotated[str, Path(pattern=RUN_ID_PATTERN, max_length=40, description="The run.")]
_SYNCS = "/v1/profiles/<profile_id>/syncs"
_SYNC = _SYNCS + "/<sync_id>"
_RUNS = _SYNC + "/runs"
_RUN = _RUNS + "/<run_id>"
_TAGS = ["syncs"]


def _with_status(status: int, ok: type[BaseModel], *errors: int) -> dict[int, Any]:
    found = responses(ok, *errors)
    found[status] = {**found.pop(200), "description": {201: "Created", 202: "Accepted"}[status]}
    return found


def _answer(status: int, model: BaseModel) -> Response[Any]:
    return Response(status_code=status, content_type="application/json", body=model)


@CREATE.post(_SYNCS, summary="Create a sync (starts in dry_run; validated and scheduled on save)",
             tags=_TAGS, responses=_with_status(201, SyncOut, *COMMON))
def create_sync(profile_id: ProfileId, request: Annotated[SyncCreate, Body()]) -> Response[SyncOut]:
    return _answer(201, SyncOut.model_validate(definitions.create_sync(CREATE.call(profile_id), request)))


@LIST.get(_SYNCS, summary="The profile's syncs", tags=_TAGS, responses=responses(SyncList, *COMMON))
def list_syncs(profile_id: ProfileId) -> SyncList:
    return SyncList.model_validate(definitions.list_syncs(LIST.call(profile_id)))


@GET.get(_SYNC, summary="One sync", tags=_TAGS, responses=responses(SyncOut, *COMMON))
def get_sync(profile_id: ProfileId, sync_id: SyncId) -> SyncOut:
    return SyncOut.model_validate(definitions.get_sync(GET.call(profile_id), sync_id))


@UPDATE.patch(_SYNC, summary="Change a sync (to live: owners and admins only)", tags=_TAGS,
              responses=responses(SyncOut, *COMMON))
def update_sync(profile_id: ProfileId, sync_id: SyncId, request: Annotated[SyncUpdate, Body()]) -> SyncOut:
    return SyncOut.model_validate(definitions.update_sync(UPDATE.call(profile_id), sync_id, request))


@DELETE.delete(_SYNC, summary="Delete a sync and its schedule", tags=_TAGS,
               responses=responses(SyncDeleted, *COMMON))
def delete_sync(profile_id: ProfileId, sync_id: SyncId) -> SyncDeleted:
    return SyncDeleted.model_validate(definitions.delete_sync(DELETE.call(profile_id), sync_id))


@START_RUN.post(_RUNS, summary="Start a run now (202 + run_id; 409 while one is running)", tags=_TAGS,
                responses=_with_status(202, RunStarted, *COMMON))
def start_run(profile_id: ProfileId, sync_id: SyncId) -> Response[RunStarted]:
    return _answer(202, RunStarted.model_validate(runs.start_run(START_RUN.call(profile_id), sync_id)))


@LIST_RUNS.get(_RUNS, summary="The sync's runs, newest first", tags=_TAGS,
               responses=responses(RunPage, *COMMON))
def list_runs(profile_id: ProfileId, sync_id: SyncId,
              limit: Annotated[int, Query(ge=1, le=runs.MAX_RUNS_PAGE)] = 20,
              cursor: Annotated[str | None, Query(alias="next", max_length=2048,
                                                  description="The `next` of the previous page.")] = None,
              ) -> RunPage:
    return RunPage.model_validate(runs.list_runs(LIST_RUNS.call(profile_id), sync_id, limit, cursor))


@GET_RUN.get(_RUN, summary="A run's report (SPEC §10)", tags=_TAGS, responses=responses(RunReport, *COMMON))
def get_run(profile_id: ProfileId, sync_id: SyncId, run_id: RunId) -> RunReport:
    return RunReport.model_validate(runs.get_run(GET_RUN.call(profile_id), sync_id, run_id))


@RUN_ROWS.get(_RUN + "/rows", summary="A run's per-row outcomes (no raw PII)", tags=_TAGS,
              responses=responses(RowPage, *COMMON))
def run_rows(profile_id: ProfileId, sync_id: SyncId, run_id: RunId,
             outcome: Annotated[Literal["sent", "skipped", "rejected", "failed"] | None, Query()] = None,
             cursor: Annotated[str | None, Query(alias="next", max_length=2048,
                                                 description="The `next` of the previous page.")] = None,
             ) -> RowPage:
    return RowPage.model_validate(runs.run_rows(RUN_ROWS.call(profile_id), sync_id, run_id, cursor, outcome))
