"""Warehouse syncs (SPEC §10): sync definitions, runs, and the payloads of the sync state machine's
tasks (Plan, the Distributed Map's child, Finish).

The models check the shape; what needs the profile or AWS (mapping targets and required keys,
schedule expressions, whether the source can be read) is checked by the flow on save, which names
every problem at once (`flow/syncs/definitions.py`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictFloat, StrictInt, StrictStr, model_validator

from capi_writeback.contracts.common import Model, Strict

SYNC_ID_PATTERN = r"^sync_[0-9a-f]{20}$"
RUN_ID_PATTERN = r"^run_[0-9]{8}T[0-9]{6}Z_[0-9a-f]{8}$"
TEST_EVENT_CODE_PATTERN = r"^[A-Za-z0-9_-]+$"
S3_URI = Annotated[str, Field(min_length=6, max_length=1024, pattern=r"^s3://[^/\s]+/\S*$",
                              description="s3://<bucket>/<prefix>")]
Mode = Literal["dry_run", "live"]
RunStatus = Literal["running", "succeeded", "partially_failed", "failed", "paused", "refused"]


class S3Source(Strict):
    """The model's export: CSV or JSON Lines files (gzip or not) under an S3 prefix."""

    type: Literal["s3"]
    uri: S3_URI
    format: Literal["csv", "jsonl"]


class AthenaSource(Strict):
    """An Athena query run first; its CSV result (under `output`) is the export."""

    type: Literal["athena"]
    query: str = Field(min_length=1, max_length=100_000)
    workgroup: str = Field(default="primary", min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")
    output: S3_URI


Source = Annotated[S3Source | AthenaSource, Field(discriminator="type")]


class ColumnSource(Strict):
    column: str = Field(min_length=1, max_length=256)


ConstantValue = (Annotated[StrictStr, Field(min_length=1, max_length=1024)] | StrictInt
                 | Annotated[StrictFloat, Field(allow_inf_nan=False)])


class ConstantSource(Strict):
    value: ConstantValue = Field(description="The same value for every row.")


Target = ColumnSource | ConstantSource
Mapping_ = Annotated[dict[Annotated[str, Field(min_length=1, max_length=64)], Target],
                     Field(min_length=1, max_length=80)]


class SyncCreate(Strict):
    """Body of POST /v1/profiles/{profile_id}/syncs. A new sync starts in dry_run."""

    name: str = Field(min_length=1, max_length=128)
    source: Source
    mapping: Mapping_ = Field(description="Row key (SPEC §4, or its CAPI name) -> {column} or {value}.")
    primary_key: str = Field(min_length=1, max_length=256,
                             description="The column that identifies a row (it becomes conversion_id).")
    schedule: str | None = Field(default=None, max_length=256,
                                 description="rate(15 minutes), cron(0/30 * * * ? *), or none.")
    mode: Literal["dry_run"] = Field(default="dry_run", description="Syncs start in dry_run; an owner or "
                                                                    "admin switches them to live.")
    test_event_code: str | None = Field(default=None, min_length=1, max_length=64,
                                        pattern=TEST_EVENT_CODE_PATTERN)
    enabled: bool = True


class SyncUpdate(Strict):
    """Body of PATCH .../syncs/{sync_id}: the fields to change (`schedule: null` removes it)."""

    name: str | None = Field(default=None, min_length=1, max_length=128)
    source: Source | None = None
    mapping: Mapping_ | None = None
    primary_key: str | None = Field(default=None, min_length=1, max_length=256)
    schedule: str | None = Field(default=None, max_length=256)
    mode: Mode | None = None
    test_event_code: str | None = Field(default=None, min_length=1, max_length=64,
                                        pattern=TEST_EVENT_CODE_PATTERN)
    enabled: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> SyncUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        for name in ("name", "source", "mapping", "primary_key", "mode", "enabled"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class RunSummary(Model):
    """The latest finished run of a sync, as its definition keeps it."""

    run_id: str
    status: str
    mode: Mode | None = None
    started_at: str | None = None
    finished_at: str | None = None
    events_sent: int = 0


class SyncOut(Model):
    sync_id: str
    profile_id: str
    name: str
    source: dict[str, Any]
    mapping: dict[str, dict[str, Any]]
    primary_key: str
    schedule: str | None = None
    schedule_arn: str | None = None
    mode: Mode
    test_event_code: str | None = None
    enabled: bool
    version: int
    created_at: str
    updated_at: str
    created_by: str
    updated_by: str
    running_run: str | None = Field(default=None, description="The run in progress, if any.")
    last_run: RunSummary | None = Field(default=None, description="The latest finished run, if any.")
    request_id: str | None = None


class SyncList(Model):
    items: list[SyncOut]


class SyncDeleted(Model):
    sync_id: str
    deleted: Literal[True] = True
    request_id: str | None = None


class RunStarted(Model):
    """202 answer of POST .../runs: the run goes on in the sync state machine."""

    run_id: str
    sync_id: str
    status: Literal["running"] = "running"
    mode: Mode
    started_at: str
    request_id: str | None = None


class RunItems(Model):
    total: int = 0
    done: int = 0
    failed: int = 0
    paused: int = 0
    cut_short: int = 0


class RunReport(Model):
    """SPEC §10's run report, plus what explains it (items, warnings, error, paused_reason)."""

    run_id: str
    sync_id: str
    status: RunStatus
    mode: Mode
    trigger: Literal["schedule", "api"]
    rows_read: int = 0
    rows_new: int = 0
    events_sent: int = 0
    events_received: int = 0
    skipped: dict[str, int] = Field(default_factory=dict)
    rejected: int = 0
    failed: int = 0
    match_quality: dict[str, int] = Field(default_factory=dict)
    started_at: str
    finished_at: str | None = None
    test_event_code: str | None = None
    items: RunItems = Field(default_factory=RunItems)
    warnings: list[str] = Field(default_factory=list)
    error: dict[str, Any] | None = None
    paused_reason: str | None = None


class RunPage(Model):
    items: list[RunReport]
    next: str | None = None


class RowOutcome(Model):
    item: int
    object: str | None = None
    row: int
    conversion_id: str | None = None
    outcome: Literal["sent", "skipped", "rejected", "failed"]
    reason: str | None = None
    message: str | None = None


class RowPage(Model):
    items: list[RowOutcome]
    next: str | None = None


# ---- the sync state machine's tasks (statemachines/sync.asl.json) -----------------------------

class Task(Model):
    """A task payload: the state of the execution, which carries more than each task reads."""

    model_config = ConfigDict(extra="ignore", defer_build=True)


class PlanTask(Task):
    """Plan (and List, after an Athena query): register the run, check it may go, list the work."""

    action: Literal["plan", "list"] = "plan"
    sync_id: str = Field(pattern=SYNC_ID_PATTERN)
    profile_id: str = Field(min_length=1, max_length=128)
    run_id: str | None = Field(default=None, pattern=RUN_ID_PATTERN,
                               description="Given by the run API; a scheduled run's is derived.")
    execution: str = Field(min_length=1, max_length=80, description="$$.Execution.Name")
    started: str = Field(min_length=1, max_length=40, description="$$.Execution.StartTime")
    trigger: Literal["schedule", "api"] = "schedule"
    actor: str | None = Field(default=None, max_length=128)
    athena_output: str | None = Field(default=None, max_length=1024)


class WorkItem(Strict):
    """One element of the run's manifest: an object, or a byte range of a large one."""

    item: int = Field(ge=0)
    bucket: str = Field(min_length=3, max_length=63)
    key: str = Field(min_length=1, max_length=1024)
    etag: str = Field(default="", max_length=256)
    size: int = Field(ge=0)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    part: int = Field(ge=0)
    parts: int = Field(ge=1)
    format: Literal["csv", "jsonl"]


class RunRef(Strict):
    run_id: str = Field(pattern=RUN_ID_PATTERN)
    sync_id: str = Field(pattern=SYNC_ID_PATTERN)
    profile_id: str = Field(min_length=1, max_length=128)


class ChildTask(Task):
    """What the Distributed Map hands each child: `ItemSelector` {item: the manifest entry, run}."""

    item: WorkItem
    run: RunRef


class FinishTask(Task):
    """The execution's state when it reaches Finish (whichever way it came)."""

    sync_id: str = Field(pattern=SYNC_ID_PATTERN)
    profile_id: str = Field(min_length=1, max_length=128)
    run_id: str | None = Field(default=None, pattern=RUN_ID_PATTERN)
    execution: str = Field(min_length=1, max_length=80)
    started: str = Field(min_length=1, max_length=40)
    plan: dict[str, Any] | None = None
    query_state: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
